"""Float32 vectors in a plain file, written and read in batches.

A memory map would do the same with less code, but its pages count as resident memory
of the process while they are cached: at a million passages the sentence vectors alone
are 7.7 GB. Plain reads and writes leave caching to the kernel.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

_ITEM = np.dtype(np.float32).itemsize


class VectorFile:
    """rows × dimension float32 values; row r of this view is row first + r of the file."""

    def __init__(self, path: Path, rows: int, dimension: int, *, first: int = 0) -> None:
        self.path = path
        self.rows = rows
        self.dimension = dimension
        self._first = first

    @classmethod
    def create(cls, path: Path, rows: int, dimension: int) -> VectorFile:
        with path.open("wb") as f:
            f.truncate(rows * dimension * _ITEM)
        return cls(path, rows, dimension)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.dimension)

    def __len__(self) -> int:
        return self.rows

    def window(self, start: int, stop: int) -> VectorFile:
        stop = min(stop, self.rows)
        return VectorFile(self.path, stop - start, self.dimension, first=self._first + start)

    def _offset(self, row: int) -> int:
        return (self._first + row) * self.dimension * _ITEM

    def read(self, start: int, stop: int) -> npt.NDArray[np.float32]:
        stop = min(stop, self.rows)
        count = max(0, stop - start) * self.dimension
        with self.path.open("rb") as f:
            f.seek(self._offset(start))
            data = np.fromfile(f, dtype=np.float32, count=count)
        return data.reshape(-1, self.dimension)

    def take(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """The given rows, in the given order."""
        out = np.empty((len(rows), self.dimension), dtype=np.float32)
        size = self.dimension * _ITEM
        with self.path.open("rb") as f:
            for i, row in enumerate(rows.tolist()):
                f.seek(self._offset(row))
                out[i] = np.frombuffer(f.read(size), dtype=np.float32)
        return out

    def write(self, start: int, values: npt.NDArray[np.float32]) -> None:
        data = np.ascontiguousarray(values, dtype=np.float32)
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(fd, data.tobytes(), self._offset(start))
        finally:
            os.close(fd)

    def put(self, rows: Sequence[int], vector: npt.NDArray[np.float32]) -> None:
        """The same vector into each of `rows`."""
        data = np.ascontiguousarray(vector, dtype=np.float32).tobytes()
        fd = os.open(self.path, os.O_WRONLY)
        try:
            for row in rows:
                os.pwrite(fd, data, self._offset(row))
        finally:
            os.close(fd)


Rows = npt.NDArray[np.float32] | VectorFile


def read_rows(vectors: Rows, start: int, stop: int) -> npt.NDArray[np.float32]:
    if isinstance(vectors, VectorFile):
        return vectors.read(start, stop)
    return np.ascontiguousarray(vectors[start:stop], dtype=np.float32)


def take_rows(vectors: Rows, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    if isinstance(vectors, VectorFile):
        return vectors.take(rows)
    return np.ascontiguousarray(vectors[rows], dtype=np.float32)


def write_rows(vectors: Rows, start: int, values: npt.NDArray[np.float32]) -> None:
    if isinstance(vectors, VectorFile):
        vectors.write(start, values)
    else:
        vectors[start : start + len(values)] = values


def put_rows(vectors: Rows, rows: Sequence[int], vector: npt.NDArray[np.float32]) -> None:
    if isinstance(vectors, VectorFile):
        vectors.put(rows, vector)
    else:
        vectors[list(rows)] = vector
