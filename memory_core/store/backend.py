"""Opening Chroma: a folder on this machine (local) or a `chroma run` server, and our collections.

Every Chroma failure is turned into a StoreError that says where, what, and that nothing was
changed; a server that does not answer gets its own message (start it, or check the setting).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreError

if TYPE_CHECKING:
    from ..config import Settings

EVENTS = "memex_events"
VIEW = "memex_notes_view"
PROPOSALS = "memex_proposals"
V1_NOTES = "memex_notes"  # store format 1: one record per note (see migrations.py)
# Chroma's local log (its embeddings_queue) is applied and purged every ``sync_threshold`` writes,
# and each write costs time in proportion to what is pending: at the default (1,000) an edit took
# 5x longer just before a sync than just after. 200 keeps it flat for a little more index writing.
SYNC = {"hnsw:sync_threshold": 200, "hnsw:batch_size": 100}
# The view's HNSW index answers only a server's vector queries (a local store searches the vectors
# it holds in memory exactly), yet every note written pays for building it: 0.71 -> 0.40 ms a record
# at 12k notes with construction_ef 32 instead of Chroma's 100, recall@10 0.997 against exact search
# (6,000 bench notes, 66 queries). A creation setting: stores made before keep theirs.
VIEW_META = {"hnsw:space": "cosine", "hnsw:construction_ef": 32, **SYNC}


@dataclass
class Collections:
    client: Any
    events: Any
    view: Any
    proposals: Any
    max_batch: int


def describe(settings: Settings, path: Path | None = None) -> str:
    if settings.store_backend == "server":
        return f"the Chroma server at {settings.chroma_host}:{settings.chroma_port}"
    return f"the database in {path}"


def server_problem(settings: Settings, exc: BaseException) -> StoreError:
    """The message a person reads when the server is gone (or the request failed on the way)."""
    return StoreError(
        f"The Chroma server at {settings.chroma_host}:{settings.chroma_port} did not answer "
        f"({type(exc).__name__}: {str(exc)[:200]}). Nothing was lost: changes Memex reported as saved "
        "are on the server, and this change was not saved. Start the server again "
        "(`chroma run --path <folder> --port <port>`); Memex reconnects by itself."
    )


def client_for(settings: Settings, path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.store_backend == "server":
        return chromadb.HttpClient(host=settings.chroma_host, port=int(settings.chroma_port),
                                   settings=chroma_settings)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def open_collections(settings: Settings, path: Path, *, create: bool = True) -> Collections:
    """The client and the three collections of a format-2 store (created when missing)."""
    try:
        import chromadb  # noqa: F401
    except ImportError as exc:  # pragma: no cover - install problem
        raise StoreError("chromadb is not installed; run `make setup`.") from exc
    where = describe(settings, path)
    try:
        if settings.store_backend != "server" and path.exists() and not (path / "chroma.sqlite3").is_file():
            raise StoreError(f"{path} exists but holds no Chroma database (chroma.sqlite3 is missing).")
        client = client_for(settings, path)
        get = client.get_or_create_collection if create else client.get_collection
        events = get(EVENTS, metadata={"hnsw:space": "l2", **SYNC}, embedding_function=None)
        view = get(VIEW, metadata=VIEW_META, embedding_function=None)
        proposals = get(PROPOSALS, metadata={"hnsw:space": "l2"}, embedding_function=None)
        events.count()
        try:
            max_batch = max(1, int(client.get_max_batch_size()))
        except Exception:  # noqa: BLE001
            max_batch = 1000
    except StoreError as exc:
        raise StoreError(f"{exc} Memex did not change anything there; restore it from a backup or "
                         "choose another data directory.") from exc
    except Exception as exc:  # noqa: BLE001 - chroma raises many types for a broken database
        if settings.store_backend == "server":
            raise server_problem(settings, exc) from exc
        raise StoreError(
            f"Cannot open {where}: {type(exc).__name__}: {str(exc)[:300]}. Memex did not change anything "
            "there; if the folder is damaged, restore it from a backup or import your last export "
            "into a new data directory."
        ) from exc
    return Collections(client, events, view, proposals, max_batch)


def release(settings: Settings, client: Any) -> None:
    """Drop this process's cached Chroma system for a local folder.

    Chroma keeps one in-memory system (with its HNSW index) per folder and process. When another
    process wrote to the folder, that cache is stale; a fresh system replays Chroma's log from disk.
    """
    if settings.store_backend == "server" or client is None:
        return
    with contextlib.suppress(Exception):
        from chromadb.api.shared_system_client import SharedSystemClient

        ident = client._identifier
        client.close()
        system = SharedSystemClient._identifier_to_system.pop(ident, None)
        SharedSystemClient._identifier_to_refcount.pop(ident, None)
        if system is not None:
            system.stop()
