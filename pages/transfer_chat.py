"""The Import / Export page's part for chat histories (ChatGPT, Claude, the plain format): what the file
holds, the import as a background job with its progress and Cancel, and its report.

Why apart from pages/transfer.py: that page already lays out four other imports; this one has its own
preview, job and report. The work is memory_core.chat.history_import (the page only lays out widgets);
the job thread never touches Streamlit, a fragment polls it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from memory_core.chat.history_import import HistoryImportJob, HistoryImportReport, start_history_import
from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown
from memory_core.explore.wording import count
from memory_core.transfer.chat_history import parse_history
from pages.common import settings, show_error

REFUSED = "This file cannot be imported; nothing was changed"


def import_chat_history(store: Any, raw: bytes, name: str, job_key: str) -> None:
    """What the file holds, the parts that will be skipped (named), and the button that starts the job."""
    try:
        history = parse_history(raw, name)
    except MemexError as exc:
        show_error(exc, REFUSED, escape=True)
        return
    if not history.conversations:
        st.error(f"{REFUSED}: no conversation in {escape_markdown(name)} could be read.")
        for problem in history.problems[:50]:
            st.text(problem)
        return
    st.info(f"**{escape_markdown(name)}** is {history.describe()}. Each conversation is kept "
            "as it was said, with its dates; your own messages become notes the way the chat makes them "
            "(only what is worth a note, repeats counted once, corrections in the order they were said), "
            "without the model (fast). Importing the same file again changes nothing.")
    if history.problems:
        st.warning(f"{count(len(history.problems), 'part')} of the file cannot be imported and will be "
                   "skipped; the rest can be.")
        with st.expander("What will be skipped"):
            for problem in history.problems[:200]:
                st.text(problem)
    label = f"Import {count(len(history.conversations), 'conversation')}"
    if st.button(label, type="primary", icon="📥", key="transfer_import_chat"):
        st.session_state[job_key] = start_history_import(store, settings(), history)
        st.rerun()


def history_progress(job: HistoryImportJob) -> None:
    """The running import's bar and Cancel (the fragment's body)."""
    if not job.running:
        st.rerun()
    st.subheader(f"Importing {escape_markdown(job.name)}")
    st.button("Cancel", icon="⏹️", key="transfer_cancel", on_click=job.stop, disabled=job.cancel.is_set())
    what = "cancelling…" if job.cancel.is_set() else "fast mode"
    st.progress(job.fraction, text=f"{job.done:,} of {job.total:,} of your messages · {what} · {job.seconds:.0f} s")


def show_history_report(job: HistoryImportJob) -> None:
    if job.error:
        st.error(f"The import stopped: {escape_markdown(job.error)} What was finished before is kept; "
                 "import the file again to finish it.")
        return
    report: HistoryImportReport | None = job.report
    if report is None:
        return
    text = report.summary() + "."  # numbers and fixed words only: nothing from the file
    (st.warning if report.cancelled or report.skipped or report.refused else st.success)(text)
    if report.skipped:
        st.markdown(f"**Skipped** ({len(report.skipped)}; the rest was imported, nothing else was changed):")
        for problem in report.skipped[:200]:
            st.text(f"✗ {problem}")
    if report.refused:
        st.markdown(f"**Kept in the conversation but not as a note** ({len(report.refused)}):")
        for problem in report.refused[:50]:
            st.text(f"⚠ {problem}")
