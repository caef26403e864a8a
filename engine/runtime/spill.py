"""A sequence kept on disk past its first items: a plan of a first sync holds one change per source record
(100k new invoices are 100k creates), more than a process should keep in memory; the plan is read back a
change at a time by rendering and apply, so only the offsets stay in memory (8 bytes a change)."""

from __future__ import annotations

import os
import pickle
import tempfile
import weakref
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any, Generic, TypeVar, overload

__all__ = ["SPILL_AFTER", "Spilled", "SpillingList"]

T = TypeVar("T")

# Items kept in memory before the rest go to a temporary file: plans of everyday syncs never touch the disk.
SPILL_AFTER = 2000


class Spilled(Sequence[T], Generic[T]):
    """Items pickled and compressed one by one in an unnamed temporary file (deleted when closed or collected),
    read back by offset with ``os.pread`` so several readers may walk it at once. Only this process wrote the
    file, so reading its pickles back is safe."""

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="passerelle-plan-")  # noqa: SIM115 (lives as long as the plan)
        self._closed = weakref.finalize(self, self._file.close)  # the file goes with the sequence
        self._offsets = array("q", [0])
        for item in items:
            self.append(item)

    def append(self, item: T) -> None:
        blob = zlib.compress(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL), 1)
        self._file.write(blob)
        self._offsets.append(self._offsets[-1] + len(blob))

    def _read(self, index: int) -> T:
        start, end = self._offsets[index], self._offsets[index + 1]
        self._file.flush()
        data = os.pread(self._file.fileno(), end - start, start)
        item: T = pickle.loads(zlib.decompress(data))
        return item

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if isinstance(index, slice):
            return tuple(self._read(i) for i in range(*index.indices(len(self))))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("index out of range")
        return self._read(index)

    def __iter__(self) -> Iterator[T]:
        self._file.flush()
        fd, offsets = self._file.fileno(), self._offsets
        block, block_start = b"", 0
        for i in range(len(self)):
            start, end = offsets[i], offsets[i + 1]
            if end > block_start + len(block):  # read ahead about 1 MB at a time
                block_start = start
                block = os.pread(fd, max(end - start, 1 << 20), start)
            item: T = pickle.loads(zlib.decompress(block[start - block_start:end - block_start]))
            yield item

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Spilled({len(self)} items)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(self),))

    def close(self) -> None:
        self._closed()


class SpillingList(Generic[T]):
    """Appends in memory up to ``after`` items, then to a :class:`Spilled` file; ``done`` gives the sequence
    (a tuple while it stayed small)."""

    def __init__(self, after: int | None = None) -> None:
        self.after = SPILL_AFTER if after is None else after
        self._memory: list[T] = []
        self._disk: Spilled[T] | None = None

    def append(self, item: T) -> None:
        if self._disk is not None:
            self._disk.append(item)
        elif len(self._memory) < self.after:
            self._memory.append(item)
        else:
            self._disk = Spilled(self._memory)
            self._memory = []
            self._disk.append(item)

    def extend(self, items: Iterable[T]) -> None:
        for item in items:
            self.append(item)

    def __len__(self) -> int:
        return len(self._disk) if self._disk is not None else len(self._memory)

    def __getitem__(self, index: int) -> T:
        return self._disk[index] if self._disk is not None else self._memory[index]

    def done(self) -> Sequence[T]:
        return self._disk if self._disk is not None else tuple(self._memory)
