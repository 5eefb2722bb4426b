"""Bad input, nothing lost: every kind of bad input gives a clear message and leaves the store as it was.

One table for the library (each case raises a MemexError subclass naming the problem) and one for
the CLI (exit status 2, a single ``memex: ...`` line on stderr, no traceback). After every case the
exported notes are compared with the export taken before it: bad input must change no byte of
what a person would get back.

Decided (see memory_core.notes.clean_content): lone surrogates and NUL are rejected with a message;
other control characters are stripped (tab and newline kept, CR LF and CR become LF).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import HashEmbedder, ScriptedLLM

from memory_core.config import Settings
from memory_core.errors import ImportFormatError, InputError, MemexError, NotFoundError
from memory_core.memory.pipeline import MemoryPipeline
from memory_core.notes import clean_content
from memory_core.store import MemoryStore
from memory_core.transfer.memex_json import export_data, import_file

REPO = Path(__file__).resolve().parents[2]
MB_NOTE = "x" * 1_000_000


class Hash384(HashEmbedder):
    """The hash embedder at MiniLM's dimension, so the CLI's real embedder could share the store.

    It reads any str (surrogates included, like the real embedders do since they replace them), so
    a case fails on the store's checks and not inside this test double.
    """

    dim = 384

    def embed(self, texts: list[str]) -> np.ndarray:
        return super().embed([t.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for t in texts])


def seed(home: Path) -> tuple[MemoryStore, list[str]]:
    store = MemoryStore(Settings(data_dir=str(home)), Hash384())
    # Fast adds ask the model only for its name (a small model: no enrichment); the scripted stand-in
    # answers that without loading the real GGUF (checked below: it was never called).
    llm = ScriptedLLM()
    pipe = MemoryPipeline(store, store.settings, llm=llm)
    ids = [pipe.add(text, mode="fast").note_id for text in
           ("Anna's birthday is on 3 May", "Tom fixed the bike on Sunday", "The Alps trip costs 900 euros")]
    store.link(ids[0], ids[1], "friends")
    store.update(ids[2], by="person", tags=["travel"])
    assert not llm.calls
    return store, ids


def snapshot(store: MemoryStore, *, recall: bool = True) -> list[dict[str, Any]]:
    """The exported notes; ``recall=False`` leaves out the recall counts a search legitimately bumps."""
    notes = export_data(store)["notes"]
    if not recall:
        for n in notes:
            n.pop("last_accessed", None)
            n.pop("retrieval_count", None)
    return notes


def export_raw(notes: list[dict[str, Any]]) -> bytes:
    return json.dumps({"format": "memex-export", "version": 1, "notes": notes}).encode()


# ---------------------------------------------------------------------------------------------
# the library
# ---------------------------------------------------------------------------------------------
Case = Callable[[MemoryStore, MemoryPipeline, list[str]], Any]
NOTE = {"id": "n-1", "content": "fine", "timestamp": "2024-01-01T00:00:00+00:00"}

LIBRARY_CASES: list[tuple[str, Case, type[MemexError], str]] = [
    ("lone surrogate", lambda s, p, ids: p.add("caf\udce9 au lait", mode="fast"), InputError, "lone surrogate"),
    ("lone high surrogate", lambda s, p, ids: p.add("a \ud800 b", mode="fast"), InputError, "U\\+D800"),
    ("NUL byte", lambda s, p, ids: p.add("before\x00after", mode="fast"), InputError, "NUL"),
    ("only control characters", lambda s, p, ids: p.add("\x01\x02\x1b\x7f", mode="fast"), InputError,
     "cannot be empty"),
    ("only whitespace", lambda s, p, ids: p.add(" \n\t\u00a0\u2003\u200b ", mode="fast"), InputError,
     "cannot be empty"),
    ("1 MB note", lambda s, p, ids: p.add(MB_NOTE, mode="fast"), InputError, "at most 100,000"),
    ("not text", lambda s, p, ids: p.add(12345, mode="fast"), InputError, "must be text"),  # type: ignore[arg-type]
    ("bad timestamp", lambda s, p, ids: p.add("ok", mode="fast", timestamp="yesterday"), InputError,
     "ISO 8601"),
    ("edit: lone surrogate", lambda s, p, ids: s.update(ids[0], content="x\udcff"), InputError, "lone surrogate"),
    ("edit: 1 MB", lambda s, p, ids: s.update(ids[0], content=MB_NOTE), InputError, "at most"),
    ("edit: whitespace", lambda s, p, ids: s.update(ids[0], content="   "), InputError, "cannot be empty"),
    ("edit: unknown field", lambda s, p, ids: s.update(ids[0], colour="red"), MemexError, "cannot be edited"),
    ("get: unknown id", lambda s, p, ids: s.get("no-such-note"), NotFoundError, "No note"),
    ("edit: unknown id", lambda s, p, ids: s.update("no-such-note", context="x"), NotFoundError, "No note"),
    ("delete: one unknown id deletes none", lambda s, p, ids: s.delete([ids[0], "no-such-note"]), NotFoundError,
     "No note"),
    ("link: unknown target", lambda s, p, ids: s.link(ids[0], "no-such-note"), NotFoundError, "No note"),
    ("link: to itself", lambda s, p, ids: s.link(ids[0], ids[0]), MemexError, "itself"),
    ("revert: unknown id", lambda s, p, ids: s.revert("no-such-note", 0), NotFoundError, "No note"),
    ("revert: no such version", lambda s, p, ids: s.revert(ids[2], 99), InputError, "versions 0"),
    ("import: not JSON", lambda s, p, ids: import_file(s, b"{oops"), ImportFormatError, "not valid JSON"),
    ("import: not UTF-8", lambda s, p, ids: import_file(s, b"\xff\xfe\x00x"), ImportFormatError, "not UTF-8"),
    ("import: lone surrogate escape", lambda s, p, ids: import_file(
        s, export_raw([{**NOTE, "content": "bad \\ud800 text"}]).replace(b"\\\\ud800", b"\\ud800")),
     ImportFormatError, "surrogate"),
    ("import: NUL in content", lambda s, p, ids: import_file(s, export_raw([{**NOTE, "content": "a\x00b"}])),
     ImportFormatError, "NUL"),
    ("import: whitespace content", lambda s, p, ids: import_file(s, export_raw([{**NOTE, "content": " \n "}])),
     ImportFormatError, "empty"),
    ("import: 1 MB content", lambda s, p, ids: import_file(s, export_raw([{**NOTE, "content": MB_NOTE}])),
     ImportFormatError, "at most"),
    ("import: dangling link", lambda s, p, ids: import_file(
        s, export_raw([{**NOTE, "links": [{"target": "nowhere"}]}])), ImportFormatError, "nowhere"),
    ("import: bad note among good", lambda s, p, ids: import_file(
        s, export_raw([NOTE, {**NOTE, "id": "n-2", "tags": "oops"}])), ImportFormatError, "tags"),
]


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[MemoryStore, MemoryPipeline, list[str]]:
    store, ids = seed(tmp_path / "home")
    return store, MemoryPipeline(store, store.settings, llm=ScriptedLLM()), ids


@pytest.mark.parametrize("name, case, error, message", LIBRARY_CASES, ids=[c[0] for c in LIBRARY_CASES])
def test_library_refuses_bad_input_and_changes_nothing(seeded, name: str, case: Case, error: type[MemexError],
                                                       message: str) -> None:
    store, pipe, ids = seeded
    before = snapshot(store)
    with pytest.raises(error, match=message) as info:
        case(store, pipe, ids)
    assert "\n" not in str(info.value).strip(), "the message should be one line"
    assert snapshot(store) == before
    reopened = MemoryStore(store.settings, store.embedder)  # what is on disk, not only the cache
    assert snapshot(reopened) == before


def test_control_characters_are_stripped_visible_text_kept(seeded) -> None:
    store, pipe, _ids = seeded
    raw = "Bell\x07 and escape\x1b[0m;\r\nnext line\rthird\tcolumn \x85\x9f\x7fend"
    assert clean_content(raw) == "Bell and escape[0m;\nnext line\nthird\tcolumn end"
    note = store.get(pipe.add(raw, mode="fast").note_id)
    assert note.content == "Bell and escape[0m;\nnext line\nthird\tcolumn end"
    assert clean_content("ünïcødé 日本語 <b>html</b> \U0001F600") == "ünïcødé 日本語 <b>html</b> \U0001F600"


def test_other_fields_refuse_lone_surrogates(seeded) -> None:
    """Context, tags and keywords are text too: a surrogate there must not reach the disk either."""
    store, _pipe, ids = seeded
    before = snapshot(store)
    for fields in ({"context": "ctx \ud800"}, {"tags": ["ok", "t\udcff"]}, {"keywords": ["\ud83d"]}):
        with pytest.raises(MemexError):
            store.update(ids[1], by="person", **fields)
        assert snapshot(store) == before


@pytest.mark.real_model
def test_search_with_bad_text_is_a_clear_error_or_a_result(tmp_path: Path, embedder) -> None:
    """Through the real MiniLM tokenizer: a stray byte, a NUL, blanks or 200k characters in a query."""
    from memory_core.retrieval import search

    store = MemoryStore(Settings(data_dir=str(tmp_path / "home")), embedder)
    pipe = MemoryPipeline(store, store.settings, llm=None)
    cafe = pipe.add("The café on the corner sells lentil soup", mode="fast").note_id
    before = snapshot(store, recall=False)
    answered: list[str] = []
    for query in ("caf\udce9 lentil soup", "lentil\x00soup", "   ", "lentil " * 30_000):
        try:
            hits = search(store, store.settings, query, k=3)
        except MemexError as exc:
            assert str(exc).strip(), query[:40]  # refused with a message a person can read
            continue
        finally:
            assert snapshot(store, recall=False) == before
        answered.append(query)
        if query.strip():
            assert [h.note.id for h in hits] == [cafe], query[:40]
    assert "lentil " * 30_000 in answered  # a very long query is answered (cut), not refused


# ---------------------------------------------------------------------------------------------
# the CLI
# ---------------------------------------------------------------------------------------------
def memex(home: Path, *args: str | bytes, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "memory_core.cli", *args, "--data-dir", str(home)],
                          capture_output=True, input=stdin, timeout=600, env=env)


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], bytes]:
    home = tmp_path_factory.mktemp("cli") / "home"
    store, ids = seed(home)
    store.close()
    out = memex(home, "export", "-")
    assert out.returncode == 0, out.stderr
    return home, ids, out.stdout


def notes_of(raw_export: bytes) -> list[dict[str, Any]]:
    return json.loads(raw_export)["notes"]


def write(tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


# Each case: (name, function(tmp, ids) -> (argv, stdin), expected message fragment).
CliCase = Callable[[Path, list[str]], tuple[list[str | bytes], bytes | None]]
CLI_CASES: list[tuple[str, CliCase, str]] = [
    ("add: non-UTF-8 argument", lambda t, ids: (["add", "--mode", "fast", b"caf\xe9 au lait"], None),
     "lone surrogate"),
    ("add: NUL from a file", lambda t, ids: (["add", "--mode", "fast", "--file", write(t, "nul.txt", b"a\x00b")],
                                            None), "NUL"),
    ("add: 1 MB from stdin", lambda t, ids: (["add", "--mode", "fast", "--file", "-"], MB_NOTE.encode()),
     "at most"),
    ("add: whitespace only", lambda t, ids: (["add", "--mode", "fast", " \t \n "], None), "cannot be empty"),
    ("add: control characters only", lambda t, ids: (["add", "--mode", "fast", "\x01\x02\x1b"], None),
     "cannot be empty"),
    ("add: file not UTF-8", lambda t, ids: (["add", "--mode", "fast", "--file", write(t, "l1.txt", b"caf\xe9")],
                                           None), "Cannot read"),
    ("add: stdin not UTF-8", lambda t, ids: (["add", "--mode", "fast", "--file", "-"], b"\xff\xfe bad"),
     "Cannot read|lone surrogate"),  # which one depends on the locale's stdin error handler
    ("add: bad timestamp", lambda t, ids: (["add", "--mode", "fast", "--timestamp", "yesterday", "ok"], None),
     "ISO 8601"),
    ("edit: non-UTF-8 content", lambda t, ids: (["edit", ids[0], "--content", b"x\xff"], None), "lone surrogate"),
    ("edit: non-UTF-8 context", lambda t, ids: (["edit", ids[0], "--context", b"x\xff"], None), "lone surrogate"),
    ("edit: non-UTF-8 tags", lambda t, ids: (["edit", ids[0], "--tags", b"a,b\xff"], None), "lone surrogate"),
    ("edit: nothing to change", lambda t, ids: (["edit", ids[0]], None), "Nothing to change"),
    ("show: unknown id", lambda t, ids: (["show", "no-such-note"], None), "No note"),
    ("edit: unknown id", lambda t, ids: (["edit", "no-such-note", "--context", "x"], None), "No note"),
    ("delete: one unknown id", lambda t, ids: (["delete", ids[0], "no-such-note"], None), "No note"),
    ("link: unknown id", lambda t, ids: (["link", ids[0], "no-such-note"], None), "No note"),
    ("unlink: unknown id", lambda t, ids: (["unlink", "no-such-note", ids[0]], None), "No note"),
    ("revert: unknown id", lambda t, ids: (["revert", "no-such-note", "0"], None), "No note"),
    ("revert: no such version", lambda t, ids: (["revert", ids[2], "99"], None), "versions 0"),
    ("import: missing file", lambda t, ids: (["import", str(t / "none.json")], None), "Cannot read"),
    ("import: not JSON", lambda t, ids: (["import", write(t, "a.json", b"{oops")], None), "not valid JSON"),
    ("import: binary", lambda t, ids: (["import", write(t, "b.json", bytes(range(256)))], None), "not UTF-8"),
    ("import: not an export", lambda t, ids: (["import", write(t, "c.json", b'{"x": 1}')], None),
     "not a Memex export"),
    ("import: lone surrogate", lambda t, ids: (["import", write(
        t, "d.json", export_raw([{**NOTE, "content": "bad"}]).replace(b'"bad"', b'"b\\udc00d"'))], None),
     "surrogate"),
    ("import: NUL content", lambda t, ids: (["import", write(t, "e.json", export_raw([{**NOTE, "content": "\x00"}]))],
                                           None), "NUL"),
    ("import: 1 MB content", lambda t, ids: (["import", write(t, "f.json", export_raw([{**NOTE, "content": MB_NOTE}]))],
                                            None), "at most"),
    ("import: truncated", lambda t, ids: (["import", write(t, "g.json", export_raw([NOTE, NOTE])[:-7])], None),
     "not valid JSON"),
]


@pytest.mark.parametrize("name, case, message", CLI_CASES, ids=[c[0] for c in CLI_CASES])
@pytest.mark.server  # a `memex` process per case
def test_cli_bad_input_is_one_clear_line_and_changes_nothing(cli_home, tmp_path: Path, name: str, case: CliCase,
                                                             message: str) -> None:
    home, ids, before = cli_home
    argv, stdin = case(tmp_path, ids)
    out = memex(home, *argv, stdin=stdin)
    err = out.stderr.decode("utf-8", "replace")
    assert out.returncode == 2, (out.returncode, err[-2000:])
    assert "Traceback" not in err and err.startswith("memex: ") and len(err.strip().splitlines()) == 1, err[-2000:]
    assert re.search(message, err), err
    after = memex(home, "export", "-")
    assert after.returncode == 0, after.stderr
    assert notes_of(after.stdout) == notes_of(before)


# ---------------------------------------------------------------------------------------------
# a damaged record in Chroma
# ---------------------------------------------------------------------------------------------
DAMAGE = r"""
import json, sys
import chromadb
from chromadb.config import Settings
path, mode = sys.argv[1], sys.argv[2]
client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
state_file = sys.argv[3]
if mode == "damage":
    saved = {}
    for col in client.list_collections():
        col = client.get_collection(col.name) if not hasattr(col, "add") else col
        got = col.get(limit=1, include=["embeddings", "documents", "metadatas"])
        if not got["ids"]:
            continue
        emb = got["embeddings"][0]
        dim = len(emb) if emb is not None else 384
        saved[col.name] = {"id": got["ids"][0], "document": got["documents"][0], "metadata": got["metadatas"][0],
                           "embedding": [float(x) for x in emb] if emb is not None else None}
        # an extra record that is not Memex's, and an existing record replaced by garbage
        col.add(ids=["damaged-record-0001"], documents=["\ufffd garbage"], metadatas=[{"junk": "{not json"}],
                embeddings=[[0.1] * dim])
        col.delete(ids=[got["ids"][0]])
        col.add(ids=[got["ids"][0]], documents=["{broken"], metadatas=[{"note": "{broken json", "at": "never"}],
                embeddings=[[0.2] * dim])
    json.dump(saved, open(state_file, "w"))
