"""The Import / Export page through AppTest, and the LoCoMo conversation adapter it uses.

A refused file must leave the store exactly as it was: compared through the full JSON export
(ids, content, links, history), before and after.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from memory_core.config import Settings
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.store import MemoryStore
from memory_core.transfer.memex_json import export_data, export_json

APP = str(Path(__file__).resolve().parents[2] / "app.py")

CONVERSATION = [
    {"sample_id": "conv-a", "conversation": {
        "speaker_a": "Ann", "speaker_b": "Bob",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a dog named Rex last week."},
            {"speaker": "Bob", "dia_id": "D1:2", "text": "Nice! What breed is he?",
             "blip_caption": "a photo of a beagle", "img_url": ["http://example.invalid/x.jpg"]},
            {"speaker": "Ann", "dia_id": "D1:3", "text": ""},
        ],
        "session_2_date_time": "10:05 am on 9 June, 2023",
        "session_2": [{"speaker": "Ann", "dia_id": "D2:1", "text": "Rex learned to sit <script>alert(1)</script>"}],
    }, "qa": [{"question": "What is the dog's name?", "answer": "Rex", "evidence": ["D1:1"], "category": 4}]},
    {"sample_id": "conv-b", "conversation": {
        "speaker_a": "Cy", "speaker_b": "Di",
        "session_1_date_time": "9:00 pm on 1 January, 2022",
        "session_1": [{"speaker": "Cy", "dia_id": "D1:1", "text": "Happy new year!"}],
    }, "qa": []},
]


def seed(settings: Settings, embedder) -> tuple[MemoryStore, list[str]]:
    store = MemoryStore(settings, embedder)
    report = MemoryPipeline(store, settings.replace(fast_link_threshold=0.99)).add_many(
        [NewItem("Tea with Maria on Sunday.", timestamp="2024-03-03T15:00:00+00:00", source="manual"),
         NewItem("Maria moved to Lisbon.", timestamp="2024-03-04T15:00:00+00:00", source="manual")])
    store.link(report.note_ids[1], report.note_ids[0], "both about Maria")
    store.update(report.note_ids[0], tags=["friends"])
    return store, report.note_ids


def snapshot(settings: Settings, embedder) -> dict[str, Any]:
    data = export_data(MemoryStore(settings, embedder))
    data.pop("exported")
    return data


def transfer_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/transfer.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.get("file_uploader")[0].set_value((name, content, "application/json"))  # its key changes after "Done"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def finish_import(at: AppTest, timeout: float = 120) -> None:
    """The page shows a running import in a fragment that redraws itself; AppTest does not run timers,
    so the test waits for the job and runs the page again, as the fragment's end does."""
    job = at.session_state["_transfer_job"]
    assert job.wait(timeout) and job.state == "done", job.error
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_empty_store(app_home: Settings) -> None:
    at = transfer_page()
    assert "Import / Export" in at.title[0].value
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download JSON export", "Download vault (.zip)"]
    assert not at.error


def test_memex_export_round_trip(app_home: Settings, embedder, tmp_path: Path) -> None:
    source, ids = seed(Settings(data_dir=str(tmp_path / "other")), embedder)
    raw = export_json(source).encode()
    at = upload(transfer_page(), "memex.json", raw)
    assert any("Memex export with 2 notes" in x.value for x in at.info)
    at.button(key="transfer_import_memex").click().run()
    assert not at.exception
    assert any("2 added" in x.value for x in at.success)
    assert not at.info and "transfer_import_memex" not in {b.key for b in at.button}  # the report, no preview
    mine = MemoryStore(app_home, embedder)
    for note in source.all_notes():
        assert mine.get(note.id).to_dict() == note.to_dict()  # ids, links, history, all of it
    assert mine.graph.has_edge(ids[1], ids[0])
    # the same file again: everything is skipped, nothing changes
    before = snapshot(app_home, embedder)
    at.button(key="transfer_memex_done").click().run()
    assert not at.success and [u.value for u in at.get("file_uploader")] == [None]
    upload(at, "memex.json", raw).button(key="transfer_import_memex").click().run()
    assert any("2 skipped" in x.value for x in at.success)
    assert snapshot(app_home, embedder) == before


