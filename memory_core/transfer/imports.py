"""What an uploaded file is, and the background job that ingests a conversation into notes.

Why here and not in the Import / Export page: the page only lays out widgets. Recognising a file
(a Memex export, a LoCoMo conversation, a vault zip) and running a long ingest in a thread with a
cancel flag are library work with unit tests. The ingest is a ``background.Job`` (the same record and
runner as model downloads); its thread never touches Streamlit, the page only polls its progress.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any

from ..background import Job, run_in_background
from ..errors import ImportFormatError
from ..memory.pipeline import BulkReport, MemoryPipeline, NewItem
from .chat_history import chat_kind, decode, looks_like_jsonl, zip_export
from .locomo_format import Sample
from .memex_json import FORMAT

if TYPE_CHECKING:
    from ..config import Settings
    from ..models.llm import LLM
    from ..store import Store


def looks_like_locomo(data: Any) -> bool:
    """A list of samples (or one sample), each with a "conversation" object."""
    if isinstance(data, dict):
        data = [data]
    return isinstance(data, list) and bool(data) and all(isinstance(x, dict) and "conversation" in x for x in data)


def detect(raw: bytes) -> str:
    """'memex', 'locomo', 'chat' (a ChatGPT or Claude export, its zip, or the plain chat format) or 'vault'
    (any other zip), by content; or raise ImportFormatError saying what the file is not."""
    if raw[:4] == b"PK\x03\x04" or (raw[:4] == b"PK\x05\x06" and zipfile.is_zipfile(BytesIO(raw))):
        return "chat" if zip_export(raw) is not None else "vault"
    text = decode(raw)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if looks_like_jsonl(text):
            return "chat"
        raise ImportFormatError(f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                f"column {exc.colno}.") from exc
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return "memex"
    if isinstance(data, dict) and looks_like_jsonl(text):
        return "chat"
    if chat_kind(data) is not None:
        return "chat"
    if looks_like_locomo(data):
        return "locomo"
    raise ImportFormatError(f"This file is not a Memex export (\"format\": \"{FORMAT}\"), nor a ChatGPT or Claude "
                            "export (conversations.json, or the zip), nor a plain chat history (docs/import.md), "
                            "nor a LoCoMo conversation file or a Markdown vault (.zip).")


def conversation_items(sample: Sample) -> list[NewItem]:
    """One note per turn, as the LoCoMo benchmark makes them (memory_core.bench.locomo_run: content, time), except
    that the reference names the conversation too ("conv-26/D1:3"): one memory may hold several."""
    return [NewItem(content=t.content, timestamp=t.timestamp, source="import",
                    source_ref=f"{sample.sample_id}/{t.dia_id}") for t in sample.turns]


@dataclass(eq=False)
class IngestJob(Job):
    """One conversation ingest running in a background thread (never touches Streamlit).

    ``done`` counts turns; a cancelled ingest still ends ``done``, its report saying how far it got."""

    mode: str = "fast"

    @property
    def report(self) -> BulkReport | None:
        return self.result

    @property
    def failure(self) -> str:
        return self.error


def start_ingest(store: Store, settings: Settings, items: list[NewItem], mode: str, name: str, llm: LLM | None = None,
                 batch_size: int = 64) -> IngestJob:
    """Start adding ``items`` in a thread; ``job.stop()`` stops it between batches (the notes already
    added stay)."""
    pipeline = MemoryPipeline(store, settings, llm=llm)

    def work(job: IngestJob) -> BulkReport:
        return pipeline.add_many(items, mode=mode, progress=job.progress, cancel=job.cancel, batch_size=batch_size)

    return run_in_background(IngestJob(name=name, mode=mode, total=len(items)), work)
