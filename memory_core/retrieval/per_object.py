"""One derived object per live object (a store, an embedder), made on first use and gone with it.

Why one helper: the context index, the token-vector cache and the relevance floor's vector cache are
each derived from a store or an embedder and must be shared by every caller in the process, made
once even when two threads ask at the same time, and dropped when what they derive from is dropped
(weak keys), so a test's or a closed store's caches never pile up.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerObject(Generic[T]):
    """``per_object(owner)`` is the one ``T`` made by ``make()`` for ``owner``."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._made: weakref.WeakKeyDictionary[object, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, owner: object) -> T:
        with self._lock:
            found = self._made.get(owner)
            if found is None:
                found = self._made[owner] = self._make()
            return found
