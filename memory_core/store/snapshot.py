"""A local snapshot of the fold (notes with history, vectors, high-water mark): a cache for fast opens.

Why: reading the whole log out of Chroma costs about 0.4 ms per event, so a store of 10k notes
would take seconds to open. The snapshot lets an open read one JSON file and one .npy file, then
follow the log from the snapshot's high-water mark. It is derived and disposable: it is tagged
with the Chroma folder's epoch (a compaction makes it stale), ``memex reindex`` and ``forget``
delete it, and any doubt (unreadable, other epoch) means a full fold of the log instead.
It is written only by writes (every SAVE_EVERY events and when a writing store closes), so a
read-only session never changes a byte.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ..notes import Note
from .fold import Fold
from .following import OVERLAP_MS

FOLDER = "cache"
SAVE_EVERY = 2000
VERSION = 1


def exists(home: Path) -> bool:
    return (Path(home) / FOLDER / "fold.json").is_file()


def delete(home: Path) -> None:
    folder = Path(home) / FOLDER
    for p in folder.glob("*") if folder.is_dir() else []:
        p.unlink(missing_ok=True)


def save(home: Path, fold: Fold, high_water: int, seen: set[str], vectors: dict[str, np.ndarray],
         epoch: str) -> None:
    folder = Path(home) / FOLDER
    folder.mkdir(exist_ok=True)
    meta_path, vec_name = folder / "fold.json", f"vectors-{uuid.uuid4().hex[:12]}.npy"
    ids = [nid for nid in fold.notes if nid in vectors]
    recent = [eid for eid in seen if int(eid[:12], 16) >= high_water - OVERLAP_MS]
    data = {"version": VERSION, "epoch": epoch, "high_water": high_water, "seen": recent, "last": fold.last,
            "notes": [n.to_dict() for n in fold.notes.values()], "vector_ids": ids, "vectors": vec_name}
    tmp_vec = folder / "vectors.tmp.npy"
    matrix = np.vstack([vectors[i] for i in ids]) if ids else np.zeros((0, 0), dtype=np.float32)
    np.save(tmp_vec, matrix.astype(np.float32), allow_pickle=False)
    tmp_meta = meta_path.with_suffix(".tmp")
    tmp_meta.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    # the vectors under a new name first, then the JSON that names them: a crash leaves the old pair
    os.replace(tmp_vec, folder / vec_name)
    os.replace(tmp_meta, meta_path)
    for old in folder.glob("vectors-*.npy"):
        if old.name != vec_name:
            old.unlink(missing_ok=True)


def load(home: Path, epoch: str) -> tuple[Fold, int, set[str], dict[str, np.ndarray]] | None:
    """(fold, high water, seen ids, vectors), or None when there is no usable snapshot."""
    folder = Path(home) / FOLDER
    try:
        data: dict[str, Any] = json.loads((folder / "fold.json").read_text(encoding="utf-8"))
        if data.get("version") != VERSION or data.get("epoch") != epoch:
            return None
        matrix = np.load(folder / Path(data["vectors"]).name, allow_pickle=False)
        ids = data["vector_ids"]
        if len(ids) != len(matrix):
            return None
        fold = Fold()
        fold.last = {str(k): str(v) for k, v in data["last"].items()}
        for item in data["notes"]:
            note = Note.from_trusted_dict(item)
            fold.notes[note.id] = note
        vectors = {nid: matrix[i] for i, nid in enumerate(ids)}
        return fold, int(data["high_water"]), set(data["seen"]), vectors
    except Exception:  # noqa: BLE001 - any doubt (unreadable, damaged): fold the log instead
        return None
