"""The records of the write path: a note to add in bulk (``NewItem``) and what a write did
(``WriteReport`` for one note, ``BulkReport`` for many).

Why apart from the pipeline: the bulk path (bulk.py), imports and benchmarks build and read these
without needing the pipeline that makes them, so they sit below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models.llm import Usage


@dataclass
class WriteReport:
    """What one write did and cost; the chat page shows it, benchmarks sum it."""

    note_id: str
    mode: str
    usage: Usage = field(default_factory=Usage)
    links: list[str] = field(default_factory=list)
    evolved: list[str] = field(default_factory=list)
    ignored_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    proposals: list[str] = field(default_factory=list)  # ids of proposals recorded in the inbox
    proposed: int = 0  # model-proposed changes (links, contexts, tags)
    grounded: int = 0  # of which passed judgement
    applied: int = 0  # of which were applied (auto-apply with a capable model)
    rejected: list[str] = field(default_factory=list)  # why the others were turned down
    enrichment_source: str = "none"  # model / model-retry / fallback / none
    needs_enrichment: bool = False
    seconds: float = 0.0


@dataclass
class BulkReport:
    added: int = 0
    errors: list[str] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    note_ids: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@dataclass
class NewItem:
    """One note to add in bulk (import, benchmark ingest)."""

    content: str
    timestamp: str | None = None
    source: str = "import"
    source_ref: str = ""
    keywords: list[str] | None = None
    tags: list[str] | None = None
    context: str | None = None
    turn_context: str = ""  # what was said before it (and when): used by retrieval, never content
    speaker: str = ""
    conversation_id: str = ""
    message_id: str = ""
