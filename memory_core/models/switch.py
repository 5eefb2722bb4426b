"""When the Settings page may switch models: which fields belong to which model, and the rule for
the embedding model.

Why a rule of its own: vectors from two embedding models cannot be compared, and the store does not
record which model made its vectors, so switching the embedder under a memory that holds notes would
make every search quietly wrong. Such a switch is refused with the way to do it (export, a new
folder, import); on an empty memory the new model is probed first, so a typo never leaves the app
without an embedder.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import MemexError

LLM_FIELDS = ("llm_backend", "model_path", "server_url", "n_ctx", "n_threads", "seed")
EMBEDDING_FIELDS = ("embedding_backend", "embedding_model_path")


def changed(candidate: Any, current: Any, fields: Iterable[str]) -> bool:
    """Whether any of ``fields`` differs between two settings."""
    return any(getattr(candidate, f) != getattr(current, f) for f in fields)


def embedder_switch_problem(candidate: Any, current: Any, notes_held: int | None) -> str | None:
    """None when the embedding settings may be saved; else why not, in words for the person.

    ``notes_held`` is how many notes the current memory holds (None when it cannot be opened: then
    nothing would be mixed, and the new model is probed like on an empty memory)."""
    if not changed(candidate, current, EMBEDDING_FIELDS):
        return None
    if notes_held:
        return (f"The memory holds {notes_held:,} note{'s' if notes_held != 1 else ''} embedded with the current "
                "embedding model; vectors from another model cannot be compared with them. To switch: export your "
                "notes (Import / Export), point MEMEX_HOME at a new folder, choose the new embedding model there, "
                "and import the export.")
    return probe_embedder(candidate)


def probe_embedder(candidate: Any) -> str | None:
    """None when the embedder of these settings loads and returns a vector; else why not."""
    try:
        if candidate.embedding_backend == "gguf":
            from .locate import check_gguf

            check_gguf(candidate.embedding_model_path)
        from .embeddings import get_embedder

        vec = get_embedder(candidate).embed(["probe"])
        if vec.shape[0] != 1:
            return "The embedding model returned no vector."
    except MemexError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - llama.cpp / torch errors become a message
        return f"The embedding model cannot be used: {type(exc).__name__}: {exc}"
    return None
