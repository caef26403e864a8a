"""The packs as they were: a git revision or another folder, as a folder of packs beside the current one.

``passerelle impact`` and ``passerelle test --base`` compare the packs under a rules folder (folders
``<pack>/pack.yaml``) with the same folder at a base: ``--base REV`` extracts that folder at a git
revision (``git archive``, nothing in the working tree is touched) into a temporary folder;
``--base PATH`` uses another folder as it is (a folder of packs, a single pack's folder, or a checkout
holding ``rules/``). Either way the result is the base's rules folder, so a file of the current tree
has its counterpart at the same relative path.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import Loc, PasserelleError, RuleError

__all__ = ["counterpart", "open_base"]

_GIT_TIMEOUT = 120


def _fail(message: str, hint: str | None = None) -> PasserelleError:
    return PasserelleError([RuleError("E840", message, None, hint=hint)])


def _packs_folder(path: Path, name: str) -> Path:
    """The folder holding packs inside ``path``: ``path/rules``, ``path`` itself, or its parent (a pack)."""
    if (path / name).is_dir() and any((p / "pack.yaml").is_file() for p in (path / name).iterdir()):
        return path / name
    if (path / "pack.yaml").is_file():
        return path.parent
    return path


def _git(args: list[str], cwd: Path) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=_GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise _fail("git is not installed: give --base a folder instead of a revision") from None
    except subprocess.TimeoutExpired:
        raise _fail(f"git {' '.join(args)} did not answer within {_GIT_TIMEOUT} s") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _fail(f"git {' '.join(args)}: {detail[-1] if detail else 'failed'}",
                    hint="--base takes a git revision (HEAD, main, a commit) or a folder")
    return done.stdout


@contextmanager
def open_base(spec: str, rules: Path) -> Iterator[Path]:
    """The base's rules folder (the counterpart of ``rules``), for as long as the context lasts."""
    rules = rules.resolve()
    folder = Path(spec)
    if folder.is_dir():
        yield _packs_folder(folder.resolve(), rules.name)
        return
    top = Path(_git(["rev-parse", "--show-toplevel"], rules).decode().strip())
    prefix = rules.relative_to(top.resolve()).as_posix()
    # HEAD of a repository with no commit yet (the hooks of its first commit): there were no packs before.
    unborn = spec == "HEAD" and not _git(["rev-list", "-n", "1", "--all"], top).strip()
    if not unborn:
        _git(["rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}"], rules)
    archive = b"" if unborn else _git(["archive", "--format=tar", spec, "--", prefix], top) if prefix != "." else \
        _git(["archive", "--format=tar", spec], top)
    with tempfile.TemporaryDirectory(prefix="passerelle-base-") as tmp:
        if archive:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(tmp, filter="data")
        base = Path(tmp) / prefix
        base.mkdir(parents=True, exist_ok=True)  # the folder did not exist at that revision: no packs then
        yield base


def counterpart(path: Path, rules: Path, base: Path) -> Path:
    """Where ``path`` (a file under ``rules``) is in the base tree (it may not exist there)."""
    try:
        relative = path.resolve().relative_to(rules.resolve())
    except ValueError:
        raise PasserelleError([RuleError("E841", f"{path} is not inside the rules folder {rules}", Loc(str(path)),
                                         hint="impact compares files under the rules folder (--rules DIR)")]) from None
    return base / relative
