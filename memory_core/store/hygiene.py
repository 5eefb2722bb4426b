"""Memory hygiene: freed memory must not reach the disk.

Chroma's vector index (hnswlib) writes its buffers to disk as allocated, without zeroing them, so
bytes a process freed earlier (the text of a note it has just forgotten, say) can end up inside
``data_level0.bin``. With glibc, ``mallopt(M_PERTURB)`` makes the allocator overwrite memory when it
is freed and fill it when it is allocated; Memex turns it on as soon as the store is imported.
Elsewhere (macOS, musl) this is a no-op and docs/data.md says what remains.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_PERTURB = -6


def scrub_freed_memory() -> bool:
    """Ask glibc to overwrite freed and fresh allocations. True when it took effect."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_PERTURB, 0xA5))
    except (OSError, AttributeError):
        return False


ACTIVE = scrub_freed_memory()
