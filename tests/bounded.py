"""Run a piece of hostile-input test code in a forked child with a memory cap and a generous timeout.

The cap makes "bounded memory" testable: a value built before it is measured dies with MemoryError in
the child instead of swapping the machine. The timeout only stops a hang (the test then fails); no
test asserts on how long anything took.
"""

from __future__ import annotations

import multiprocessing
import resource
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["HANG_GUARD_SECONDS", "MEMORY_CAP", "run_bounded"]

HANG_GUARD_SECONDS = 120.0
MEMORY_CAP = 3 * 1024**3  # address space of the child, bytes; the interpreter and the engine need well under 1 GB


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # reported to the parent, which fails the test with it
        conn.send(("raised", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        conn.close()


def run_bounded(fn: Callable[..., Any], *args: Any, seconds: float = HANG_GUARD_SECONDS) -> Any:
    """``fn(*args)`` in a forked child under MEMORY_CAP; its (picklable) result, or AssertionError."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child, fn, args), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(seconds):
            raise AssertionError(f"no answer within {seconds:.0f} s: the input hangs")
        status, value = parent.recv()
    except EOFError:
        raise AssertionError("the child died without an answer (out of memory?)") from None
    finally:
        process.kill()
        process.join()
        parent.close()
    if status != "ok":
        raise AssertionError(f"unexpected exception: {value}")
    return value
