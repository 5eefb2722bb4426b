"""The Markdown vault: one file per note, parseable YAML front matter, wiki-links that resolve by file name."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
import yaml

from memory_core.config import Settings
from memory_core.notes import Link, Note
from memory_core.store import MemoryStore
from memory_core.transfer import import_notes
from memory_core.vault import (
    NOTES_DIR,
    ROOT,
    build_vault,
    export_vault,
    link_text,
    obsidian_tag,
    read_front_matter,
)

WIKI = re.compile(r"\[\[([^\]|]+)\|([^\]]*)\]\]")

NASTY = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "---\ntitle: fake front matter\n---\nbody",
    "key: value\n- list: [1, 2]\n'quotes' \"double\" # not a comment",
    "[[not-a-note|fake link]] and ]] | [[",
    "yes",  # YAML 1.1 would read a bare yes as true
    "2024-01-01",  # ... and this as a date
    "  leading spaces and trailing  \n\n\n",
    "ünïcödé 中文 🗂️ \\backslash\\ \t tab",
]


@pytest.fixture
def seeded(store: MemoryStore) -> tuple[MemoryStore, list[Note]]:
    notes = []
    for i, text in enumerate(NASTY):
        notes.append(Note(content=text, id=f"0000000{i}-aaaa-bbbb-cccc-{i:012d}", keywords=["k: v", "- dash"],
                          context="Context with: colon, 'quote' and \"double\"\nand a newline ---",
                          tags=["machine learning", "#hash", "ok", "2024"], timestamp=f"2024-0{1 + i % 9}-0{1 + i}T10:00:00+02:00",
                          source="import", source_ref=f"conv/D1:{i}"))
    # a note whose id is not a safe file name (imported data may carry any id)
    notes.append(Note(content="odd id", id="../../etc/passwd id|[x]", timestamp="2024-02-01T00:00:00+00:00"))
    notes[0].links = [Link(target=notes[1].id, reason="hostile pair"), Link(target=notes[-1].id, reason="odd")]
    notes[-1].links = [Link(target=notes[0].id, reason="back")]
    notes[4].links = [Link(target=notes[0].id, reason="with | pipe ] and [[brackets]]")]
    import_notes(store, notes)
    return store, store.all_notes()


def read_vault(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name).decode("utf-8") for name in zf.namelist()}


def test_one_file_per_note_with_front_matter(seeded) -> None:
    store, notes = seeded
    files = read_vault(export_vault(store))
    note_files = {n: t for n, t in files.items() if n.startswith(f"{ROOT}/{NOTES_DIR}/")}
    assert len(note_files) == len(notes) == len(store)
    assert set(files) - set(note_files) == {f"{ROOT}/index.md"}
    for name in files:  # every path stays inside the vault folder
        assert name.startswith(ROOT + "/") and ".." not in name.split("/") and "\\" not in name
    by_id = {}
    for name, text in note_files.items():
        front, body = read_front_matter(text)
        by_id[front["id"]] = (name, front, body)
    assert set(by_id) == {n.id for n in notes}
    for note in notes:
        name, front, body = by_id[note.id]
        assert front["timestamp"] == note.timestamp and isinstance(front["timestamp"], str)
        assert front["keywords"] == note.keywords
        assert front["context"] == note.context
        assert front["source"] == note.source
        assert front["aliases"] == [link_text(note.title)]
        assert all(" " not in t and not t.startswith("#") for t in front["tags"])
        assert body.startswith(note.content)  # the content verbatim
        if note.tags:
            assert front["memex_tags"] == note.tags
    # a safe id is the file name itself, so [[id|title]] works as written
    safe = notes[0]
    assert by_id[safe.id][0] == f"{ROOT}/{NOTES_DIR}/{safe.id}.md"


def test_wiki_links_resolve_by_file_name(seeded) -> None:
    store, notes = seeded
    files = read_vault(export_vault(store))
    stems = {name.rsplit("/", 1)[1][:-3] for name in files if name.startswith(f"{ROOT}/{NOTES_DIR}/")}
    stem_of = {}
    for name, text in files.items():
        if name.startswith(f"{ROOT}/{NOTES_DIR}/"):
            stem_of[read_front_matter(text)[0]["id"]] = name.rsplit("/", 1)[1][:-3]
    seen_links = 0
    for name, text in files.items():
        if name.endswith("index.md"):
            ours = text
        else:
            front, body = read_front_matter(text)
            note = store.get(front["id"])
            # what Memex writes (not the note's own text, which is verbatim and may hold anything)
            ours = text.split("\n---\n", 1)[0] + body[len(note.content):]
        for target, shown in WIKI.findall(ours):
            assert target in stems, (name, target)
            assert "\n" not in shown and "|" not in shown
            seen_links += 1
        if name.endswith("index.md"):
            continue
        expected = [stem_of[link.target] for link in note.links]
        assert [WIKI.fullmatch(x).group(1) for x in front["links"]] == expected
        assert [t for t, _ in WIKI.findall(body[len(note.content):])] == expected
    assert seen_links == 2 * 4 + len(notes)  # 4 links, each in front matter and body, plus the index


def test_front_matter_cannot_be_broken_by_note_text(seeded) -> None:
    store, notes = seeded
    files = read_vault(export_vault(store))
    for name, text in files.items():
        if name.endswith("index.md"):
            continue
        head = text.split("\n---\n", 1)[0] + "\n"
        assert yaml.safe_load(head[4:]) == read_front_matter(text)[0]
        assert not re.search(r"^---$", head[4:], re.M)  # no document marker inside the header


def test_empty_and_unicode(settings: Settings, embedder) -> None:
    files = read_vault(build_vault([]))
    assert list(files) == [f"{ROOT}/index.md"]
    note = Note(content="ünïcödé 中文", tags=["日本"])
    files = read_vault(build_vault([note]))
    front, body = read_front_matter(files[f"{ROOT}/{NOTES_DIR}/{note.id}.md"])
    assert body.startswith("ünïcödé 中文") and front["tags"] == ["日本"]


def test_obsidian_tags() -> None:
    assert obsidian_tag("machine learning") == "machine-learning"
    assert obsidian_tag("#todo") == "todo"
    assert obsidian_tag("2024") == "t2024"
    assert obsidian_tag("a/b") == "a/b"
    assert obsidian_tag("!!!") == ""
