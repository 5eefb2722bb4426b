"""Import / Export page: bring memories in (a Memex export or a LoCoMo conversation), take them out.

Why it works this way:
- A file is checked completely before the first write (``parse_export`` / ``parse_locomo``): a bad
  file shows what is wrong and the store is left exactly as it was.
- A conversation is ingested by ``MemoryPipeline.add_many`` in a background thread that owns a
  ``threading.Event``; the page polls its progress, so the Cancel button stays usable (clicking it
  reruns the page, which sets the event) and the notes already added stay intact.
- Downloads are generated when clicked (callables), so showing the page costs nothing at 10k notes.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import streamlit as st

from memory_core.errors import ImportFormatError, MemexError
from memory_core.locomo import Sample, parse_locomo
from memory_core.memory.pipeline import BulkReport, MemoryPipeline, NewItem
from memory_core.transfer import FORMAT, export_json, import_notes, parse_export
from memory_core.vault import export_vault
from pages import common
from pages.common import md_escape, open_store_or_stop, settings

JOB_KEY = "_transfer_job"
REFUSED = "This file cannot be imported; nothing was changed"


def show_error(exc: BaseException, what: str) -> None:
    """Like pages.common.show_error, with the message escaped: it may quote the file's own text."""
    text = str(exc) if isinstance(exc, MemexError) else f"unexpected {type(exc).__name__}: {exc}"
    st.error(f"{what}: {md_escape(text)}")


@dataclass
class IngestJob:
    """One conversation ingest running in a background thread (never touches Streamlit)."""

    name: str
    mode: str
    total: int
    done: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    report: BulkReport | None = None
    failure: str = ""
    started: float = field(default_factory=time.perf_counter)
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def start_ingest(store: Any, items: list[NewItem], mode: str, name: str) -> IngestJob:
    llm: Any = None
    if mode == "full":
        llm = common.llm()  # loaded here, in the script thread: a bad model path is reported at once
    pipeline = MemoryPipeline(store, settings(), llm=llm)
    job = IngestJob(name=name, mode=mode, total=len(items))

    def progress(done: int, _total: int) -> None:
        job.done = done

    def run() -> None:
        try:
            job.report = pipeline.add_many(items, mode=mode, progress=progress, cancel=job.cancel, batch_size=64)
        except MemexError as exc:
            job.failure = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown to the person, never a traceback
            job.failure = f"unexpected {type(exc).__name__}: {exc}"

    job.thread = threading.Thread(target=run, name="memex-import", daemon=True)
    job.thread.start()
    return job


def looks_like_locomo(data: Any) -> bool:
    """A list of samples (or one sample), each with a "conversation" object."""
    if isinstance(data, dict):
        data = [data]
    return isinstance(data, list) and bool(data) and all(isinstance(x, dict) and "conversation" in x for x in data)


def conversation_items(sample: Sample) -> list[NewItem]:
    """One note per turn, as the LoCoMo benchmark makes them (memory_core.locomo: content, time), except
    that the reference names the conversation too ("conv-26/D1:3"): one memory may hold several."""
    return [NewItem(content=t.content, timestamp=t.timestamp, source="import",
                    source_ref=f"{sample.sample_id}/{t.dia_id}") for t in sample.turns]


