"""Import a Markdown vault (folder or zip): new files become notes, edited files update their note.

Why it works this way:
- **Plan first, write once.** Every file is read and checked before the first write; a file that
  cannot be used (not UTF-8, malformed front matter, no text, a bad time) is refused with a
  message naming the file and the reason, the others are imported in one ``store.writing()`` batch:
  a crash or a store error leaves every change whole or absent.
- **The same note, not a copy.** A file is matched to a note by the ``id`` in its front matter
  (what an export writes); a hand-made file by the vault path it was first imported from
  (``source_ref = "vault:<path>"``) and then by identical text. So importing a vault twice changes
  nothing, and an exported vault imported back changes nothing until a file is edited.
- **Only what was edited changes**, recorded in the note's history ``by="import"``: a field absent
  from the front matter keeps its value; ``#tags`` and ``[[links]]`` written into the text count
  when they are new to the text (an exported note whose text mentions ``#python`` does not gain a
  tag every time it is imported again).
- **Links**: ``[[target]]`` and ``[[target|alias]]`` resolve by file name (with or without folder),
  by the name an export gives a note, or by note id; new links are made ``by="wikilink"``. A link to
  a note that does not exist is reported for that file and left out; the rest of the file is
  imported. A file written by an export lists its links in the front matter: a link deleted there
  is removed from the note.
- **Titles**: a note has no title field; its first line is its title. A new file that starts with
  a heading keeps it as its first line; a file without one gets its file name (or front matter
  ``title``) as a first-line heading, unless its first line already is that name.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ...errors import InputError, MemexError
from ...notes import Link, Note, clean_content, normalise_time, now_iso
from .export import INDEX_KEY, LINKS_MARKER, file_stems
from .markdown import (
    FrontMatterError,
    base_stem,
    first_heading,
    first_line,
    hashtags,
    obsidian_tag,
    safe_stem,
    split_front_matter,
    str_list,
    wikilinks,
)
from .reader import MAX_FILE_BYTES, VaultFile, read_source

if TYPE_CHECKING:
    from ...store import Store

REF_PREFIX = "vault:"
TIME_KEYS = ("timestamp", "created", "date")
_LINK_LINE = re.compile(r"^\s*[-*]\s*\[\[([^\[\]\n]+?)\]\]\s*(?:\((.*)\))?\s*$")


@dataclass
class FileReport:
    """What happened to one file. ``status``: added, updated, unchanged, skipped or refused."""

    path: str
    status: str
    note_id: str = ""
    title: str = ""
    changed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class VaultImportReport:
    source: str
    files: list[FileReport] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def refused(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "refused"]

    @property
    def warned(self) -> list[FileReport]:
        """Files imported with a problem (a link left out); skipped files (the index) are not problems."""
        return [f for f in self.files if f.status not in ("refused", "skipped") and f.problems]

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in ("added", "updated", "unchanged", "skipped", "refused")
                 if self.count(s)]
        return f"{len(self.files)} Markdown file{'s' if len(self.files) != 1 else ''}: " + (
            ", ".join(parts) if parts else "nothing to import")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "summary": self.summary(),
                "counts": {s: self.count(s) for s in ("added", "updated", "unchanged", "skipped", "refused")},
                "files": [asdict(f) for f in self.files]}


@dataclass
class _Plan:
    """One usable file, before links are resolved."""

    file: VaultFile
    report: FileReport
    note_id: str
    existing: Note | None
    content: str
    fields: dict[str, Any]  # for a new note: every field; for an existing one: the changed ones
    refs: list[tuple[str, str]]  # (link target as written, reason)
    listed_links: bool  # the front matter lists the links (a Memex export): the list is authoritative
    aliases: list[str] = field(default_factory=list)
    text_refs: list[str] = field(default_factory=list)  # every [[link]] in the text: never removed


def _norm(text: str) -> str:
    return text.replace("\r\n", "\n").lstrip("\n").rstrip()


def _split_links_section(body: str) -> tuple[str, list[tuple[str, str]]]:
    """(the note's own text, links written in the export's "Links" section as (target, reason))."""
    head, sep, tail = body.rpartition("\n" + LINKS_MARKER)
    if not sep:
        return body, []
    refs = []
    for line in tail.splitlines():
        m = _LINK_LINE.match(line)
        if m:
            target = re.split(r"[|#^]", m.group(1), maxsplit=1)[0].strip()
            if target:
                refs.append((target, (m.group(2) or "").strip()))
    return head, refs


def _front_links(value: Any) -> list[str]:
    """Link targets listed in front matter: "[[X|t]]" strings, plain names, or YAML's [[X]] nested lists."""
    out: list[str] = []
    items = value if isinstance(value, list) else [value] if value else []
    for item in items:
        while isinstance(item, list) and len(item) == 1:
            item = item[0]
        if not isinstance(item, str):
            continue
        found = wikilinks(item) if "[[" in item else [(item.strip(), "")]
        out += [t for t, _ in found if t]
    return out


