"""Compaction: copy the live (redacted) collections into a fresh Chroma folder, then swap folders.

Why rewrite instead of delete + vacuum: Chroma keeps every add/upsert in its ``embeddings_queue``
table until the vector segment syncs, and a vacuum purges only synced rows, so a deleted note's
text survived delete + ``chroma vacuum`` + SQLite VACUUM in a trial. A new folder holds only what
is live today. The swap is two renames with a "done" marker between, and recover() at open
finishes or undoes a swap a crash interrupted; other processes notice the ``epoch`` file and reopen.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from . import backend

if TYPE_CHECKING:  # compaction runs in a process of its own too, which needs none of the store
    from .live import LiveNotes

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
    for leftover in (done, home / "chroma.new.payload"):
        leftover.unlink(missing_ok=True)


def _read_all(src: Any, with_documents: bool) -> dict[str, list]:
    out: dict[str, list] = {"ids": [], "embeddings": [], "metadatas": [], "documents": []}
    include = ["embeddings", "metadatas", *(["documents"] if with_documents else [])]
    offset = 0
    while True:
        got = src.get(include=include, limit=PAGE, offset=offset)
        out["ids"] += got["ids"]
        out["embeddings"] += [[float(x) for x in e] for e in got["embeddings"]]
        out["metadatas"] += got["metadatas"]
        out["documents"] += got["documents"] if with_documents else [None] * len(got["ids"])
        if len(got["ids"]) < PAGE:
            return out
        offset += PAGE


def build(payload: Path, dest: Path) -> None:
    """Write the collections in ``payload`` into a new Chroma folder (run in a fresh process)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    with open(payload, "rb") as fh:
        data = pickle.load(fh)  # written a moment ago by compact_local, never by anyone else
    client = chromadb.PersistentClient(path=str(dest), settings=ChromaSettings(anonymized_telemetry=False))
    for name, (meta, records) in data.items():
        col = client.get_or_create_collection(name, metadata=meta, embedding_function=None)
        for start in range(0, len(records["ids"]), PAGE):
            part = {k: v[start:start + PAGE] for k, v in records.items()}
            docs = part.pop("documents")
            col.add(**part, documents=docs if any(d is not None for d in docs) else None)


def compact_local(state: LiveNotes) -> tuple[int, int]:
    """Rewrite the store's Chroma folder; returns (bytes before, bytes after).

    The new folder is written by a fresh Python process that is handed only the live records:
    Chroma's vector index files are written from buffers that are not zeroed, so a process that
    ever held the forgotten text could leave pieces of it in them.
    """
    home, conn = Path(state.home), state.conn
    live, new, old, done = home / "chroma", home / "chroma.new", home / "chroma.old", home / "chroma.new.done"
    payload = home / "chroma.new.payload"
    before = folder_bytes(live)
    with state.lock, conn.process_lock():
        state.follow(force=True)
        shutil.rmtree(new, ignore_errors=True)
        cols = conn.cols
        data = {name: (src.metadata, _read_all(src, docs))
                for name, src, docs in ((backend.EVENTS, cols.events, False), (backend.VIEW, cols.view, True),
                                        (backend.PROPOSALS, cols.proposals, False))}
        try:
            with open(payload, "wb") as fh:
                pickle.dump(data, fh)
            del data
            proc = subprocess.run([sys.executable, "-m", "memory_core.store.compaction", str(payload), str(new)],
                                  capture_output=True, text=True, timeout=3600)
        finally:
            payload.unlink(missing_ok=True)
        if proc.returncode != 0:
            shutil.rmtree(new, ignore_errors=True)
            raise StoreError(f"Compacting {live} failed; the store is unchanged: {proc.stderr.strip()[-400:]}")
        done.write_text("complete", encoding="utf-8")
        backend.release(conn.settings, cols.client)
        os.rename(live, old)
        os.rename(new, live)
        done.unlink()
        shutil.rmtree(old, ignore_errors=True)
        state.follower.bump_epoch()
        conn.reopen()
    return before, folder_bytes(live)


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