BAD_FILES = {
    "not json": b"{not json",
    "not utf-8": b"\xff\xfe\x00bad",
    "foreign json": json.dumps({"hello": "world"}).encode(),
    "newer version": json.dumps({"format": "memex-export", "version": 99, "notes": []}).encode(),
    "bad note": json.dumps({"format": "memex-export", "version": 1, "notes": [{"id": "x", "content": ""}]}).encode(),
    "dangling link": json.dumps({"format": "memex-export", "version": 1, "notes": [
        {"id": "n1", "content": "hello", "links": [{"target": "missing"}]}]}).encode(),
    "duplicate ids": json.dumps({"format": "memex-export", "version": 1, "notes": [
        {"id": "n1", "content": "a"}, {"id": "n1", "content": "b"}]}).encode(),
    "locomo turns without dia_id": json.dumps([{"sample_id": "s", "conversation": {
        "session_1_date_time": "1:56 pm on 8 May, 2023", "session_1": [{"speaker": "A", "text": "hi"}]}}]).encode(),
    "locomo turn not object": json.dumps([{"sample_id": "s", "conversation": {"session_1": ["hi"]}}]).encode(),
    "locomo no sessions": json.dumps([{"sample_id": "s", "conversation": {"speaker_a": "A"}}]).encode(),
    "locomo conversation not object": json.dumps([{"sample_id": "s", "conversation": "hello"}]).encode(),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_shows_error_and_changes_nothing(app_home: Settings, embedder, case: str) -> None:
    seed(app_home, embedder)
    before = snapshot(app_home, embedder)
    at = upload(transfer_page(), f"{case}.json", BAD_FILES[case])
    for key in ("transfer_import_memex", "transfer_ingest"):  # try to import whatever is offered
        if key in [b.key for b in at.button]:
            at.button(key=key).click().run()
            assert not at.exception
    errors = [x.value for x in at.error]
    assert len(errors) == 1 and errors[0].startswith("This file cannot be imported; nothing was changed:"), errors
    assert snapshot(app_home, embedder) == before


def test_locomo_ingest_fast(app_home: Settings, embedder) -> None:
    seed(app_home, embedder)
    at = upload(transfer_page(), "locomo.json", json.dumps(CONVERSATION).encode())
    assert any("2 conversations, 4 turns" in x.value for x in at.info)
    assert at.multiselect(key="transfer_samples").value == ["conv-a", "conv-b"]
    assert any("1 part of the file could not be used" in w.value for w in at.warning)  # the empty turn
    assert any("D1:3 is empty" in t.value for t in at.text)
    at.multiselect(key="transfer_samples").set_value(["conv-a"]).run()
    at.radio(key="transfer_mode").set_value("fast")
    at.button(key="transfer_ingest").click().run()
    assert not at.exception, [e.value for e in at.exception]
    finish_import(at)
    assert any("Added 3 notes" in x.value for x in at.success), [x.value for x in at.success]
    notes = {n.source_ref: n for n in MemoryStore(app_home, embedder).all_notes() if n.source == "import"}
    assert set(notes) == {"conv-a/D1:1", "conv-a/D1:2", "conv-a/D2:1"}
    assert notes["conv-a/D1:1"].content == "Ann: I adopted a dog named Rex last week."
    assert notes["conv-a/D1:1"].timestamp == "2023-05-08T13:56:00+00:00"
    assert notes["conv-a/D1:2"].content == "Bob: Nice! What breed is he? [photo: a photo of a beagle]"
    assert notes["conv-a/D1:2"].timestamp > notes["conv-a/D1:1"].timestamp  # dialogue order is kept
    assert notes["conv-a/D2:1"].timestamp.startswith("2023-06-09T10:05")
    assert notes["conv-a/D2:1"].content.endswith("<script>alert(1)</script>")
    # the report stays until dismissed
    at.button(key="transfer_job_done").click().run()
    assert not at.success


@pytest.mark.real_model
def test_locomo_ingest_full_with_the_real_model(app_home: Settings, embedder, real_llm, monkeypatch) -> None:
    import memory_core.models.llm

    monkeypatch.setattr(memory_core.models.llm, "get_llm", lambda _settings: real_llm)
    at = upload(transfer_page(), "locomo.json", json.dumps(CONVERSATION[1:]).encode())
    at.radio(key="transfer_mode").set_value("full")
    at.button(key="transfer_ingest").click()
    at.run(timeout=900)
    assert not at.exception, [e.value for e in at.exception]
    finish_import(at, timeout=900)
    done = [x.value for x in at.success]
    assert any("Added 1 note" in x and "model call" in x for x in done), done
    note = MemoryStore(app_home, embedder).all_notes()[0]
    # the model wrote the enrichment (tags are kept only when grounded in the text: a greeting may get none)
    assert note.content == "Cy: Happy new year!" and note.keywords and note.context


def test_repairable_locomo_file_is_imported_with_a_warning(app_home: Settings, embedder) -> None:
    sample = {"sample_id": "s", "conversation": {"session_1_date_time": "someday", "session_1": [
        {"speaker": "A", "dia_id": "D1:1", "text": "hello"}, "not a turn"]}}
    at = upload(transfer_page(), "repairable.json", json.dumps([sample]).encode())
    warned = " ".join(t.value for t in at.text)
    assert "someday" in warned and "not an object" in warned
    at.button(key="transfer_ingest").click().run()
    finish_import(at)
    assert any("Added 1 note" in x.value for x in at.success)
    assert [n.content for n in MemoryStore(app_home, embedder).all_notes()] == ["A: hello"]


def test_cancelled_ingest_keeps_what_was_added(store: MemoryStore, settings: Settings) -> None:
    items = [NewItem(f"turn {i}") for i in range(5)]
    cancel = threading.Event()
    added: list[int] = []

    def progress(done: int, total: int) -> None:
        added.append(done)
        cancel.set()  # the person presses Cancel after the first batch

    report = MemoryPipeline(store, settings).add_many(items, mode="fast", progress=progress, cancel=cancel,
                                                      batch_size=2)
    assert report.cancelled and report.added == 2 == len(store) and added == [2]


# ---- the Markdown vault ------------------------------------------------------------------------------
VAULT = Path(__file__).resolve().parents[1] / "fixtures" / "vault"


def fixture_zip() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(VAULT.rglob("*")):
            if path.is_file():
                zf.write(path, f"my-vault/{path.relative_to(VAULT).as_posix()}")
    return buf.getvalue()


def test_detect_recognises_each_kind() -> None:
    from memory_core.errors import ImportFormatError
    from memory_core.transfer.imports import detect

    assert detect(fixture_zip()) == "vault"
    assert detect(json.dumps(CONVERSATION).encode()) == "locomo"
    assert detect(json.dumps({"format": "memex-export", "version": 1, "notes": []}).encode()) == "memex"
    for bad in BAD_FILES.values():
        if b"memex-export" not in bad and b"conversation" not in bad:
            with pytest.raises(ImportFormatError):
                detect(bad)


def test_vault_zip_upload_reports_each_file(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    before = {n.id: n.to_dict() for n in store.all_notes()}
    at = transfer_page()
    at.file_uploader(key="transfer_upload").set_value(("my-vault.zip", fixture_zip(), "application/zip"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("zip with 8 Markdown files" in x.value for x in at.info)
    at.button(key="transfer_import_vault").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("6 added" in w.value and "2 refused" in w.value for w in at.warning)
    texts = [t.value for t in at.text]
    assert any(t.startswith("✗ Latin-1 note.md: not UTF-8") for t in texts)
    assert any(t.startswith("✗ Broken front matter.md: the front matter is not valid YAML") for t in texts)
    assert any(t.startswith("⚠ Dangling link.md: [[Nobody Knows Who]]") for t in texts)
    table = at.dataframe[0].value
    assert dict(zip(table["file"], table["status"]))["Hiking in the Alps.md"] == "added"
    fresh = MemoryStore(app_home, embedder)
    assert len(fresh) == 8
    assert all(fresh.get(i).to_dict() == d for i, d in before.items())  # the rest of the store as it was
    # the same zip again: nothing changes
    assert not at.info and "transfer_import_vault" not in {b.key for b in at.button}  # the report, no preview
    snap = snapshot(app_home, embedder)
    at.button(key="transfer_vault_done").click().run()
    at.get("file_uploader")[0].set_value(("my-vault.zip", fixture_zip(), "application/zip"))
    at.run()
    at.button(key="transfer_import_vault").click().run()
    assert any("6 unchanged" in w.value for w in at.warning)
    assert snapshot(app_home, embedder) == snap
    at.button(key="transfer_vault_done").click().run()
    assert not at.dataframe


def test_vault_folder_export_and_import(app_home: Settings, embedder, tmp_path: Path) -> None:
    store, ids = seed(app_home, embedder)
    folder = tmp_path / "obsidian"
    at = transfer_page()
    at.text_input(key="transfer_vault_dir").input(str(folder)).run()
    at.button(key="transfer_export_vault_dir").click().run()
    assert not at.exception
    assert any("Exported 2 notes" in x.value for x in at.success)
    written = sorted(p.name for p in (folder / "notes").glob("*.md"))
    assert written == ["Maria moved to Lisbon.md", "Tea with Maria on Sunday.md"]
    path = folder / "notes" / "Tea with Maria on Sunday.md"
    path.write_text(path.read_text(encoding="utf-8").replace("Sunday.", "Saturday. #tea"), encoding="utf-8")
    at.button(key="transfer_import_vault_dir").click().run()
    assert not at.exception
    assert any("1 updated" in x.value and "1 unchanged" in x.value for x in at.success)
    note = MemoryStore(app_home, embedder).get(ids[0])
    assert note.content == "Tea with Maria on Saturday. #tea" and "tea" in note.tags
    assert note.history[-1].by == "import"
    at.button(key="transfer_vault_done").click().run()
    at.text_input(key="transfer_vault_dir").input(str(tmp_path / "missing")).run()
    at.button(key="transfer_import_vault_dir").click().run()
    assert any("does not exist" in e.value for e in at.error)


def test_a_running_import_shows_progress_and_can_be_cancelled(app_home: Settings) -> None:
    """While an import runs the page draws its progress in a fragment and Cancel reaches the job."""
    from memory_core.background import run_in_background
    from memory_core.transfer.imports import IngestJob

    def work(job: IngestJob) -> None:
        job.progress(2, 8)
        job.cancel.wait(30)  # the import's next check between batches

    at = AppTest.from_file(APP, default_timeout=90)
    job = run_in_background(IngestJob(name="talks.json", mode="fast", total=8), work)
    try:
        at.session_state["_transfer_job"] = job
        at.switch_page("pages/transfer.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(h.value == "Importing talks\\.json" for h in at.subheader)  # the name as text
        bar = at.get("progress")[0]
        assert bar.proto.value == 25 and "2 of 8 turns · fast mode" in bar.proto.text
        assert not at.get("file_uploader")  # nothing else to import while one runs
        at.button(key="transfer_cancel").click().run()
        assert job.wait(10) and job.cancel.is_set()
    finally:
        job.stop()