def detect(raw: bytes) -> str:
    """'memex', 'locomo', or raise ImportFormatError saying what the file is not."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"The file is not UTF-8 text (byte {exc.start}).") from exc
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                f"column {exc.colno}.") from exc
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return "memex"
    if looks_like_locomo(data):
        return "locomo"
    raise ImportFormatError(f"This file is neither a Memex export (\"format\": \"{FORMAT}\") nor a LoCoMo "
                            "conversation file (a list of samples with a \"conversation\").")


def show_job(job: IngestJob) -> None:
    """Progress while the job runs (blocking this run, polling), its report when it is done."""
    if job.running:
        st.subheader(f"Importing {md_escape(job.name)}")
        cancel = st.button("Cancel", icon="⏹️", key="transfer_cancel")
        if cancel:
            job.cancel.set()
        bar = st.progress(0.0, text="Starting…")
        while job.running:
            frac = job.done / job.total if job.total else 1.0
            what = "cancelling…" if job.cancel.is_set() else f"{job.mode} mode"
            bar.progress(min(1.0, frac), text=f"{job.done:,} of {job.total:,} turns · {what} · "
                                              f"{time.perf_counter() - job.started:.0f} s")
            time.sleep(0.25)
        st.rerun()
    if job.failure:
        st.error(f"The import stopped: {md_escape(job.failure)} Notes added before that are kept.")
        return
    report = job.report
    if report is None:
        return
    verb = "Cancelled after adding" if report.cancelled else "Added"
    msg = (f"{verb} {report.added:,} note{'s' if report.added != 1 else ''} from {md_escape(job.name)} in "
           f"{report.seconds:.1f} s ({job.mode} mode)")
    if report.usage.calls:
        msg += f", {report.usage.calls} model calls"
    (st.warning if report.cancelled or report.errors else st.success)(msg + ".")
    if report.errors:
        st.error(f"{len(report.errors)} turn{'s' if len(report.errors) != 1 else ''} could not be added:")
        for err in report.errors[:20]:
            st.text(err)


def import_memex(store: Any, raw: bytes, name: str) -> None:
    try:
        notes = parse_export(raw)
    except MemexError as exc:
        show_error(exc, REFUSED)
        return
    existing = sum(1 for n in notes if n.id in store)
    st.info(f"**{md_escape(name)}** is a Memex export with {len(notes):,} notes"
            + (f" ({existing:,} already in this memory)." if existing else "."))
    replace = st.checkbox("Replace notes that are already here (same id)", value=False, key="transfer_replace",
                          disabled=not existing)
    if st.button(f"Import {len(notes):,} notes", type="primary", icon="📥", key="transfer_import_memex"):
        try:
            report = import_notes(store, notes, replace=replace)
        except MemexError as exc:
            show_error(exc, REFUSED)
            return
        st.success(f"Imported: {report.added:,} added, {report.replaced:,} replaced, "
                   f"{len(report.skipped):,} skipped (already here).")


def import_locomo(store: Any, raw: bytes, name: str) -> None:
    try:
        data = parse_locomo(raw)
    except MemexError as exc:
        show_error(exc, REFUSED)
        return
    by_id = {sample.sample_id: sample for sample in data.samples}
    st.info(f"**{md_escape(name)}** is a LoCoMo-format file: {len(by_id)} conversation"
            f"{'s' if len(by_id) != 1 else ''}, {data.turn_count:,} turns. Each turn becomes a note "
            "(\"Speaker: text\", its session's time, reference conversation/dia_id).")
    if data.problems:
        st.warning(f"{len(data.problems)} part{'s' if len(data.problems) != 1 else ''} of the file could not be "
                   "used as is (skipped or repaired, see below); the rest can be imported.")
        with st.expander("What was skipped or repaired"):
            for problem in data.problems[:200]:
                st.text(problem)
    chosen = st.multiselect("Conversations", list(by_id), default=list(by_id), key="transfer_samples",
                            format_func=lambda sid: f"{sid} ({len(by_id[sid].turns)} turns, "
                                                    f"{' & '.join(by_id[sid].speakers)})")
    mode = st.radio("Mode", ["fast", "full"], horizontal=True, key="transfer_mode",
                    format_func=lambda m: {"fast": "⚡ fast: no model, links by similarity (hundreds of notes/s)",
                                           "full": "🧠 full: the model enriches, links and evolves each note "
                                                   "(seconds per note)"}[m])
    items = [item for sid in chosen for item in conversation_items(by_id[sid])]
    if st.button(f"Ingest {len(items):,} turns", type="primary", icon="📥", key="transfer_ingest",
                 disabled=not items):
        try:
            st.session_state[JOB_KEY] = start_ingest(store, items, mode, name)
        except MemexError as exc:
            show_error(exc, "The import cannot start")
            return
        st.rerun()


# ---- the page ----------------------------------------------------------------------------------------
st.title("📦 Import / Export")
store = open_store_or_stop()

st.subheader("Export")
stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
c_json, c_vault = st.columns(2)
c_json.download_button("Download JSON export", data=lambda: export_json(store), icon="💾",
                       file_name=f"memex-export-{stamp}.json", mime="application/json", key="download_json",
                       on_click="ignore", width="stretch")
c_json.caption("Everything, with full fidelity (ids, links, history): import it here or with `memex import`.")
c_vault.download_button("Download Markdown vault (.zip)", data=lambda: export_vault(store), icon="🗂️",
                        file_name=f"memex-vault-{stamp}.zip", mime="application/zip", key="download_vault",
                        on_click="ignore", width="stretch")
c_vault.caption("One Markdown file per note with YAML front matter and [[id|title]] links: unzip and open the "
                "folder as an Obsidian vault.")
st.caption(f"{len(store):,} notes in memory.")

st.divider()
st.subheader("Import")
job: IngestJob | None = st.session_state.get(JOB_KEY)
if job is not None and job.running:
    show_job(job)
    st.stop()
if job is not None:
    show_job(job)
    if st.button("Done", key="transfer_job_done"):
        st.session_state.pop(JOB_KEY, None)
        st.rerun()

upload = st.file_uploader("A Memex export or a LoCoMo-format conversation file (JSON)", type=["json"],
                          key="transfer_upload")
if upload is not None:
    raw = upload.getvalue()
    try:
        kind = detect(raw)
    except MemexError as exc:
        show_error(exc, REFUSED)
        st.stop()
    if kind == "memex":
        import_memex(store, raw, upload.name)
    else:
        import_locomo(store, raw, upload.name)
