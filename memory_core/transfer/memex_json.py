"""Export and import of the whole memory as one JSON document, with full fidelity.

Why all-or-nothing: an import is checked completely (JSON, every note, ids unique, every link
target present) before the first write, so a malformed file is refused with a message naming the
problem and the store stays exactly as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ImportFormatError, InputError
from ..notes import Note, check_text, clean_content, now_iso
from ..store import Store

FORMAT = "memex-export"
VERSION = 1
MAX_IMPORT_BYTES = 512 * 1024 * 1024


def export_data(store: Store) -> dict[str, Any]:
    from .. import __version__

    notes = store.all_notes()
    return {"format": FORMAT, "version": VERSION, "memex": __version__, "exported": now_iso(),
            "count": len(notes), "notes": [n.to_dict() for n in notes]}


def export_json(store: Store) -> str:
    return json.dumps(export_data(store), ensure_ascii=False, indent=1)


def export_to_file(store: Store, path: str | Path) -> int:
    """Write the export next to the destination first, then rename: a crash never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    data = export_json(store)
    tmp.write_text(data, encoding="utf-8")
    tmp.replace(path)
    return len(store)


@dataclass
class ImportReport:
    added: int = 0
    replaced: int = 0
    skipped: list[str] = field(default_factory=list)


def parse_export(raw: bytes | str) -> list[Note]:
    """Check a Memex export completely and return its notes; ImportFormatError names the first problem."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_IMPORT_BYTES:
            raise ImportFormatError(f"The file is {len(raw) / 1e6:.0f} MB; at most {MAX_IMPORT_BYTES // 2**20} MiB.")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFormatError(f"The file is not UTF-8 text (byte {exc.start}).") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from exc
    try:  # a "\\ud800" escape decodes to a lone surrogate, which no later step could write as UTF-8
        check_text(json.dumps(data, ensure_ascii=False), "The file")
    except InputError as exc:
        raise ImportFormatError(str(exc).replace("it was not stored", "nothing was imported")) from None
    if isinstance(data, list) and data and isinstance(data[0], dict) and "conversation" in data[0]:
        raise ImportFormatError("This is a LoCoMo conversation file, not a Memex export; import it as a conversation.")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportFormatError(f"The file is not a Memex export (it needs \"format\": \"{FORMAT}\").")
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise ImportFormatError(f"Unsupported export version {data.get('version')!r}; this Memex reads version {VERSION}.")
    items = data.get("notes")
    if not isinstance(items, list):
        raise ImportFormatError("The export has no \"notes\" list.")
    notes: list[Note] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        try:
            note = Note.from_dict(item)
            note.content = clean_content(note.content)  # the same rules as a note typed in (NUL, size, controls)
        except (ImportFormatError, InputError) as exc:
            raise ImportFormatError(f"Note #{i + 1}: {exc}") from None
        if note.id in seen:
            raise ImportFormatError(f"Note #{i + 1}: the id {note.id} appears twice.")
        seen.add(note.id)
        notes.append(note)
    return notes


def import_notes(store: Store, notes: list[Note], replace: bool = False) -> ImportReport:
    """Add checked notes. Existing ids are skipped (or replaced with ``replace``); links must resolve."""
    report = ImportReport()
    ids = {n.id for n in notes}
    for note in notes:
        for link in note.links:
            if link.target not in ids and link.target not in store:
                raise ImportFormatError(
                    f"Note {note.id} links to {link.target}, which is neither in the file nor in the store.")
    with store.writing() as w:
        for note in notes:
            if w.exists(note.id):
                if not replace:
                    report.skipped.append(note.id)
                    continue
                report.replaced += 1
            else:
                report.added += 1
            w.put(note)
    return report


def import_file(store: Store, raw: bytes | str, replace: bool = False) -> ImportReport:
    return import_notes(store, parse_export(raw), replace=replace)
