"""Compaction: copy the live (redacted) collections into a fresh Chroma folder, then swap folders.

Why rewrite instead of delete + vacuum: Chroma keeps every add/upsert in its ``embeddings_queue``
table until the vector segment syncs, and a vacuum purges only synced rows, so a deleted note's
text survived delete + ``chroma vacuum`` + SQLite VACUUM in a trial. A new folder holds only what
is live today. The swap is two renames with a "done" marker between, and recover() at open
finishes or undoes a swap a crash interrupted; other processes notice the ``epoch`` file and reopen.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from . import backend

PAGE = 2000


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def recover(home: Path) -> None:
    """Finish (the new folder is complete) or undo (it is not) a swap interrupted by a crash."""
    live, new, old, done = home / "chroma", home / "chroma.new", home / "chroma.old", home / "chroma.new.done"
    if old.exists() and not live.exists():
        os.rename(new if (done.exists() and new.exists()) else old, live)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
    if new.exists():
        shutil.rmtree(new, ignore_errors=True)
    if done.exists():
        done.unlink()


def _copy(src: Any, dst: Any, with_documents: bool) -> None:
    offset = 0
    include = ["embeddings", "metadatas", *(["documents"] if with_documents else [])]
    while True:
        got = src.get(include=include, limit=PAGE, offset=offset)
        if not got["ids"]:
            break
        dst.add(ids=got["ids"], embeddings=[list(map(float, e)) for e in got["embeddings"]],
                metadatas=got["metadatas"], documents=got["documents"] if with_documents else None)
        if len(got["ids"]) < PAGE:
            break
        offset += PAGE


def compact_local(store: Any) -> tuple[int, int]:
    """Rewrite the store's Chroma folder; returns (bytes before, bytes after)."""
    home = Path(store.home)
    live, new, old, done = home / "chroma", home / "chroma.new", home / "chroma.old", home / "chroma.new.done"
    before = folder_bytes(live)
    with store._lock, store._process_lock():
        store._follow(force=True)
        shutil.rmtree(new, ignore_errors=True)
        client = backend.client_for(store.settings, new)
        cols = store._cols
        for name, src, docs in ((backend.EVENTS, cols.events, False), (backend.VIEW, cols.view, True),
                                (backend.PROPOSALS, cols.proposals, False)):
            dst = client.get_or_create_collection(name, metadata=src.metadata, embedding_function=None)
            _copy(src, dst, docs)
        backend.release(store.settings, client)
        done.write_text("complete", encoding="utf-8")
        backend.release(store.settings, cols.client)
        os.rename(live, old)
        os.rename(new, live)
        done.unlink()
        shutil.rmtree(old, ignore_errors=True)
        store._follower.bump_epoch()
        store._reopen_chroma()
    return before, folder_bytes(live)
