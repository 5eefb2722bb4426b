"""Reading our Chroma collections straight from ``chroma.sqlite3``, read-only, without opening Chroma.

Why: opening a local Chroma folder writes to it, every time (Chroma records a row in its
``acquire_write`` table and rewrites the HNSW segments' ``length.bin``), so a process that only reads
(``memex search``, ``show``, ``list``, the app's pages before any write) would change the data folder.
A store therefore reads through this module until its first write opens Chroma (``connection.py``).

What it reads: the records of a collection's metadata segment (the ``embeddings`` and
``embedding_metadata`` tables, which Chroma fills as part of every write) plus any record still only
in Chroma's log (``embeddings_queue``) past that segment's ``max_seq_id``. Vectors are given only where
the log still holds them (Chroma purges the log after it has indexed it); a caller embeds the rest.

The connection is opened with ``mode=ro``: SQLite then never writes the file (the database is in
rollback-journal mode, so no ``-wal``/``-shm`` files are made either).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StoreError

DOCUMENT_KEY = "chroma:document"
ADD, UPDATE, UPSERT, DELETE = 0, 1, 2, 3  # Chroma's log operations
_COMPARE = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


class NeedsRecovery(StoreError):
    """A writer was killed mid-transaction: SQLite must roll its journal back, which a reader cannot do."""


def _readonly(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", 0) & 0xFF == 8


class ReadOnlyChroma:
    """One read-only connection to a Chroma folder's SQLite file; ``collection(name)`` for each of ours."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / "chroma.sqlite3"
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @contextlib.contextmanager
    def cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            if self._conn is None:
                self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False,
                                             timeout=30.0)
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN")  # one consistent view of the file for the whole read
                yield cur
            finally:
                with contextlib.suppress(sqlite3.Error):
                    cur.execute("COMMIT")
                cur.close()

    def collection(self, name: str) -> ReadOnlyCollection:
        return ReadOnlyCollection(self, name)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class ReadOnlyCollection:
    """The read half of a Chroma collection (``get`` and ``count``), answered from the SQLite file."""

    def __init__(self, db: ReadOnlyChroma, name: str) -> None:
        self.db = db
        self.name = name
        # the last answer, for the file as it was (SQLite's data_version changes when another
        # connection commits): EventLog pages through a read with limit/offset
        self._cache: tuple[tuple[Any, ...], dict[str, dict[str, Any]]] | None = None

    def count(self) -> int:
        return len(self._records(None, None, with_vectors=False))

    def get(self, ids: list[str] | None = None, where: dict[str, Any] | None = None,
            include: list[str] | None = None, limit: int | None = None, offset: int | None = None
            ) -> dict[str, Any]:
        include = list(include or ["metadatas", "documents"])
        records = self._records(ids, where, with_vectors="embeddings" in include)
        rows = list(records.items())[int(offset or 0):]
        if limit is not None:
            rows = rows[:int(limit)]
        out: dict[str, Any] = {"ids": [rid for rid, _r in rows]}
        if "metadatas" in include:
            out["metadatas"] = [{k: v for k, v in r["meta"].items() if k != DOCUMENT_KEY} for _i, r in rows]
        if "documents" in include:
            out["documents"] = [r["meta"].get(DOCUMENT_KEY) for _i, r in rows]
        if "embeddings" in include:
            out["embeddings"] = [r.get("vector") for _i, r in rows]  # None where Chroma's log was purged
        return out

    # -- reading ---------------------------------------------------------------------------------
    def _records(self, ids: list[str] | None, where: dict[str, Any] | None, *, with_vectors: bool
                 ) -> dict[str, dict[str, Any]]:
        """id -> {"meta": ..., "vector": ...} in Chroma's own order, filtered by ``ids`` and ``where``."""
        try:
            return self._read(ids, where, with_vectors)
        except sqlite3.Error as exc:
            if _readonly(exc):
                raise NeedsRecovery(f"{self.db.path} was left mid-write by a process that was killed.") from exc
            raise StoreError(f"Reading {self.db.path} failed ({type(exc).__name__}: {str(exc)[:300]}). Memex did "
                             "not change anything there; if the folder is damaged, restore it from a backup or "
                             "import your last export into a new data directory.") from exc
        except ValueError as exc:
            raise StoreError(f"Reading {self.db.path} failed ({type(exc).__name__}: {str(exc)[:300]}). Memex did "
                             "not change anything there; if the folder is damaged, restore it from a backup or "
                             "import your last export into a new data directory.") from exc

    def _read(self, ids: list[str] | None, where: dict[str, Any] | None, with_vectors: bool
              ) -> dict[str, dict[str, Any]]:
        with self.db.cursor() as cur:
            version = cur.execute("PRAGMA data_version").fetchone()[0]
            key = (repr(ids), repr(where), with_vectors)
            if self._cache is not None and self._cache[0] == (version, key):
                return self._cache[1]  # a paged read asks again for the same records
            found = cur.execute(
                "SELECT c.id, s.id FROM collections c JOIN segments s ON s.collection = c.id "
                "WHERE c.name = ? AND s.scope = 'METADATA'", (self.name,)).fetchone()
            if found is None:
                return {}
            collection_id, segment_id = found
            records = self._segment(cur, segment_id, where)
            seen = cur.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment_id,)).fetchone()
            self._apply_log(cur, collection_id, int(seen[0]) if seen else -1, records, with_vectors)
        if ids is not None:
            wanted = set(ids)
            records = {k: v for k, v in records.items() if k in wanted}
        if where:
            records = {k: v for k, v in records.items() if matches(v["meta"], where)}
        self._cache = ((version, key), records)
        return records

    @staticmethod
    def _segment(cur: sqlite3.Cursor, segment_id: str, where: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        """The segment's records; one simple condition of ``where`` is answered by SQLite (the rest, and
        the whole filter again, in Python), so a read of one note's events does not read every event."""
        records: dict[str, dict[str, Any]] = {}
        narrow, params = _pushdown(where)
        rows = cur.execute(
            "SELECT e.embedding_id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value "
            "FROM embeddings e LEFT JOIN embedding_metadata m ON m.id = e.id "
            f"WHERE e.segment_id = ? {narrow} ORDER BY e.id", (segment_id, *params))
        for rid, key, s, i, f, b in rows:
            meta = records.setdefault(rid, {"meta": {}})["meta"]
            if key is not None:
                meta[key] = s if s is not None else i if i is not None else f if f is not None else \
                    (bool(b) if b is not None else None)
        return records

    @staticmethod
    def _apply_log(cur: sqlite3.Cursor, collection_id: str, after: int, records: dict[str, dict[str, Any]],
                   with_vectors: bool) -> None:
        """Records still only in Chroma's log (past the segment's mark), and vectors the log still holds."""
        rows = cur.execute(
            "SELECT seq_id, operation, id, vector, encoding, metadata FROM embeddings_queue "
            "WHERE topic LIKE ? ORDER BY seq_id", (f"%/{collection_id}",))
        for seq, op, rid, vector, encoding, metadata in rows:
            if seq > after:
                if op == DELETE:
                    records.pop(rid, None)
                    continue
                meta = json.loads(metadata) if metadata else {}
                if op == ADD and rid in records:
                    continue
                if op == ADD or rid not in records and op == UPSERT:
                    records[rid] = {"meta": {}}
                if rid in records:
                    records[rid]["meta"].update({k: v for k, v in meta.items() if v is not None})
                    for k in [k for k, v in meta.items() if v is None]:
                        records[rid]["meta"].pop(k, None)
            if with_vectors and vector is not None and rid in records and str(encoding).upper() == "FLOAT32":
                records[rid]["vector"] = np.frombuffer(vector, dtype=np.float32).copy()


def _pushdown(where: dict[str, Any] | None) -> tuple[str, tuple[Any, ...]]:
    """SQL for the first plain ``key: value`` or ``key: {op: value}`` condition (top level or in ``$and``)."""
    parts = list((where or {}).items())
    if where and set(where) == {"$and"}:
        parts = [item for part in where["$and"] for item in part.items()]
    for key, cond in parts:
        if key.startswith("$"):
            continue
        op, target = next(iter(cond.items())) if isinstance(cond, dict) and len(cond) == 1 else ("$eq", cond)
        if op not in _COMPARE or op == "$ne" or isinstance(target, bool):
            continue
        column = "string_value" if isinstance(target, str) else "int_value" if isinstance(target, int) \
            else "float_value" if isinstance(target, float) else ""
        if column:
            return (f"AND e.id IN (SELECT id FROM embedding_metadata WHERE key = ? AND {column} {_COMPARE[op]} ?)",
                    (key, target))
    return "", ()


def matches(meta: dict[str, Any], where: dict[str, Any]) -> bool:
    """Chroma's metadata filter (``$and``, ``$or``, equality and comparisons), evaluated on one record."""
    for key, cond in where.items():
        if key == "$and":
            if not all(matches(meta, part) for part in cond):
                return False
            continue
        if key == "$or":
            if not any(matches(meta, part) for part in cond):
                return False
            continue
        ops = cond if isinstance(cond, dict) else {"$eq": cond}
        value = meta.get(key)
        for op, target in ops.items():
            if op == "$in":
                ok = value in target
            elif op == "$nin":
                ok = value not in target
            elif op in _COMPARE:
                ok = _compare(value, op, target)
            else:
                raise ValueError(f"unsupported filter {op!r}")
            if not ok:
                return False
    return True


def _compare(value: Any, op: str, target: Any) -> bool:
    if op == "$eq":
        return bool(value == target)
    if op == "$ne":
        return bool(value != target)
    if value is None:
        return False
    try:
        return {"$gt": value > target, "$gte": value >= target, "$lt": value < target,
                "$lte": value <= target}[op]
    except TypeError:
        return False


class _Empty:
    """A collection of a store whose Chroma folder does not exist yet (nothing written)."""

    def count(self) -> int:
        return 0

    def get(self, ids: list[str] | None = None, where: dict[str, Any] | None = None,
            include: list[str] | None = None, limit: int | None = None, offset: int | None = None
            ) -> dict[str, Any]:
        include = list(include or ["metadatas", "documents"])
        return {"ids": [], **{name: [] for name in ("metadatas", "documents", "embeddings") if name in include}}


def read_only_collections(folder: Path) -> Any:
    """Our three collections for reading a local store (``backend.Collections`` in shape).

    Refuses, with the same message as opening Chroma would, a folder that is not a Chroma database;
    ``NeedsRecovery`` when a killed writer left a journal to roll back (then only Chroma can open it)."""
    from . import backend

    folder = Path(folder)
    if not folder.exists():
        return backend.Collections(None, _Empty(), _Empty(), _Empty(), 1000)
    db = ReadOnlyChroma(folder)
    if not db.path.is_file():
        raise StoreError(f"{folder} exists but holds no Chroma database (chroma.sqlite3 is missing). Memex did "
                         "not change anything there; restore it from a backup or choose another data directory.")
    try:
        with db.cursor() as cur:
            cur.execute("SELECT count(*) FROM collections").fetchone()
    except sqlite3.Error as exc:
        db.close()
        if _readonly(exc):
            raise NeedsRecovery(f"{db.path} was left mid-write by a process that was killed.") from exc
        raise StoreError(f"Cannot open the database in {folder}: {type(exc).__name__}: {str(exc)[:300]}. Memex "
                         "did not change anything there; if the folder is damaged, restore it from a backup or "
                         "import your last export into a new data directory.") from exc
    return backend.Collections(db, db.collection(backend.EVENTS), db.collection(backend.VIEW),
                               db.collection(backend.PROPOSALS), 1000)
