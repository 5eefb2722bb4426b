"""Import / Export page: bring memories in (a Memex export, a chat history from ChatGPT, Claude or the plain
format, a LoCoMo conversation, a Markdown vault), take them out (JSON, or a vault as a zip or into a folder).

Why it works this way (the page lays out widgets; the work is in memory_core):
- A JSON file is checked completely before the first write (``parse_export`` / ``parse_locomo``): a bad
  file shows what is wrong and the store is left exactly as it was.
- A vault (zip upload or a folder on this computer) is imported by ``memory_core.transfer.vault.import_vault``:
  each file is reported (added, updated, unchanged, refused and why); the usable ones are written in
  one batch.
- A conversation is ingested by ``memory_core.transfer.imports.start_ingest`` (a ``background.Job``) in a
  background thread with a cancel flag; a fragment redraws its progress (``st.fragment(run_every=...)``,
  as the Chat page's memory queue), so the Cancel button stays usable and the notes already added stay.
- A chat history is imported by ``memory_core.chat.history_import`` in the same kind of job
  (pages/transfer_chat.py lays it out): each conversation named when it is skipped, a report at the end.
- Downloads are generated when clicked (callables), so showing the page costs nothing at 10k notes.
- Once an import has ended, its report takes the place of the upload, the file's preview and the folder
  box until "Done": a preview with its Import button still showing under a report made a finished import
  look pending (a browser trial found this). "Done" also empties the upload.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd
import streamlit as st

from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown
from memory_core.explore.wording import count
from memory_core.memory.pipeline import NewItem
from memory_core.transfer.imports import IngestJob, conversation_items, detect, start_ingest
from memory_core.transfer.locomo_format import parse_locomo
from memory_core.transfer.memex_json import export_json, import_notes, parse_export
from memory_core.transfer.vault import VaultImportReport, export_to_dir, export_vault, import_vault
from memory_core.transfer.vault.reader import read_zip
from pages import common
from pages.common import memory_size, open_store_or_stop, settings, show_error, text_and_buttons
from pages.transfer_chat import HistoryImportJob, history_progress, import_chat_history, show_history_report

JOB_KEY = "_transfer_job"
REPORT_KEY = "_transfer_vault_report"
MEMEX_KEY = "_transfer_memex_report"  # the line saying what a Memex export import added, replaced, skipped
UPLOAD_GEN_KEY = "_transfer_upload_gen"
REFUSED = "This file cannot be imported; nothing was changed"
POLL_SECONDS = 0.5


def begin_ingest(store: Any, items: list[NewItem], mode: str, name: str) -> IngestJob:
    llm = common.llm() if mode == "full" else None  # loaded here: a bad model path is reported at once
    return start_ingest(store, settings(), items, mode, name, llm=llm)


def job_progress(job: IngestJob) -> None:
    """The running import: its progress bar and Cancel, redrawn by a fragment twice a second (the page
    never sleeps); when the job has ended, the whole page runs again and shows its report."""
    if not job.running:
        st.rerun()
    st.subheader(f"Importing {escape_markdown(job.name)}")
    st.button("Cancel", icon="⏹️", key="transfer_cancel", on_click=job.stop, disabled=job.cancel.is_set())
    what = "cancelling…" if job.cancel.is_set() else f"{job.mode} mode"
    st.progress(job.fraction, text=f"{job.done:,} of {count(job.total, 'turn')} · {what} · {job.seconds:.0f} s")


def show_job(job: IngestJob | HistoryImportJob) -> None:
    """Progress while the job runs, its report when it is done."""
    if isinstance(job, HistoryImportJob):
        if job.running:
            st.fragment(history_progress, run_every=POLL_SECONDS)(job)
        else:
            show_history_report(job)
        return
    if job.running:
        st.fragment(job_progress, run_every=POLL_SECONDS)(job)
        return
    if job.failure:
        st.error(f"The import stopped: {escape_markdown(job.failure)} Notes added before that are kept.")
        return
    report = job.report
    if report is None:
        return
    verb = "Cancelled after adding" if report.cancelled else "Added"
    msg = (f"{verb} {count(report.added, 'note')} from {escape_markdown(job.name)} in "
           f"{report.seconds:.1f} s ({job.mode} mode)")
    if report.usage.calls:
        msg += f", {count(report.usage.calls, 'model call')}"
    (st.warning if report.cancelled or report.errors else st.success)(msg + ".")
    if report.errors:
        st.error(f"{count(len(report.errors), 'turn')} could not be added:")
        for err in report.errors[:20]:
            st.text(err)


def import_memex(store: Any, raw: bytes, name: str) -> None:
    try:
        notes = parse_export(raw)
    except MemexError as exc:
        show_error(exc, REFUSED, escape=True)
        return
    existing = sum(1 for n in notes if n.id in store)
    st.info(f"**{escape_markdown(name)}** is a Memex export with {count(len(notes), 'note')}"
            + (f" ({existing:,} already in this memory)." if existing else "."))
    replace = st.checkbox("Replace notes that are already here (same id)", value=False, key="transfer_replace",
                          disabled=not existing)
    if st.button(f"Import {count(len(notes), 'note')}", type="primary", icon="📥", key="transfer_import_memex"):
        try:
            report = import_notes(store, notes, replace=replace)
        except MemexError as exc:
            show_error(exc, REFUSED, escape=True)
            return
        st.session_state[MEMEX_KEY] = (f"Imported {escape_markdown(name)}: {report.added:,} added, "
                                       f"{report.replaced:,} replaced, {len(report.skipped):,} skipped (already here).")
        st.rerun()


def import_locomo(store: Any, raw: bytes, name: str) -> None:
    try:
        data = parse_locomo(raw)
    except MemexError as exc:
        show_error(exc, REFUSED, escape=True)
        return
    by_id = {sample.sample_id: sample for sample in data.samples}
    st.info(f"**{escape_markdown(name)}** is a LoCoMo-format file: {count(len(by_id), 'conversation')}, "
            f"{count(data.turn_count, 'turn')}. Each turn becomes a note "
            "(\"Speaker: text\", its session's time, reference conversation/dia_id).")
    if data.problems:
        st.warning(f"{count(len(data.problems), 'part')} of the file could not be "
                   "used as is (skipped or repaired, see below); the rest can be imported.")
        with st.expander("What was skipped or repaired"):
            for problem in data.problems[:200]:
                st.text(problem)
    chosen = st.multiselect("Conversations", list(by_id), default=list(by_id), key="transfer_samples",
                            format_func=lambda sid: f"{sid} ({count(len(by_id[sid].turns), 'turn')}, "
                                                    f"{' & '.join(by_id[sid].speakers)})")
    mode = st.radio("Mode", ["fast", "full"], horizontal=True, key="transfer_mode",
                    format_func=lambda m: {"fast": "⚡ fast: no model, links by similarity (hundreds of notes/s)",
                                           "full": "🧠 full: the model enriches, links and evolves each note "
                                                   "(seconds per note)"}[m])
    items = [item for sid in chosen for item in conversation_items(by_id[sid])]
    if st.button(f"Ingest {count(len(items), 'turn')}", type="primary", icon="📥", key="transfer_ingest",
                 disabled=not items):
        try:
            st.session_state[JOB_KEY] = begin_ingest(store, items, mode, name)
        except MemexError as exc:
            show_error(exc, "The import cannot start", escape=True)
            return
        st.rerun()


def show_vault_report(report: VaultImportReport) -> None:
    """The per-file report: a summary line, every refused file with its reason, then the table."""
    refused, warned = report.refused, report.warned
    text = escape_markdown(report.summary()) + " · nothing else in the memory was changed."
    (st.warning if refused or warned else st.success)(text)
    if refused:
        st.markdown(f"**{count(len(refused), 'file')} could not be imported** "
                    "(fix them and import again; the others are in):")
        for f in refused:
            st.text(f"✗ {f.path}: {'; '.join(f.problems)}")
    for f in warned:
        st.text(f"⚠ {f.path}: {'; '.join(f.problems)}")
    rows = pd.DataFrame([{"file": f.path, "status": f.status, "note": f.note_id[:8], "title": f.title,
                          "changed": ", ".join(f.changed), "problems": "; ".join(f.problems)} for f in report.files])
    st.dataframe(rows, hide_index=True, width="stretch", key="transfer_vault_table")


def run_vault_import(store: Any, source: Any) -> None:
    try:
        st.session_state[REPORT_KEY] = import_vault(store, source)
    except MemexError as exc:
        st.session_state.pop(REPORT_KEY, None)
        show_error(exc, "The vault cannot be imported; nothing was changed", escape=True)
        return
    st.rerun()  # the page again: the report in place of the preview


def import_vault_zip(store: Any, raw: bytes, name: str) -> None:
    try:
        files = read_zip(raw)
    except MemexError as exc:
        show_error(exc, REFUSED, escape=True)
        return
    st.info(f"**{escape_markdown(name)}** is a zip with {count(len(files), 'Markdown file')}. "
            "Files with a Memex id update their note; new files become notes; each file is reported.")
    if st.button(f"Import {count(len(files), 'file')}", type="primary", icon="📥", key="transfer_import_vault",
                 disabled=not files):
        run_vault_import(store, raw)


def vault_folder_section(store: Any) -> None:
    st.markdown("**…or a vault folder on this computer** (an Obsidian vault, or one Memex exported)")
    row = text_and_buttons()  # the buttons keep their whole label and wrap below the box when narrow
    folder = row.text_input("Vault folder", key="transfer_vault_dir", placeholder="/home/me/Obsidian/Memex",
                            label_visibility="collapsed", width="stretch").strip()
    if row.button("Import folder", icon="📥", key="transfer_import_vault_dir", disabled=not folder):
        run_vault_import(store, folder)
    if row.button("Export to folder", icon="🗂️", key="transfer_export_vault_dir", disabled=not folder,
                  help="Write every note there as Markdown (files Memex wrote before are "
                  "replaced; your own files are left alone)"):
        try:
            n = export_to_dir(store, folder)
            st.success(f"Exported {count(n, 'note')} to {escape_markdown(folder)} (notes/ and index.md).")
        except MemexError as exc:
            show_error(exc, "The vault was not exported", escape=True)


def upload_key() -> str:
    """The upload's widget key, new after each "Done": a file uploader keeps its file even through runs
    that do not draw it, so a new key is the way to show an empty upload after an import has ended."""
    gen = st.session_state.get(UPLOAD_GEN_KEY, 0)
    return "transfer_upload" if not gen else f"transfer_upload_{gen}"


def clear_reports() -> None:
    for key in (JOB_KEY, REPORT_KEY, MEMEX_KEY):
        st.session_state.pop(key, None)
    st.session_state[UPLOAD_GEN_KEY] = st.session_state.get(UPLOAD_GEN_KEY, 0) + 1


def show_finished(job: IngestJob | HistoryImportJob | None) -> bool:
    """The report of the import that has ended (what was added, skipped, refused) and its "Done", drawn
    in place of the upload and the folder box; False when there is none. Done forgets the report, and the
    upload, not drawn meanwhile, comes back empty."""
    vault: VaultImportReport | None = st.session_state.get(REPORT_KEY)
    memex: str | None = st.session_state.get(MEMEX_KEY)
    if job is not None:
        show_job(job)
        key = "transfer_job_done"
    elif vault is not None:
        st.subheader(f"Vault import: {escape_markdown(vault.source)}")
        show_vault_report(vault)
        key = "transfer_vault_done"
    elif memex is not None:
        st.success(memex)
        key = "transfer_memex_done"
    else:
        return False
    st.button("Done", key=key, type="primary", on_click=clear_reports,
              help="Close this report and import another file")
    return True


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
c_vault.download_button("Download vault (.zip)", data=lambda: export_vault(store), icon="🗂️",
                        file_name=f"memex-vault-{stamp}.zip", mime="application/zip", key="download_vault",
                        on_click="ignore", width="stretch")
c_vault.caption("One Markdown file per note, named by its title, with YAML front matter and [[File|title]] "
                "links: unzip and open the folder as an Obsidian vault; edit it there and import it back.")
st.caption(f"{count(memory_size(store), 'note')} in memory.")

st.divider()
st.subheader("Import")
job: IngestJob | HistoryImportJob | None = st.session_state.get(JOB_KEY)
if job is not None and job.running:
    show_job(job)
    st.stop()
if show_finished(job):
    st.stop()

upload = st.file_uploader("A Memex export, a chat history (ChatGPT's or Claude's conversations.json or export "
                          "zip, or the plain JSON/JSONL format), a LoCoMo-format conversation file, or a Markdown "
                          "vault (.zip)", type=["json", "jsonl", "zip"], key=upload_key(),
                          help="Recognised by what is inside, not by the name. The plain chat format: "
                               "{\"conversations\": [{\"title\": ..., \"messages\": [{\"role\": \"user\" or "
                               "\"assistant\", \"content\": ..., \"timestamp\": ISO 8601}]}]}, or JSONL with one "
                               "message a line and a \"conversation\" key (docs/import.md).")
if upload is not None:
    raw = upload.getvalue()
    try:
        kind = detect(raw)
    except MemexError as exc:
        show_error(exc, REFUSED, escape=True)
        st.stop()
    if kind == "memex":
        import_memex(store, raw, upload.name)
    elif kind == "chat":
        import_chat_history(store, raw, upload.name, JOB_KEY)
    elif kind == "locomo":
        import_locomo(store, raw, upload.name)
    else:
        import_vault_zip(store, raw, upload.name)
vault_folder_section(store)
