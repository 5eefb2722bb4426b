"""Export the memory as an Obsidian vault: a folder or a zip of readable Markdown files.

Why this shape: the JSON export is for restoring Memex; the vault is for *reading and editing* the
memory with other tools, then importing it back. So:
- each note is ``notes/<its title>.md`` ("Hiking in the Alps.md", "Hiking in the Alps (2).md"), not
  a uuid; names are stable between exports (notes are named oldest first);
- the note's id is in the front matter: it is how a re-import finds the same note again;
- links are ``[[File name|title]]``, which Obsidian resolves by file name, in the front matter's
  ``links`` and in a "Links" section after the content (so Obsidian's graph and backlinks see them);
  the section starts with the ``LINKS_MARKER`` comment (an Obsidian ``%% comment %%``, not shown), so
  the import knows where the note's own text ends;
- ``index.md`` lists every note; its front matter marks it as the index so an import skips it.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InputError
from ...notes import Note, is_derived, try_parse_time
from .markdown import (
    dump_front_matter,
    first_line,
    link_text,
    obsidian_tag,
    split_front_matter,
    unique_stems,
    wiki_link,
)

if TYPE_CHECKING:
    from ...store import Store

ROOT = "memex-vault"
NOTES_DIR = "notes"
INDEX = "index.md"
LINKS_MARKER = "%% memex: links of this note (Memex reads them back on import) %%"
INDEX_KEY = "memex_index"


def file_stems(notes: Iterable[Note]) -> dict[str, str]:
    """Note id -> file name without ``.md``: the note's first line, made safe and unique (oldest first)."""
    ordered = sorted(notes, key=lambda n: (n.timestamp, n.id))
    return dict(zip((n.id for n in ordered), unique_stems([first_line(n.content) for n in ordered])))


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
    parts = [dump_front_matter(front), note.content]
    if not note.content.endswith("\n"):
        parts.append("\n")
    if links:
        parts.append(f"\n{LINKS_MARKER}\n## Links\n\n")
        for link in links:
            reason = " ".join(link.reason.split())
            parts.append(f"- {wiki_link(stems[link.target], titles[link.target])}"
                         + (f" ({reason})" if reason else "") + "\n")
    return "".join(parts)


def index_markdown(notes: list[Note], stems: dict[str, str]) -> str:
    lines = [dump_front_matter({INDEX_KEY: True}) + "# Memex memory", "", f"{len(notes)} notes, oldest first.", ""]
    lines += [f"- {wiki_link(NOTES_DIR + '/' + stems[n.id], n.title)}" for n in notes]
    return "\n".join(lines) + "\n"


def vault_files(notes: Iterable[Note]) -> dict[str, tuple[str, str]]:
    """Relative path -> (Markdown text, the note's time) for every file of the vault."""
    notes = sorted(notes, key=lambda n: (n.timestamp, n.id))
    stems = file_stems(notes)
    titles = {n.id: n.title for n in notes}
    files = {f"{NOTES_DIR}/{stems[n.id]}.md": (note_markdown(n, stems, titles), n.timestamp) for n in notes}
    files[INDEX] = (index_markdown(notes, stems), notes[-1].timestamp if notes else "")
    return files


def _zip_time(timestamp: str) -> tuple[int, int, int, int, int, int]:
    """A zip entry time from the note's own time (zip cannot store dates before 1980)."""
    dt = (try_parse_time(timestamp) or datetime.now(timezone.utc)).astimezone(timezone.utc)  # never stops an export
    dt = max(dt, datetime(1980, 1, 1, tzinfo=timezone.utc))
    return (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)


def build_vault(notes: Iterable[Note]) -> bytes:
    """The vault as zip bytes: ``memex-vault/notes/<title>.md`` per note and ``memex-vault/index.md``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, (text, when) in vault_files(notes).items():
            info = zipfile.ZipInfo(f"{ROOT}/{path}", date_time=_zip_time(when))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text.encode("utf-8"))
    return buf.getvalue()


def vault_notes(store: Store) -> list[Note]:
    """The notes a vault holds: the person's, not Memex's digests and profile lines. Those are rebuilt
    from the notes (memory_core.consolidation); a vault imported elsewhere would make them "import"
    notes, recalled as if the person had said them."""
    return [n for n in store.all_notes() if not is_derived(n)]


def export_vault(store: Store) -> bytes:
    """The whole store (its notes, ``vault_notes``) as a vault zip."""
    return build_vault(vault_notes(store))


def _memex_id(path: Path) -> str:
    """The Memex id in a Markdown file's front matter, or "" (not ours, unreadable, hand-made)."""
    try:
        front, _, _ = split_front_matter(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return ""
    value = front.get("id")
    return value if isinstance(value, str) else ""


def export_to_dir(store: Store, folder: str | Path) -> int:
    """Write the vault into a folder (created if needed); returns the number of notes written.

    Exporting again into the same folder replaces the files Memex wrote before (a renamed note would
    otherwise leave its old file behind, and the next import would see the note twice); files the
    person made by hand (no Memex id in their front matter) and Obsidian's own folders are left alone.
    Each file is written to a temporary name first and renamed, so a crash leaves no half file.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} exists and is not a folder.")
    notes = vault_notes(store)
    files = vault_files(notes)
    ids = {n.id for n in notes}
    try:
        (folder / NOTES_DIR).mkdir(parents=True, exist_ok=True)
        for old in (folder / NOTES_DIR).glob("*.md"):
            if f"{NOTES_DIR}/{old.name}" not in files and _memex_id(old) in ids:
                old.unlink()
        for rel, (text, _when) in files.items():
            path = folder / rel
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(text, encoding="utf-8", newline="\n")
            os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"Cannot write the vault into {folder}: {exc.strerror or exc}") from exc
    return len(notes)


def export_to_path(store: Store, target: str | Path) -> tuple[str, int]:
    """``memex vault export``: a ``.zip`` path gets a zip, anything else a folder. Returns (kind, notes)."""
    target = Path(target)
    if target.suffix.lower() == ".zip":
        data = export_vault(store)
        tmp = target.with_name(target.name + ".tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        except OSError as exc:
            raise InputError(f"Cannot write {target}: {exc.strerror or exc}") from exc
        return "zip", len(store)
    return "folder", export_to_dir(store, target)
