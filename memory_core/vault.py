"""Export the memory as a Markdown vault (a zip) that Obsidian and similar tools open as is.

Why this shape: the JSON export is for restoring Memex; the vault is for *reading* the memory
with other tools. Obsidian resolves a wiki-link ``[[name|shown text]]`` by file name, so each note
is written as ``notes/<note id>.md`` and links are ``[[<note id>|<title>]]`` -- exactly the
``[[id|title]]`` form, and every link resolves. The title goes into the front matter's ``aliases``
so Obsidian's quick switcher and link suggestions find a note by its title. An id that is not a safe
file name (imported data may carry any string as an id) gets a sanitised name plus a short hash,
and the links use that name, so they still resolve.

The front matter is produced by ``yaml.safe_dump`` (never by string formatting): note text is
data and may hold quotes, colons, ``---`` or newlines. The body is the note's content verbatim,
followed by a "Links" section holding the wiki-links (so Obsidian's graph and backlinks see them).
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import yaml

from .notes import Note, parse_time

ROOT = "memex-vault"
NOTES_DIR = "notes"
_SAFE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_TAG_BAD = re.compile(r"[^\w/-]+", re.UNICODE)


def file_stems(notes: Iterable[Note]) -> dict[str, str]:
    """Note id -> file name without ``.md``: the id itself when it is a safe name, else a safe variant.

    Names are unique even on case-insensitive file systems (macOS, Windows).
    """
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for note in notes:
        nid = note.id
        stem = nid if _SAFE_STEM.fullmatch(nid) else ""
        if not stem or stem.lower() in taken:
            slug = re.sub(r"[^A-Za-z0-9_-]+", "-", nid).strip("-_")[:40] or "note"
            stem = f"{slug}-{hashlib.sha1(nid.encode('utf-8')).hexdigest()[:10]}"
        while stem.lower() in taken:  # pragma: no cover - a sha1 prefix collision
            stem += "x"
        taken.add(stem.lower())
        stems[nid] = stem
    return stems


def link_text(title: str) -> str:
    """A title usable as the shown text of a wiki-link: no ``[``, ``]``, ``|`` or line breaks."""
    text = " ".join(title.split())
    return text.translate(str.maketrans({"[": "(", "]": ")", "|": "/"})) or "note"


def obsidian_tag(tag: str) -> str:
    """A tag Obsidian accepts: no spaces (they become '-'), only letters, digits, '_', '-', '/'."""
    cleaned = _TAG_BAD.sub("-", "-".join(tag.strip().lstrip("#").split())).strip("-/")
    if cleaned and cleaned.replace("_", "").replace("-", "").replace("/", "").isdigit():
        cleaned = "t" + cleaned  # Obsidian ignores purely numeric tags
    return cleaned


def wiki_link(stem: str, title: str) -> str:
    return f"[[{stem}|{link_text(title)}]]"


def note_markdown(note: Note, stems: dict[str, str], titles: dict[str, str]) -> str:
    """One note as Markdown: YAML front matter, the content verbatim, then its links."""
    links = [link for link in note.links if link.target in stems]
    front: dict[str, Any] = {
        "id": note.id,
        "aliases": [link_text(note.title)],  # no [ ] | : Obsidian would read [[...]] there as a link
        "timestamp": note.timestamp,
        "tags": [t for t in dict.fromkeys(obsidian_tag(x) for x in note.tags) if t],
        "keywords": list(note.keywords),
        "context": note.context,
        "source": note.source,
    }
    if note.source_ref:
        front["source_ref"] = note.source_ref
    front["links"] = [wiki_link(stems[x.target], titles[x.target]) for x in links]
    if note.tags and front["tags"] != list(note.tags):
        front["memex_tags"] = list(note.tags)  # the exact tags, when Obsidian needed them changed
    header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, default_flow_style=False, width=1000)
    parts = ["---\n", header, "---\n", note.content]
    if not note.content.endswith("\n"):
        parts.append("\n")
    if links:
        parts.append("\n## Links\n\n")
        for link in links:
            reason = " ".join(link.reason.split())
            parts.append(f"- {wiki_link(stems[link.target], titles[link.target])}"
                         + (f" ({reason})" if reason else "") + "\n")
    return "".join(parts)


def _zip_time(timestamp: str) -> tuple[int, int, int, int, int, int]:
    """A zip entry time from the note's own time (zip cannot store dates before 1980)."""
    try:
        dt = parse_time(timestamp).astimezone(timezone.utc)
    except Exception:  # noqa: BLE001 - a bad time must not stop an export
        dt = datetime.now(timezone.utc)
    dt = max(dt, datetime(1980, 1, 1, tzinfo=timezone.utc))
    return (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)


def index_markdown(notes: list[Note], stems: dict[str, str]) -> str:
    lines = ["# Memex memory", "", f"{len(notes)} notes, oldest first.", ""]
    lines += [f"- {wiki_link(stems[n.id], n.title)}" for n in notes]
    return "\n".join(lines) + "\n"


def build_vault(notes: Iterable[Note]) -> bytes:
    """The vault as zip bytes: ``memex-vault/notes/<stem>.md`` per note and ``memex-vault/index.md``."""
    notes = sorted(notes, key=lambda n: (n.timestamp, n.id))
    stems = file_stems(notes)
    titles = {n.id: n.title for n in notes}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for note in notes:
            info = zipfile.ZipInfo(f"{ROOT}/{NOTES_DIR}/{stems[note.id]}.md", date_time=_zip_time(note.timestamp))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, note_markdown(note, stems, titles).encode("utf-8"))
        info = zipfile.ZipInfo(f"{ROOT}/index.md", date_time=_zip_time(notes[-1].timestamp if notes else ""))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, index_markdown(notes, stems).encode("utf-8"))
    return buf.getvalue()


def export_vault(store: Any) -> bytes:
    """The whole store as a vault zip."""
    return build_vault(store.all_notes())


def read_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split a vault note into (front matter, body); the inverse used by tests and tools."""
    if not text.startswith("---\n"):
        raise ValueError("no front matter")
    end = text.index("\n---\n", 3)
    return yaml.safe_load(text[4:end + 1]) or {}, text[end + 5:]
