"""Handing freed memory back to the operating system.

CPython frees objects at once, but the C allocator under it (glibc's malloc) keeps the
freed heap for reuse, so a process that once held a burst of data stays that large.
After dropping a large amount of state, livewatch asks malloc to return what it can.
"""

from __future__ import annotations

import ctypes


def give_back_free_memory() -> None:
    # The process's own symbols: glibc's malloc_trim where the C library is glibc.
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)