def _tags(front: dict[str, Any]) -> list[str] | None:
    """The tags the front matter asks for (None: it says nothing about tags)."""
    if "tags" not in front and "memex_tags" not in front:
        return None
    listed = str_list(front.get("tags"), "tags")
    exact = front.get("memex_tags")
    if isinstance(exact, list) and all(isinstance(t, str) for t in exact):
        if [t for t in dict.fromkeys(obsidian_tag(x) for x in exact) if t] == listed:
            return list(exact)  # not edited in the vault: Memex's exact tags
    return listed


def _merge_tags(base: list[str], extra: Iterable[str]) -> list[str]:
    seen = {t.casefold() for t in base}
    out = list(base)
    for tag in extra:
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
    return out


class _Importer:
    def __init__(self, store: Store, source_name: str, files: list[VaultFile]) -> None:
        self.store = store
        self.view: dict[str, Note] = dict(store.notes_view())
        self.report = VaultImportReport(source_name)
        self.files = files
        self.by_ref = {n.source_ref[len(REF_PREFIX):]: n.id for n in self.view.values()
                       if n.source_ref.startswith(REF_PREFIX)}
        self.by_text: dict[str, str] = {}
        for n in self.view.values():
            self.by_text.setdefault(_norm(n.content), n.id)
        self.claimed: dict[str, str] = {}  # note id -> path of the file that claimed it

    # ---- one file ----------------------------------------------------------------------------
    def plan_file(self, f: VaultFile) -> _Plan | None:
        rep = FileReport(f.path, "refused")
        self.report.files.append(rep)
        if f.too_big:
            rep.problems.append(f"larger than {MAX_FILE_BYTES // 2**20} MiB: not a note")
            return None
        try:
            text = f.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            rep.problems.append(f"not UTF-8 text (byte {exc.start} cannot be read): save it as UTF-8 and import again")
            return None
        try:
            front, body, _ = split_front_matter(text)
        except FrontMatterError as exc:
            rep.problems.append(f"{exc}; fix it (or remove the --- block) and import again")
            return None
        if front.get(INDEX_KEY):
            rep.status = "skipped"
            rep.problems.append("the vault's index (written by the export), not a note")
            return None
        try:
            return self._plan(f, rep, front, body)
        except (InputError, ValueError) as exc:
            rep.problems.append(str(exc))
            return None

    def _plan(self, f: VaultFile, rep: FileReport, front: dict[str, Any], body: str) -> _Plan | None:
        given_id = front.get("id")
        if given_id is not None and (not isinstance(given_id, str) or not given_id.strip()):
            raise InputError("the front matter's 'id' must be text (the note id Memex wrote there)")
        own, section_refs = _split_links_section(body)
        content = _norm(own)
        if not content:
            raise InputError("no text after the front matter: a note needs some text")
        if not given_id and not first_heading(content):  # a hand-made file: its name is its title
            title = given if isinstance(given := front.get("title"), str) and given.strip() else f.stem
            if base_stem(safe_stem(first_line(content))).casefold() != base_stem(safe_stem(title)).casefold():
                content = f"# {title.strip()}\n\n{content}"
        content = _norm(clean_content(content))
        existing = self.view.get(given_id) if given_id else None
        if existing is None and not given_id:
            nid = self.by_ref.get(f.path) or self.by_text.get(content)
            existing = self.view.get(nid) if nid else None
        note_id = existing.id if existing else given_id or str(uuid.uuid4())
        if note_id in self.claimed:
            rep.status = "skipped"
            rep.note_id = note_id
            rep.problems.append(f"the same note as {self.claimed[note_id]} (id {note_id[:8]}); only that file was used")
            return None
        self.claimed[note_id] = f.path
        rep.note_id = note_id

        when = next((front[k] for k in TIME_KEYS if front.get(k) not in (None, "")), None)
        timestamp = None
        if when is not None:
            try:
                timestamp = normalise_time(str(when))
            except InputError:
                raise InputError(f"the time {str(when)!r} in the front matter is not a date (e.g. 2024-05-08 or "
                                 "2024-05-08T13:56:00+00:00)") from None
        keywords = str_list(front["keywords"], "keywords") if "keywords" in front else None
        tags = _tags(front)
        context = " ".join(str(front["context"] or "").split()) if "context" in front else None
        old_text = existing.content if existing else ""
        # #tags in the text are tags, except one the note's text already had while its tags lack it
        # (removed from the tags on purpose, or an exported note whose text mentions "#python")
        had = {t.casefold() for t in hashtags(old_text)} - {t.casefold() for t in (existing.tags if existing else [])}
        new_tags = [t for t in hashtags(content) if t.casefold() not in had]
        body_refs = all_body_refs = [(t, "") for t, _ in wikilinks(content)]
        if existing is not None:
            seen = {t for t, _ in wikilinks(old_text)}
            body_refs = [(t, r) for t, r in body_refs if t not in seen]
        refs = [(t, "") for t in _front_links(front.get("links"))] + section_refs + body_refs
        aliases = str_list(front.get("aliases"), "aliases") if front.get("aliases") else []

        if existing is None:
            fields: dict[str, Any] = {"content": content, "timestamp": timestamp or f.modified or now_iso(),
                      "keywords": keywords or [], "tags": _merge_tags(tags or [], new_tags),
                      "context": context or ""}
            rep.status = "added"
        else:
            fields = {}
            if _norm(existing.content) != content:
                fields["content"] = content
            if timestamp is not None and timestamp != normalise_time(existing.timestamp):
                fields["timestamp"] = timestamp
            if keywords is not None and keywords != existing.keywords:
                fields["keywords"] = keywords
            merged = _merge_tags(tags if tags is not None else list(existing.tags), new_tags)
            if merged != existing.tags:
                fields["tags"] = merged
            if context is not None and context != existing.context:
                fields["context"] = context
            rep.status = "updated" if fields else "unchanged"
        rep.title = Note(content=fields.get("content", existing.content if existing else content)).title
        return _Plan(f, rep, note_id, existing, content, fields, refs,
                     listed_links=existing is not None and "links" in front, aliases=aliases,
                     text_refs=[t for t, _ in all_body_refs])

    # ---- links ---------------------------------------------------------------------------------
    def resolver(self, plans: list[_Plan]) -> dict[str, str]:
        """Name (casefolded) -> note id: vault paths and file names first, then exported names, then ids."""
        names: dict[str, str] = {}
        for stem, nid in ((s, i) for i, s in file_stems(self.view.values()).items()):
            names.setdefault(stem.casefold(), nid)
        for plan in plans:
            for alias in plan.aliases:
                names.setdefault(alias.casefold(), plan.note_id)
        for plan in plans:  # the vault's own files win over everything but ids
            path = PurePosixPath(plan.file.path)
            names[str(path.with_suffix("")).casefold()] = plan.note_id
            names[path.stem.casefold()] = plan.note_id
        for nid in [*self.view, *(p.note_id for p in plans)]:
            names[nid.casefold()] = nid
        return names

    def resolve(self, names: dict[str, str], target: str) -> str | None:
        t = target.strip()
        t = t[:-3] if t.lower().endswith(".md") else t
        return names.get(t.casefold()) or names.get(PurePosixPath(t).name.casefold())

    # ---- the whole import -------------------------------------------------------------------------
    def run(self) -> VaultImportReport:
        plans = [p for p in (self.plan_file(f) for f in self.files) if p is not None]
        names = self.resolver(plans)
        changed_notes: list[Note] = []
        for plan in plans:
            targets: dict[str, str] = {}
            for target, reason in plan.refs:
                nid = self.resolve(names, target)
                if nid is None:
                    plan.report.problems.append(f"[[{target}]] links to a note that is neither in the vault nor "
                                                "in the memory: not linked")
                elif nid != plan.note_id:
                    targets.setdefault(nid, reason)
            keep = {nid for nid in (self.resolve(names, t) for t in plan.text_refs) if nid}
            note = self._apply(plan, targets, keep)
            if note is not None:
                changed_notes.append(note)
        if changed_notes:
            try:
                with self.store.writing() as w:
                    for note in changed_notes:
                        w.put(note)
            except MemexError as exc:
                raise type(exc)(f"{exc} Nothing from the vault was imported.") from exc
        return self.report

    def _apply(self, plan: _Plan, targets: dict[str, str], keep: set[str]) -> Note | None:
        """The note to write for a plan (None when nothing changes)."""
        rep = plan.report
        if plan.existing is None:
            f = plan.fields
            return Note(content=f["content"], id=plan.note_id, keywords=f["keywords"], context=f["context"],
                        tags=f["tags"], timestamp=f["timestamp"], source="import",
                        source_ref=REF_PREFIX + plan.file.path,
                        links=[Link(t, reason or "a [[wikilink]] in the vault", by="wikilink")
                               for t, reason in targets.items()])
        note = copy.deepcopy(plan.existing)  # a private copy: the live view stays untouched
        for name, value in plan.fields.items():
            note.set_field(name, value, "import")
        rep.changed = list(plan.fields)
        for target, reason in targets.items():
            if target not in note.link_targets and note.add_link(target, reason or "a [[wikilink]] in the vault",
                                                                 "wikilink"):
                rep.changed.append(f"link → {target[:8]}")
        if plan.listed_links:
            for target in [t for t in note.link_targets if t not in targets and t not in keep]:
                if note.remove_link(target, "import"):
                    rep.changed.append(f"link removed → {target[:8]}")
        if not rep.changed:
            rep.status = "unchanged"
            return None
        rep.status = "updated"
        return note


def import_vault(store: Store, source: str | Path | bytes) -> VaultImportReport:
    """Import a vault folder, a zip file path, or zip bytes; the report says what happened to each file.

    Raises InputError (nothing imported) when the source itself cannot be read: not a folder or zip,
    too many or too large files.
    """
    name, files = read_source(source)
    if not files:
        raise InputError(f"No Markdown (.md) files in {name}.")
    return _Importer(store, name, files).run()
