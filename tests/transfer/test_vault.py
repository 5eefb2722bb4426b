"""The two-way Markdown vault: readable file names, front matter that survives any note text, links
Obsidian resolves, and an import that updates the same note, adds new files, duplicates nothing and
reports each file it cannot use (the hand-made vault in tests/fixtures/vault/)."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from memory_core import cli
from memory_core.config import Settings
from memory_core.errors import InputError
from memory_core.notes import Link, Note
from memory_core.store import MemoryStore
from memory_core.transfer.memex_json import export_data, import_notes
from memory_core.transfer.vault import (
    INDEX,
    NOTES_DIR,
    ROOT,
    build_vault,
    export_to_dir,
    export_vault,
    hashtags,
    import_vault,
    link_text,
    obsidian_tag,
    read_front_matter,
    safe_stem,
    split_front_matter,
    wikilinks,
)
from memory_core.transfer.vault.markdown import FrontMatterError, unique_stems

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vault"
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
    "CON",  # a reserved file name on Windows
    "a/b\\c:d*e?f\"g<h>i|j#k^l[m]n",
]


def snapshot(store: MemoryStore) -> dict:
    data = export_data(store)
    data.pop("exported")
    return data


@pytest.fixture
def seeded(store: MemoryStore) -> tuple[MemoryStore, list[Note]]:
    notes = []
    for i, text in enumerate(NASTY):
        notes.append(Note(content=text, id=f"0000000{i}-aaaa-bbbb-cccc-{i:012d}", keywords=["k: v", "- dash"],
                          context="Context with: colon, 'quote' and \"double\" and dashes ---",
                          tags=["machine learning", "#hash", "ok", "2024"],
                          timestamp=f"2024-0{1 + i % 9}-{1 + i:02d}T10:00:00+02:00",
                          source="import", source_ref=f"conv/D1:{i}"))
    notes.append(Note(content="odd id", id="../../etc/passwd id|[x]", timestamp="2024-02-01T00:00:00+00:00"))
    notes.append(Note(content="<script>alert(1)</script>", id="twin", timestamp="2024-12-01T00:00:00+00:00"))
    notes[0].links = [Link(target=notes[1].id, reason="hostile pair"), Link(target=notes[-2].id, reason="odd")]
    notes[-2].links = [Link(target=notes[0].id, reason="back")]
    notes[4].links = [Link(target=notes[0].id, reason="with | pipe ] and [[brackets]]")]
    import_notes(store, notes)
    return store, store.all_notes()


def read_zip(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name).decode("utf-8") for name in zf.namelist()}


def note_files(files: dict[str, str]) -> dict[str, str]:
    return {n: t for n, t in files.items() if n.startswith(f"{ROOT}/{NOTES_DIR}/")}


# ---- export --------------------------------------------------------------------------------------
def test_one_readable_file_per_note(seeded) -> None:
    store, notes = seeded
    files = read_zip(export_vault(store))
    mine = note_files(files)
    assert len(mine) == len(notes) == len(store)
    assert set(files) - set(mine) == {f"{ROOT}/{INDEX}"}
    names = [n.rsplit("/", 1)[1] for n in mine]
    assert len({n.casefold() for n in names}) == len(names)  # unique even on case-folding file systems
    for name in files:
        assert name.startswith(ROOT + "/") and ".." not in name.split("/") and "\\" not in name
    for name in names:
        assert not re.search(r'[\\/:*?"<>|#^\[\]\x00-\x1f]', name), name
    assert "<script>alert(1)>.md" not in names
    assert "script>alert(1) script>.md" not in names
    by_id = {}
    for name, text in mine.items():
        front, body = read_front_matter(text)
        by_id[front["id"]] = (name.rsplit("/", 1)[1], front, body)
    assert set(by_id) == {n.id for n in notes}
    for note in notes:
        name, front, body = by_id[note.id]
        assert front["timestamp"] == note.timestamp and isinstance(front["timestamp"], str)
        assert front["keywords"] == note.keywords and front["context"] == note.context
        assert front["aliases"] == [link_text(note.title)]
        assert all(" " not in t and not t.startswith("#") for t in front["tags"])
        assert body.startswith(note.content)
        if note.tags:
            assert front["memex_tags"] == note.tags
    # readable names: the first line, repeats numbered oldest first, reserved names avoided
    assert by_id[notes[0].id][0] == "script alert(1) script.md"
    assert by_id["twin"][0] == "script alert(1) script (2).md"
    assert by_id[[n for n in notes if n.content == "CON"][0].id][0] == "CON (note).md"
    assert by_id[[n for n in notes if n.content == "yes"][0].id][0] == "yes.md"


def test_wiki_links_resolve_by_file_name(seeded) -> None:
    store, notes = seeded
    files = read_zip(export_vault(store))
    stem_of = {read_front_matter(t)[0]["id"]: n.rsplit("/", 1)[1][:-3] for n, t in note_files(files).items()}
    stems = set(stem_of.values())
    for name, text in note_files(files).items():
        front, body = read_front_matter(text)
        note = store.get(front["id"])
        ours = text.split("\n---\n", 1)[0] + body[len(note.content):]  # what Memex wrote, not the note's text
        for target, shown in WIKI.findall(ours):
            assert target in stems, (name, target)
            assert "\n" not in shown and "|" not in shown
        expected = [stem_of[link.target] for link in note.links]
        assert [WIKI.fullmatch(x).group(1) for x in front["links"]] == expected
        assert [t for t, _ in WIKI.findall(body[len(note.content):])] == expected
    index = files[f"{ROOT}/{INDEX}"]
    assert all(t.startswith(f"{NOTES_DIR}/") and t[len(NOTES_DIR) + 1:] in stems for t, _ in WIKI.findall(index))


def test_front_matter_cannot_be_broken_by_note_text(seeded) -> None:
    store, _ = seeded
    for text in note_files(read_zip(export_vault(store))).values():
        head = text.split("\n---\n", 1)[0] + "\n"
        assert yaml.safe_load(head[4:]) == read_front_matter(text)[0]
        assert not re.search(r"^---$", head[4:], re.M)


def test_empty_and_unicode() -> None:
    assert list(read_zip(build_vault([]))) == [f"{ROOT}/{INDEX}"]
    note = Note(content="ünïcödé 中文", tags=["日本"])
    files = read_zip(build_vault([note]))
    front, body = read_front_matter(files[f"{ROOT}/{NOTES_DIR}/ünïcödé 中文.md"])
    assert body.startswith("ünïcödé 中文") and front["tags"] == ["日本"]


# ---- the Markdown rules ----------------------------------------------------------------------------
def test_markdown_rules() -> None:
    assert obsidian_tag("machine learning") == "machine-learning" and obsidian_tag("#todo") == "todo"
    assert obsidian_tag("2024") == "t2024" and obsidian_tag("a/b") == "a/b" and obsidian_tag("!!!") == ""
    text = ("See [[Anna|my sister]], [[Trip#Day 2|day two]], [[notes/Alps]] and ![[photo.png]].\n"
            "`[[code]]` #tag #2024 #a-b ##x #日本 http://x.org/#frag &#39; # Heading\n```\n#fenced [[fenced]]\n```\n")
    assert wikilinks(text) == [("Anna", "my sister"), ("Trip", "day two"), ("notes/Alps", "")]
    assert hashtags(text) == ["tag", "a-b", "日本"]
    assert safe_stem("# Hiking in the Alps") == "Hiking in the Alps"
    assert safe_stem("  ...  ") == "Untitled" and safe_stem("nul.txt") == "nul.txt (note)"
    long = safe_stem("word " * 40)
    assert len(long) <= 80 and not long.endswith(" ") and long.endswith("word")
    assert unique_stems(["Alps", "alps", "ALPS", "Other"]) == ["Alps", "alps (2)", "ALPS (3)", "Other"]
    front, body, had = split_front_matter("---\ndate: 2024-05-01\ntags: x\n---\nbody\n")
    assert (front, body, had) == ({"date": "2024-05-01", "tags": "x"}, "body\n", True)
    assert split_front_matter("no front matter") == ({}, "no front matter", False)
    for bad in ("---\ntags: [a\n---\nx", "---\nonly start\n", "---\n- a list\n---\nx"):
        with pytest.raises(FrontMatterError):
            split_front_matter(bad)


# ---- import ----------------------------------------------------------------------------------------
def by_path(report) -> dict:
    return {f.path: f for f in report.files}


def test_fixture_vault_import_reports_every_file(store: MemoryStore) -> None:
    kept = Note("A note that was here before the import.", id="before")
    import_notes(store, [kept])
    before = store.get("before").to_dict()
    report = import_vault(store, FIXTURE)
    files = by_path(report)
    assert set(files) == {"Anna.md", "Broken front matter.md", "Dangling link.md", "Heading only.md",
                          "Hiking in the Alps.md", "Latin-1 note.md", "journal/2024-05-01.md", "packing.md"}
    assert files["Broken front matter.md"].status == "refused"
    assert "not valid YAML" in files["Broken front matter.md"].problems[0]
    assert files["Latin-1 note.md"].status == "refused" and "not UTF-8" in files["Latin-1 note.md"].problems[0]
    dangling = files["Dangling link.md"]
    assert dangling.status == "added" and any("[[Nobody Knows Who]]" in p for p in dangling.problems)
    assert report.count("added") == 6 and report.count("refused") == 2
    notes = {n.source_ref: n for n in store.all_notes() if n.source_ref.startswith("vault:")}
    assert len(store) == 7 and len(notes) == 6
    hike, anna, jour = notes["vault:Hiking in the Alps.md"], notes["vault:Anna.md"], notes["vault:journal/2024-05-01.md"]
    # titles: the heading kept as the first line; the file name when there is no heading
    assert hike.content.startswith("# Hiking in the Alps\n") and hike.title == "# Hiking in the Alps"
    assert anna.content == "# Anna\n\nAnna is my sister; she photographs glaciers. See [[Hiking in the Alps]]. #family"
    assert notes["vault:packing.md"].content.startswith("# Packing list for the Dolomites\n")
    assert "<script>alert(1)</script> stays text" in notes["vault:packing.md"].content
    assert notes["vault:Heading only.md"].content == "# Ideas for next summer"
    assert jour.content.startswith("# 2024-05-01\n\n")
    # front matter fields, #tags (not in code, not numeric), links with who made them
    assert hike.tags == ["travel", "mountains", "outdoors"] and hike.keywords == ["hiking", "alps"]
    assert hike.context == "A summer trip with my sister." and hike.timestamp == "2024-07-14T09:30:00+02:00"
    assert jour.tags == ["coffee", "journal/may"] and anna.tags == ["family"]
    assert notes["vault:Dangling link.md"].tags == ["reading"]
    assert [(x.target, x.by) for x in hike.links] == [(anna.id, "wikilink")]
    assert [x.target for x in anna.links] == [hike.id]
    assert [x.target for x in jour.links] == [anna.id]
    assert [x.target for x in notes["vault:Dangling link.md"].links] == [anna.id]  # case-insensitive name
    assert store.graph_snapshot().has_edge(hike.id, anna.id)
    assert store.get("before").to_dict() == before  # the store otherwise unchanged

    # the same vault again: nothing changes, nothing is duplicated
    snap = snapshot(store)
    again = import_vault(store, FIXTURE)
    assert again.count("unchanged") == 6 and again.count("added") == 0 and again.count("refused") == 2
    assert snapshot(store) == snap


def test_export_edit_import_round_trip(store: MemoryStore, tmp_path: Path) -> None:
    import_vault(store, FIXTURE)
    import_notes(store, [Note("Budget review on Friday. #work", id="budget", tags=["work"]),
                         Note("<img src=x onerror=alert(1)> hostile", id="hostile")])
    store.link("budget", "hostile", "test link", by="person")
    vault = tmp_path / "vault"
    assert export_to_dir(store, vault) == len(store)
    snap = snapshot(store)
    report = import_vault(store, vault)  # exported and imported back: nothing changes
    assert report.count("unchanged") == len(store) and report.count("skipped") == 1  # the index
    assert snapshot(store) == snap

    # edit by hand: text and tags of one note, a new wikilink, a removed link, and a brand new file
    hike_file = vault / NOTES_DIR / "Hiking in the Alps.md"
    text = hike_file.read_text(encoding="utf-8")
    front, body = read_front_matter(text)
    hike_id = front["id"]
    text = text.replace("Three days", "Four days").replace("- mountains\n", "- mountains\n- summer\n")
    text = text.replace("with [[Anna|my sister]].", "with [[Anna|my sister]] and [[Budget review on Friday. work]].")
    hike_file.write_text(text, encoding="utf-8")
    budget_file = vault / NOTES_DIR / "Budget review on Friday. #work.md"
    assert not budget_file.exists()  # '#' is not allowed in a file name
    budget_file = vault / NOTES_DIR / "Budget review on Friday. work.md"
    btext = budget_file.read_text(encoding="utf-8")
    bfront, _ = read_front_matter(btext)
    assert len(bfront["links"]) == 1
    btext = btext.replace(f"links:\n- '{bfront['links'][0]}'\n", "links: []\n").replace(
        f"links:\n- {bfront['links'][0]}\n", "links: []\n")
    btext = btext.split("\n%% memex")[0] + "\n"
    budget_file.write_text(btext, encoding="utf-8")
    (vault / NOTES_DIR / "Dolomites.md").write_text("Plan a trip to the Dolomites with [[Anna]]. #travel\n",
                                                   encoding="utf-8")
    count = len(store)
    report = import_vault(store, vault)
    files = by_path(report)
    assert files["notes/Hiking in the Alps.md"].status == "updated"
    assert files["notes/Budget review on Friday. work.md"].status == "updated"
    assert files["notes/Dolomites.md"].status == "added"
    assert report.count("updated") == 2 and report.count("added") == 1
    assert len(store) == count + 1
    hike = store.get(hike_id)
    assert "Four days" in hike.content and "summer" in hike.tags
    assert "budget" in hike.link_targets and [x.by for x in hike.links if x.target == "budget"] == ["wikilink"]
    changes = {c.field: c for c in hike.history if c.by in ("import", "wikilink")}
    assert changes["content"].by == "import" and "Three days" in changes["content"].old
    assert changes["tags"].by == "import" and "summer" in changes["tags"].new
    assert "links" in changes
    assert store.get("budget").link_targets == []  # the link removed in the vault is removed here
    assert store.get("budget").history[-1].by == "import"
    dolo = [n for n in store.all_notes() if n.source_ref == "vault:notes/Dolomites.md"][0]
    assert dolo.content.startswith("# Dolomites\n\n") and dolo.tags == ["travel"]
    # and once more: nothing changes
    snap = snapshot(store)
    assert import_vault(store, vault).count("updated") == 0
    assert snapshot(store) == snap


def test_zip_round_trip_into_a_fresh_store(seeded, settings: Settings, embedder, tmp_path: Path) -> None:
    store, notes = seeded
    data = export_vault(store)
    other = MemoryStore(Settings(data_dir=str(tmp_path / "other")), embedder)
    report = import_vault(other, data)
    assert report.count("added") == len(notes) and not report.refused
    for note in notes:
        got = other.get(note.id)  # ids kept, so a second export/import finds the same notes
        assert got.content.rstrip() == note.content.rstrip() and got.tags == note.tags
        assert got.keywords == note.keywords and got.context == note.context and got.timestamp == note.timestamp
        assert got.link_targets == note.link_targets
    snap = snapshot(other)
    assert import_vault(other, data).count("unchanged") == len(notes)
    assert snapshot(other) == snap
    zip_path = tmp_path / "vault.zip"
    zip_path.write_bytes(data)
    assert import_vault(other, zip_path).count("unchanged") == len(notes)


def test_unusable_sources_change_nothing(store: MemoryStore, tmp_path: Path) -> None:
    import_notes(store, [Note("kept", id="kept")])
    snap = snapshot(store)
    (tmp_path / "empty").mkdir()
    for source in (tmp_path / "empty", tmp_path / "missing", b"not a zip"):
        with pytest.raises(InputError):
            import_vault(store, source)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.md").write_text("---\nid: [1, 2]\n---\ntext\n", encoding="utf-8")
    (bad / "b.md").write_text("---\ntimestamp: someday\n---\ntext\n", encoding="utf-8")
    (bad / "c.md").write_text("---\ntags: x\n---\n\n\n", encoding="utf-8")
    (bad / "d.md").write_text("text with NUL \x00 inside", encoding="utf-8")
    report = import_vault(store, bad)
    assert [f.status for f in report.files] == ["refused"] * 4
    problems = [f.problems[0] for f in report.files]
    assert "'id' must be text" in problems[0] and "not a date" in problems[1] and "no text" in problems[2]
    assert "NUL" in problems[3]
    assert snapshot(store) == snap


@pytest.mark.real_model  # the CLI embeds with MiniLM
def test_cli_vault_export_and_import(tmp_path: Path, capsys) -> None:
    home = str(tmp_path / "home")
    assert cli.main(["vault", "import", str(FIXTURE), "--data-dir", home]) == 1  # two files refused
    out = capsys.readouterr()
    assert "6 added" in out.out and "Latin-1 note.md" in out.out and "not UTF-8" in out.out
    vault = tmp_path / "out"
    assert cli.main(["vault", "export", str(vault), "--data-dir", home]) == 0
    assert (vault / NOTES_DIR / "Hiking in the Alps.md").exists() and (vault / INDEX).exists()
    assert cli.main(["vault", "export", str(tmp_path / "v.zip"), "--data-dir", home]) == 0
    assert zipfile.is_zipfile(tmp_path / "v.zip")
    capsys.readouterr()
    assert cli.main(["vault", "import", str(tmp_path / "v.zip"), "--data-dir", home, "--json"]) == 0
    assert '"unchanged": 6' in capsys.readouterr().out
    assert cli.main(["vault", "import", str(tmp_path / "nowhere"), "--data-dir", home]) == 2
    assert "does not exist" in capsys.readouterr().err
    shutil.rmtree(vault)