else:
    saved = json.load(open(state_file))
    for name, rec in saved.items():
        col = client.get_collection(name)
        col.delete(ids=["damaged-record-0001", rec["id"]])
        col.add(ids=[rec["id"]], documents=[rec["document"]], metadatas=[rec["metadata"]],
                embeddings=[rec["embedding"] if rec["embedding"] is not None else [0.0] * 384])
print("ok")
"""


@pytest.mark.server  # a process per damage
def test_damaged_chroma_records_give_a_clear_message_and_lose_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store, ids = seed(home)
    store.close()
    before = memex(home, "export", "-")
    assert before.returncode == 0, before.stderr
    script = tmp_path / "damage.py"
    script.write_text(DAMAGE)
    state = tmp_path / "saved.json"

    def chroma(mode: str) -> None:
        out = subprocess.run([sys.executable, str(script), str(home / "chroma"), mode, str(state)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]

    chroma("damage")
    assert json.loads(state.read_text()), "no Memex collection with records was found to damage"
    for argv in (["stats"], ["list"], ["export", "-"], ["show", ids[1]]):
        out = memex(home, *argv)
        err = out.stderr.decode("utf-8", "replace")
        assert "Traceback" not in err, err[-3000:]
        if out.returncode == 0:
            if argv[0] == "export":  # a store that repaired itself (e.g. from its log) must have lost nothing
                assert notes_of(out.stdout) == notes_of(before.stdout)
        else:
            assert out.returncode == 2 and err.startswith("memex: ") and len(err.strip().splitlines()) == 1, err
            assert any(w in err.lower() for w in ("damaged", "cannot read", "not a memex")), err
    # Memex wrote nothing over the damage: putting the records back gives exactly the old notes.
    chroma("restore")
    after = memex(home, "export", "-")
    assert after.returncode == 0, after.stderr
    assert notes_of(after.stdout) == notes_of(before.stdout)

