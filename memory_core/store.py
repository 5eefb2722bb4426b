"""The memory store: notes with their links and history, on disk in Chroma; graph and indexes derived.

One source of truth: each note is one Chroma record (id = note id, document = content, embedding =
the note's embedding, metadata = the rest of the note as JSON plus a few flat fields for filters).
Links and history live *inside* the note. At start the store reads every record once and derives
the in-memory views from them: the networkx graph of links, the BM25 index, and a dict of notes.

Why this shape: a single Chroma upsert carries a new note together with every neighbour it
changes, so a write is one step on disk (all of it, or none of it after a crash), and the same
code works unchanged against a Chroma server.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from .errors import MemexError, NotFoundError, StoreError
from .lexical import BM25Index
from .notes import Note, now_iso, parse_time

MARKER_FILE = "memex.json"
FORMAT_VERSION = 1
COLLECTION = "memex_notes"
OUR_FILES = {MARKER_FILE, "settings.json", "chroma", "conversations", "bench", "memex.lock", "generation",
             "exports", "chroma-server"}


# ---------------------------------------------------------------------------------------------
# The data directory
# ---------------------------------------------------------------------------------------------
def prepare_data_dir(home: Path) -> None:
    """Make sure ``home`` is a Memex data directory, creating it when new.

    Refuses (StoreError) a folder that holds other things, or a marker that is not ours: Memex never
    writes into a folder it did not create, so pointing it at the wrong place cannot damage anything.
    """
    home = Path(home)
    if home.exists() and not home.is_dir():
        raise StoreError(f"The data directory {home} is a file, not a folder. Choose another MEMEX_HOME.")
    marker = home / MARKER_FILE
    if marker.exists():
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            version = int(info["format"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"{marker} is damaged ({exc}). Memex will not touch this folder; restore the file from a "
                "backup, or point MEMEX_HOME at another folder."
            ) from exc
        if version > FORMAT_VERSION:
            raise StoreError(f"{home} was written by a newer Memex (format {version}); upgrade Memex to open it.")
        return
    if home.exists():
        foreign = sorted(p.name for p in home.iterdir() if p.name not in OUR_FILES)
        if foreign:
            shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            raise StoreError(
                f"{home} is not a Memex data directory (it holds {shown}). Memex will not write into it: "
                "choose an empty or new folder with --data-dir or MEMEX_HOME."
            )
    home.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"format": FORMAT_VERSION, "created": now_iso()}), encoding="utf-8")
    os.replace(tmp, marker)


# ---------------------------------------------------------------------------------------------
# Records <-> notes
# ---------------------------------------------------------------------------------------------
def _note_to_record(note: Note) -> tuple[str, dict[str, Any]]:
    data = note.to_dict()
    content = data.pop("content")
    meta = {
        "note": json.dumps(data, ensure_ascii=False),
        "ts": parse_time(note.timestamp).timestamp(),
        "source": note.source,
        "needs_enrichment": note.needs_enrichment,
    }
    return content, meta


def _record_to_note(doc: str | None, meta: dict[str, Any] | None) -> Note:
    if not meta or "note" not in meta:
        raise StoreError("a record in the Chroma collection is not a Memex note")
    data = json.loads(meta["note"])
    data["content"] = doc or ""
    return Note.from_dict(data)


def build_graph(notes: dict[str, Note]) -> nx.DiGraph:
    """The link graph derived from the notes: a node per note, an edge per link whose target exists."""
    graph = nx.DiGraph()
    graph.add_nodes_from(notes)
    for note in notes.values():
        for link in note.links:
            if link.target in notes:
                graph.add_edge(note.id, link.target, reason=link.reason, by=link.by, created=link.created)
    return graph


@dataclass
class Neighbour:
    note: Note
    similarity: float


@dataclass
class WriteBatch:
    """Changes collected inside ``MemoryStore.writing()``; committed together when the block ends."""

    store: MemoryStore
    puts: dict[str, Note] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)

    def get(self, note_id: str) -> Note:
        """A private copy of the current note (including changes already put in this batch)."""
        if note_id in self.puts:
            return self.puts[note_id]
        return copy.deepcopy(self.store._get_cached(note_id))

    def exists(self, note_id: str) -> bool:
        return note_id in self.puts or (note_id in self.store._notes and note_id not in self.deletes)

    def put(self, note: Note, embedding: np.ndarray | None = None) -> None:
        self.puts[note.id] = note
        if embedding is not None:
            self.embeddings[note.id] = np.asarray(embedding, dtype=np.float32)

    def delete(self, note_id: str) -> None:
        """Delete a note and remove every link to it from the notes that point at it."""
        self.store._get_cached(note_id)
        for source in list(self.store.graph.predecessors(note_id)) if note_id in self.store.graph else []:
            if source in self.deletes:
                continue
            other = self.get(source)
            if other.remove_link(note_id, by="system"):
                self.put(other)
        for other in list(self.puts.values()):
            if other.id != note_id and other.remove_link(note_id, by="system"):
                self.put(other)
        self.puts.pop(note_id, None)
        self.deletes.append(note_id)


class MemoryStore:
    """Thread-safe note store over a Chroma collection, with derived graph, BM25 and embeddings."""

    def __init__(self, settings: Any, embedder: Any, *, collection: str = COLLECTION) -> None:
        self.settings = settings
        self.embedder = embedder
        self.home = Path(settings.home)
        prepare_data_dir(self.home)
        self._lock = threading.RLock()
        self._lockfile_path = self.home / "memex.lock"
        self._generation_path = self.home / "generation"
        self._seen_generation = ""
        self._collection_name = collection
        self._client, self._col = self._open(collection)
        if self._written_elsewhere(self._read_generation()):
            self._reset_chroma()  # this process may hold a Chroma cache from before that write
        self._notes: dict[str, Note] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._matrix: tuple[list[str], np.ndarray] | None = None  # stacked vectors, rebuilt after changes
        self.graph: nx.DiGraph = nx.DiGraph()
        self._graph_copy: nx.DiGraph | None = None
        self.lexical = BM25Index()
        self.reload()

    # -- opening ----------------------------------------------------------------------------
    def _open(self, name: str) -> tuple[Any, Any]:
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
        except ImportError as exc:  # pragma: no cover - install problem
            raise StoreError("chromadb is not installed; run `make setup`.") from exc
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        where = ""
        try:
            if self.settings.store_backend == "server":
                where = f"the Chroma server at {self.settings.chroma_host}:{self.settings.chroma_port}"
                client = chromadb.HttpClient(host=self.settings.chroma_host, port=int(self.settings.chroma_port),
                                             settings=chroma_settings)
            else:
                path = self.home / "chroma"
                where = f"the database in {path}"
                if path.exists() and not (path / "chroma.sqlite3").is_file():
                    raise StoreError(f"{path} exists but holds no Chroma database (chroma.sqlite3 is missing).")
                client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            col = client.get_or_create_collection(name, metadata={"hnsw:space": "cosine"},
                                                  embedding_function=None)
            col.count()
        except StoreError as exc:
            raise StoreError(f"{exc} Memex did not change anything there; restore it from a backup or "
                             "choose another data directory.") from exc
        except Exception as exc:  # noqa: BLE001 - chroma raises many types for a broken database
            raise StoreError(
                f"Cannot open {where}: {type(exc).__name__}: {str(exc)[:300]}. Memex did not change anything "
                "there; if the folder is damaged, restore it from a backup or import your last export "
                "into a new data directory."
            ) from exc
        return client, col

    def _reset_chroma(self) -> None:
        """Drop this process's cached Chroma system for our folder and open it afresh.

        Chroma keeps one in-memory system (with its HNSW index) per folder and process. When another
        process wrote to the folder, that cache is stale (queries miss the new vectors, reads fail
        with "Error finding id"); a fresh system replays Chroma's write-ahead log from disk.
        """
        if self.settings.store_backend == "server":
            return
        with contextlib.suppress(Exception):
            from chromadb.api.shared_system_client import SharedSystemClient

            ident = self._client._identifier
            self._client.close()
            system = SharedSystemClient._identifier_to_system.pop(ident, None)
            SharedSystemClient._identifier_to_refcount.pop(ident, None)
            if system is not None:
                system.stop()
        self._client, self._col = self._open(self._collection_name)

    def close(self) -> None:
        """Release the Chroma client (the folder can then be opened by another process safely)."""
        with contextlib.suppress(Exception):
            self._client.close()

    def reload(self) -> None:
        """Read every note from Chroma and rebuild the derived views (graph, BM25, vectors)."""
        try:
            self._reload()
        except StoreError:
            if self.settings.store_backend == "server":
                raise
            self._reset_chroma()  # a stale in-process cache is the usual cause; a fresh read settles it
            self._reload()

    def _reload(self) -> None:
        with self._lock:
            notes: dict[str, Note] = {}
            vectors: dict[str, np.ndarray] = {}
            total = self._col.count()
            batch = 2000
            try:
                for offset in range(0, total, batch):
                    got = self._col.get(include=["documents", "metadatas", "embeddings"], limit=batch,
                                        offset=offset)
                    for i, nid in enumerate(got["ids"]):
                        note = _record_to_note(got["documents"][i], got["metadatas"][i])
                        notes[nid] = note
                        vectors[nid] = np.asarray(got["embeddings"][i], dtype=np.float32)
            except MemexError as exc:
                raise StoreError(f"The store in {self.home} holds a record Memex cannot read: {exc}") from exc
            except Exception as exc:  # noqa: BLE001
                raise StoreError(f"Reading the notes in {self.home} failed: {type(exc).__name__}: {exc}") from exc
            self._notes = notes
            self._vectors = vectors
            self._matrix = None
            self.graph = build_graph(notes)
            self._graph_copy = None
            self.lexical = BM25Index()
            for note in notes.values():
                self.lexical.upsert(note.id, _lexical_text(note))
            self._seen_generation = self._read_generation()

    # -- freshness across processes ---------------------------------------------------------------
    def _read_generation(self) -> str:
        try:
            return self._generation_path.read_text(encoding="utf-8")
        except OSError:
            return ""

    def _written_elsewhere(self, generation: str) -> bool:
        return bool(generation) and generation.split(":", 1)[0] != str(os.getpid())

    def refresh(self) -> None:
        """Reload if another writer (e.g. the CLI beside the app) wrote since we last looked."""
        generation = self._read_generation()
        if generation != self._seen_generation:
            with self._lock:
                if self._written_elsewhere(generation):
                    self._reset_chroma()
                self.reload()

    @contextlib.contextmanager
    def _process_lock(self) -> Iterator[None]:
        with open(self._lockfile_path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- reading --------------------------------------------------------------------------
    def _get_cached(self, note_id: str) -> Note:
        note = self._notes.get(note_id)
        if note is None:
            raise NotFoundError(f"No note with id {note_id!r}.")
        return note

    def get(self, note_id: str) -> Note:
        """A copy of the note (changing it changes nothing until it is written back)."""
        with self._lock:
            self.refresh()
            return copy.deepcopy(self._get_cached(self.resolve_id(note_id)))

    def resolve_id(self, prefix: str) -> str:
        """Accept a full id or an unambiguous prefix of at least 6 characters (handy in the CLI)."""
        prefix = prefix.strip()
        if prefix in self._notes:
            return prefix
        if len(prefix) >= 6:
            matches = [nid for nid in self._notes if nid.startswith(prefix)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise NotFoundError(f"The id prefix {prefix!r} matches {len(matches)} notes; give more of it.")
        raise NotFoundError(f"No note with id {prefix!r}.")

    def __len__(self) -> int:
        self.refresh()
        return len(self._notes)

    def __contains__(self, note_id: str) -> bool:
        self.refresh()
        return note_id in self._notes

    def all_notes(self) -> list[Note]:
        """Every note (copies), oldest first."""
        with self._lock:
            self.refresh()
            return sorted((copy.deepcopy(n) for n in self._notes.values()), key=lambda n: (n.timestamp, n.id))

    @property
    def lock(self) -> threading.RLock:
        """Hold this to read ``graph`` while a background writer may commit (pages use graph_snapshot())."""
        return self._lock

    def notes_view(self) -> dict[str, Note]:
        """A snapshot dict of the notes by id, without copying the notes (read-only by contract).

        Safe to iterate while a background writer commits: commits replace Note objects in the
        live dict, they never change one in place, so the snapshot stays consistent.
        """
        with self._lock:
            self.refresh()
            return dict(self._notes)

    def graph_snapshot(self) -> nx.DiGraph:
        """A copy of the link graph, reused until a commit changes a link or a note set."""
        with self._lock:
            self.refresh()
            if self._graph_copy is None:
                self._graph_copy = self.graph.copy()
            return self._graph_copy

    def vector(self, note_id: str) -> np.ndarray:
        with self._lock:
            self.refresh()
            return self._vectors[note_id]

    def vectors(self, ids: list[str]) -> np.ndarray:
        with self._lock:
            self.refresh()
            return np.vstack([self._vectors[i] for i in ids]) if ids else np.zeros((0, 0), dtype=np.float32)

    def filter(self, *, tag: str | None = None, source: str | None = None, text: str | None = None,
               since: str | None = None, until: str | None = None,
               needs_enrichment: bool | None = None) -> list[Note]:
        """Notes matching every given condition (tag exact, text case-insensitive substring), oldest first."""
        lo = parse_time(since) if since else None
        hi = parse_time(until) if until else None
        needle = text.lower() if text else None
        out = []
        for note in sorted(self.notes_view().values(), key=lambda n: (n.timestamp, n.id)):
            if tag and tag.lower() not in (t.lower() for t in note.tags):
                continue
            if source and note.source != source:
                continue
            if needs_enrichment is not None and note.needs_enrichment != needs_enrichment:
                continue
            if needle and needle not in (note.content + " " + note.context + " " + " ".join(note.keywords)
                                         + " " + " ".join(note.tags)).lower():
                continue
            if lo or hi:
                ts = parse_time(note.timestamp)
                if (lo and ts < lo) or (hi and ts > hi):
                    continue
            out.append(copy.deepcopy(note))
        return out

    def _stacked(self) -> tuple[list[str], np.ndarray]:
        """All vectors as one matrix (cached until a commit changes a vector)."""
        if self._matrix is None:
            ids = list(self._vectors)
            matrix = np.vstack([self._vectors[i] for i in ids]) if ids else np.zeros((0, 1), dtype=np.float32)
            self._matrix = (ids, matrix)
        return self._matrix

    def nearest_ids(self, embedding: np.ndarray, k: int, exclude: set[str] | None = None) -> list[tuple[str, float]]:
        """(id, cosine similarity) of the k most similar notes.

        Local stores search the vectors held in memory exactly (one matrix-vector product: about a
        millisecond at 10k notes, where Chroma's local query measured ~480 ms); a Chroma server is
        asked through its index, since another process may have written vectors we do not hold.
        """
        exclude = exclude or set()
        if self.settings.store_backend != "server":
            row = self.nearest_many(np.asarray(embedding, dtype=np.float32)[None, :], k + len(exclude))[0]
            return [(nid, sim) for nid, sim in row if nid not in exclude][:k]
        with self._lock:
            self.refresh()
            count = len(self._notes)
            if not count or k <= 0:
                return []
            n = min(count, k + len(exclude))
            res = self._col.query(query_embeddings=[np.asarray(embedding, dtype=np.float32).tolist()],
                                  n_results=n, include=["distances"])
            out = [(nid, 1.0 - float(dist)) for nid, dist in zip(res["ids"][0], res["distances"][0])
                   if nid not in exclude and nid in self._notes]
            return out[:k]

    def nearest_many(self, embeddings: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """For each row, the k most similar stored notes by exact cosine (one matrix product).

        Bulk import asks this for hundreds of new notes at once: one numpy product over the vectors
        held in memory beats hundreds of separate index queries.
        """
        with self._lock:
            self.refresh()
            ids, matrix = self._stacked()
            if not ids or k <= 0 or not len(embeddings):
                return [[] for _ in range(len(embeddings))]
        sims = np.asarray(embeddings, dtype=np.float32) @ matrix.T
        k = min(k, len(ids))
        out = []
        for row in sims:
            top = np.argpartition(-row, k - 1)[:k]
            out.append([(ids[i], float(row[i])) for i in top[np.argsort(-row[top])]])
        return out

    def nearest(self, embedding: np.ndarray, k: int, exclude: set[str] | None = None) -> list[Neighbour]:
        """The k most similar notes (shared objects: read them; change copies from ``writing()``)."""
        with self._lock:
            return [Neighbour(self._notes[nid], sim) for nid, sim in self.nearest_ids(embedding, k, exclude)]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            self.refresh()
            notes = list(self._notes.values())
            tags: dict[str, int] = {}
            sources: dict[str, int] = {}
            evolutions = 0
            for n in notes:
                for t in n.tags:
                    tags[t] = tags.get(t, 0) + 1
                sources[n.source] = sources.get(n.source, 0) + 1
                evolutions += sum(1 for c in n.history if c.by == "evolver" and c.field != "evolution")
            disk = 0
            if self.settings.store_backend != "server":
                for root, _dirs, files in os.walk(self.home / "chroma"):
                    disk += sum(os.path.getsize(os.path.join(root, f)) for f in files)
            return {
                "notes": len(notes),
                "links": self.graph.number_of_edges(),
                "tags": len(tags),
                "top_tags": sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[:10],
                "sources": sources,
                "needs_enrichment": sum(1 for n in notes if n.needs_enrichment),
                "evolutions": evolutions,
                "isolated": sum(1 for nid in self.graph if self.graph.degree(nid) == 0),
                "disk_bytes": disk,
                "data_dir": str(self.home),
                "backend": self.settings.store_backend,
            }

    # -- writing ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[WriteBatch]:
        """Collect changes, then commit them in one Chroma upsert (plus one delete, if any).

        Serialised within the process (threads: Streamlit sessions, the background writer) and
        across processes (a lock file), and re-read first so no other writer's change is lost.
        If the block raises, nothing is written.
        """
        with self._lock, self._process_lock():
            self.refresh()
            batch = WriteBatch(self)
            yield batch
            self._commit(batch)

    def _commit(self, batch: WriteBatch) -> None:
        if not batch.puts and not batch.deletes:
            return
        notes = list(batch.puts.values())
        need = [n for n in notes if n.id not in batch.embeddings and (
            n.id not in self._notes or n.text_for_embedding() != self._notes[n.id].text_for_embedding()
            or n.id not in self._vectors)]
        if need:
            fresh = self.embedder.embed([n.text_for_embedding() for n in need])
            for n, vec in zip(need, fresh):
                batch.embeddings[n.id] = vec
        for n in notes:
            if n.id not in batch.embeddings:
                batch.embeddings[n.id] = self._vectors[n.id]
        if notes:
            max_batch = self._max_batch()
            for start in range(0, len(notes), max_batch):
                chunk = notes[start:start + max_batch]
                docs, metas = zip(*(_note_to_record(n) for n in chunk))
                try:
                    self._col.upsert(ids=[n.id for n in chunk],
                                     embeddings=[batch.embeddings[n.id].tolist() for n in chunk],
                                     documents=list(docs), metadatas=list(metas))
                except Exception as exc:  # noqa: BLE001
                    self.reload()  # the cache must mirror the disk, whatever was kept there
                    raise StoreError(f"Writing to the store failed: {type(exc).__name__}: {exc}") from exc
        if batch.deletes:
            try:
                self._col.delete(ids=list(batch.deletes))
            except Exception as exc:  # noqa: BLE001
                self.reload()
                raise StoreError(f"Deleting from the store failed: {type(exc).__name__}: {exc}") from exc
        # Disk is done; update the derived views in memory.
        if batch.deletes or any(n.id not in self._notes or n.links != self._notes[n.id].links for n in notes):
            self._graph_copy = None
        if batch.deletes or any(n.id not in self._vectors or batch.embeddings[n.id] is not self._vectors[n.id]
                                for n in notes):
            self._matrix = None
        for n in notes:
            old = self._notes.get(n.id)
            self._notes[n.id] = n
            self._vectors[n.id] = batch.embeddings[n.id]
            self.lexical.upsert(n.id, _lexical_text(n))
            if old is not None and self.graph.has_node(n.id):
                self.graph.remove_edges_from(list(self.graph.out_edges(n.id)))
            self.graph.add_node(n.id)
        for nid in batch.deletes:
            self._notes.pop(nid, None)
            self._vectors.pop(nid, None)
            self.lexical.remove(nid)
            if self.graph.has_node(nid):
                self.graph.remove_node(nid)
        for n in notes:
            for link in n.links:
                if link.target in self._notes:
                    self.graph.add_edge(n.id, link.target, reason=link.reason, by=link.by, created=link.created)
        self._bump_generation()

    def _max_batch(self) -> int:
        try:
            return max(1, int(self._client.get_max_batch_size()))
        except Exception:  # noqa: BLE001
            return 1000

    def _bump_generation(self) -> None:
        token = f"{os.getpid()}:{uuid.uuid4().hex}"
        tmp = self._generation_path.with_suffix(".tmp")
        tmp.write_text(token, encoding="utf-8")
        os.replace(tmp, self._generation_path)
        self._seen_generation = token

    def touch(self, note_ids: list[str]) -> None:
        """Record that notes were recalled (last_accessed, retrieval_count). Not part of history."""
        if not note_ids:
            return
        stamp = now_iso()
        with self.writing() as w:
            for nid in dict.fromkeys(note_ids):
                if not w.exists(nid):
                    continue
                note = w.get(nid)
                note.last_accessed = stamp
                note.retrieval_count += 1
                w.put(note, self._vectors.get(nid))

    # -- convenience operations used by the pipeline, pages and CLI --------------------------------
    def update(self, note_id: str, by: str = "person", **fields: Any) -> Note:
        """Change fields of a note (recorded in its history, re-embedded when the text changes)."""
        from .notes import EDITABLE_FIELDS, clean_content, normalise_time

        with self.writing() as w:
            note = w.get(self.resolve_id(note_id))
            for name, value in fields.items():
                if name not in EDITABLE_FIELDS:
                    raise StoreError(f"Field {name!r} cannot be edited; editable: {', '.join(EDITABLE_FIELDS)}.")
                if name == "content":
                    value = clean_content(value)
                elif name in ("keywords", "tags"):
                    value = [str(v).strip() for v in value if str(v).strip()]
                elif name == "context":
                    value = " ".join(str(value).split())
                elif name == "timestamp":
                    value = normalise_time(value)
                note.set_field(name, value, by)
            if by == "person" and {"keywords", "context", "tags"} & set(fields):
                note.needs_enrichment = False  # the person wrote the enrichment themselves
            w.put(note)
        return copy.deepcopy(note)

    def delete(self, note_ids: list[str] | str) -> int:
        """Delete notes and every link to them. Returns how many were deleted."""
        ids = [note_ids] if isinstance(note_ids, str) else list(note_ids)
        with self.writing() as w:
            resolved = [self.resolve_id(i) for i in ids]
            for nid in dict.fromkeys(resolved):
                w.delete(nid)
        return len(set(resolved))

    def link(self, source: str, target: str, reason: str = "", by: str = "person") -> bool:
        with self.writing() as w:
            src, dst = self.resolve_id(source), self.resolve_id(target)
            if src == dst:
                raise StoreError("A note cannot link to itself.")
            note = w.get(src)
            changed = note.add_link(dst, reason or "linked by hand", by)
            if changed:
                w.put(note)
        return changed

    def unlink(self, source: str, target: str, by: str = "person") -> bool:
        """Remove the link between two notes, in whichever direction(s) it exists."""
        changed = False
        with self.writing() as w:
            src, dst = self.resolve_id(source), self.resolve_id(target)
            for a, b in ((src, dst), (dst, src)):
                note = w.get(a)
                if note.remove_link(b, by):
                    w.put(note)
                    changed = True
        return changed

    def revert(self, note_id: str, version: int, by: str = "person") -> Note:
        """Bring a note's fields back to an earlier version; the revert is itself recorded (and revertable).

        Links to notes deleted since then are not restored.
        """
        with self.writing() as w:
            note = w.get(self.resolve_id(note_id))
            state = note.state_at(version)
            state["links"] = [x for x in state["links"] if x["target"] in self._notes]
            for name, value in state.items():
                note.set_field(name, value, by)
            w.put(note)
        return copy.deepcopy(note)

    def timeline(self) -> list[tuple[datetime, str, str]]:
        """(time, note id, kind) for creations, links and evolutions: the Insights page plots these."""
        events = []
        for note in self.notes_view().values():
            events.append((parse_time(note.timestamp), note.id, "created"))
            for link in note.links:
                with contextlib.suppress(Exception):
                    events.append((parse_time(link.created), note.id, "link"))
            for change in note.history:
                if change.by == "evolver" and change.field != "evolution":  # not the decision record
                    with contextlib.suppress(Exception):
                        events.append((parse_time(change.at), note.id, "evolution"))
        return sorted(events)


def _lexical_text(note: Note) -> str:
    return " ".join([note.content, " ".join(note.keywords), " ".join(note.tags), note.context])


def open_store(settings: Any, embedder: Any | None = None) -> MemoryStore:
    """The usual way in: the store for these settings with the configured embedder."""
    if embedder is None:
        from .embeddings import LazyEmbedder

        embedder = LazyEmbedder(settings)
    return MemoryStore(settings, embedder)
