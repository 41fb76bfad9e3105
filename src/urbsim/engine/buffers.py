"""Output arrays whose memory is recycled once the caller has let go of every array over it.

A batch's outputs are large (N = 10,000 runs of model/urbsim.mdl with 5 outputs: ~110 MB), and
fresh memory is zeroed by the operating system on first touch: that was 5-8 % of the kernel's
time, and, when the machine's huge pages ran short, page faults that left one of two threads
waiting and the call 40 % slower (bimodal timings on the development VM). A Monte Carlo loop
drops each chunk's outputs before it asks for the next, so their memory can serve again.

Safety: each output array lies over a ``ctypes`` array (its ``base``) that borrows a block the
pool owns; every view a caller makes keeps that ``base`` alive, through numpy's base chain. Only
when the last array over a block has gone does ``weakref.finalize`` give the block back, so
memory a caller can still reach is never handed out again (tested: results kept, views kept,
and results dropped). Units: sizes are counts of float64 values.
"""

from __future__ import annotations

import ctypes
import threading
import weakref

import numpy as np

MAX_FREE_VALUES = 1 << 27  # free blocks kept for later calls: at most 1 GiB of float64
MIN_VALUES = 1 << 16  # smaller arrays (512 KiB) come from numpy: their zeroing costs little


class OutputPool:
    """Blocks of float64 memory lent out as arrays and taken back when no array is left over
    them (thread-safe: finalizers run in whichever thread drops the last reference)."""

    def __init__(self, max_free: int = MAX_FREE_VALUES):
        self._free: list[np.ndarray] = []
        self._max_free = max_free
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...]) -> np.ndarray:
        """An uninitialised C-ordered float64 array of ``shape`` (like ``np.empty``), over a
        recycled block where one of at least its size is free."""
        size = 1
        for d in shape:
            size *= int(d)
        if size < MIN_VALUES:
            return np.empty(shape)
        block = self._take(size)
        view = (ctypes.c_double * size).from_buffer(block)  # borrows the block
        weakref.finalize(view, self._give_back, block).atexit = False
        return np.frombuffer(view, dtype=np.float64).reshape(shape)

    def _take(self, size: int) -> np.ndarray:
        with self._lock:  # the smallest free block that fits, not more than twice the size
            fits = [i for i, b in enumerate(self._free) if size <= b.size <= 2 * size]
            if fits:
                return self._free.pop(min(fits, key=lambda i: self._free[i].size))
        return np.empty(size)

    def _give_back(self, block: np.ndarray) -> None:
        with self._lock:
            self._free.append(block)
            # the most recent blocks stay (the next chunk of a loop asks for the same sizes)
            while sum(b.size for b in self._free) > self._max_free:
                self._free.pop(0)

    def free_values(self) -> int:
        """How many float64 values the free blocks hold (for tests)."""
        with self._lock:
            return sum(b.size for b in self._free)


POOL = OutputPool()  # one per process: every model's batches draw on it
