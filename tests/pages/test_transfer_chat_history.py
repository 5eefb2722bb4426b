"""The Import / Export page with a chat history: preview, the import job, its report, Cancel (AppTest)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from streamlit.testing.v1 import AppTest

from memory_core.config import Settings
from memory_core.episodes.conversations import ConversationStore
from memory_core.store import MemoryStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SAMPLES = Path(__file__).resolve().parents[1] / "transfer" / "chat_samples"


def transfer_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/transfer.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chatgpt_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("chat.html", "<html></html>")
        zf.write(SAMPLES / "chatgpt_conversations.json", "conversations.json")
    return buf.getvalue()


def test_a_chatgpt_zip_is_imported_with_a_report(app_home: Settings, embedder) -> None:
    at = transfer_page()
    at.file_uploader(key="transfer_upload").set_value(("chatgpt-export.zip", chatgpt_zip(), "application/zip"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("a ChatGPT export: 2 conversations, 7 messages (4 from you)" in x.value for x in at.info)
    assert any("1 part of the file cannot be imported" in w.value for w in at.warning)
    at.button(key="transfer_import_chat").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["_transfer_job"]
    assert job.wait(120) and job.state == "done", job.error
    at.run()  # the fragment's end runs the page again
    assert not at.exception, [e.value for e in at.exception]
    report = " ".join(w.value for w in at.warning)
    assert "2 conversations added" in report and "4 new notes" in report
    assert any("'Broken tree': its message tree has no root" in t.value for t in at.text)
    store = MemoryStore(app_home, embedder)
    assert sorted(n.timestamp for n in store.all_notes())[0] == "2024-05-01T10:01:00+00:00"
    assert {c.title for c in ConversationStore(app_home.home).list()} == {"Sourdough starter", "Marathon plan"}
    at.button(key="transfer_job_done").click().run()
    assert "_transfer_job" not in at.session_state


def test_the_report_replaces_the_preview_once_the_import_has_ended(app_home: Settings, embedder) -> None:
    """A browser trial saw the file's preview and its Import button still on screen under the report, as if
    the import were pending. Once it has ended the page shows the report alone; Done brings back an empty
    upload."""
    at = transfer_page()
    at.file_uploader(key="transfer_upload").set_value(("conversations.json", (SAMPLES / "chatgpt_conversations.json")
                                                       .read_bytes(), "application/json"))
    at.run()
    assert any("a ChatGPT export" in x.value for x in at.info)  # the preview, before
    at.button(key="transfer_import_chat").click().run()
    job = at.session_state["_transfer_job"]
    assert job.wait(120) and job.state == "done", job.error
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("2 conversations added" in w.value for w in [*at.warning, *at.success])  # the report
    assert not any("a ChatGPT export" in x.value for x in at.info)  # no stale preview ...
    keys = {b.key for b in at.button}
    assert "transfer_import_chat" not in keys and "transfer_job_done" in keys  # ... nor its Import button
    assert not at.get("file_uploader") and "transfer_vault_dir" not in {w.key for w in at.text_input}
    at.button(key="transfer_job_done").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [u.value for u in at.get("file_uploader")] == [None]  # the upload is empty again
    assert not any("a ChatGPT export" in x.value for x in at.info)
    assert not [w for w in at.warning if "conversations added" in w.value]
    assert "transfer_import_chat" not in {b.key for b in at.button}


def test_a_running_chat_import_shows_progress_and_cancel_stops_it(app_home: Settings) -> None:
    from memory_core.background import run_in_background
    from memory_core.chat.history_import import HistoryImportJob

    def work(job: HistoryImportJob) -> None:
        job.progress(3, 12)
        job.cancel.wait(30)  # the import looks at its cancel flag between two messages

    at = AppTest.from_file(APP, default_timeout=90)
    job = run_in_background(HistoryImportJob(name="conversations.json", total=12), work)
    try:
        at.session_state["_transfer_job"] = job
        at.switch_page("pages/transfer.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        bar = at.get("progress")[0]
        assert bar.proto.value == 25 and "3 of 12 of your messages" in bar.proto.text
        at.button(key="transfer_cancel").click().run()
        assert job.wait(10) and job.cancel.is_set()
    finally:
        job.stop()


def test_a_broken_chat_history_is_refused_on_the_page(app_home: Settings) -> None:
    at = transfer_page()
    raw = b'{"conversations": [{"title": "Only", "messages": [{"role": "robot", "content": "x"}]}]}'
    at.file_uploader(key="transfer_upload").set_value(("history.json", raw, "application/json"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.value.startswith("This file cannot be imported; nothing was changed: no conversation in history")
               and "could be read" in e.value for e in at.error)
    assert any("'Only'" in t.value for t in at.text)
    assert not [b for b in at.button if b.key == "transfer_import_chat"]
