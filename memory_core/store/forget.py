"""Forget means forgotten: a deleted note's text and vector leave every place Memex writes.

``forget(ids)``: (1) other notes whose retrieval context, model-written context, tags, keywords or
link reasons quote the note are rewritten (new events; a chat note's context loses only the lines
that quote it, and Memex's reply to it), and the note is deleted (a tombstone); (2) the log is
scrubbed: the note's own events are redacted, and every other event that quotes it or links to it
loses that value; (3) proposals about it, its recall counts and the exports in the data folder that
hold it are removed or rewritten, and the snapshot (cache/) is written afresh; (4) local mode: the
Chroma folder is compacted (compaction.py), because Chroma keeps every write in its own queue table
and in free pages long after a delete. Deleting a note is forgetting it (``EditMixin.delete``).

An id already deleted is accepted: its leftovers are purged again (events a crash left unredacted,
the folder compacted) and, given the words it held (``words``: the CLI and the Notes page find them
in the conversation the note came from), every other note's quote of it is removed too: how a store
whose deletes predate these rules is cleaned.

"Quotes" means: shares a run of five words with the note's words (all of them when it has three or
four; a one- or two-word note only when a value is exactly that), or holds a name or code of the note
(a capitalised word inside a sentence, or letters with digits, of four characters or more) that no
remaining note's own content contains. Only the note's own words are looked for, never its context
or keywords: those are other notes' words and the model's, and looking for them rewrote unrelated
notes (issue 24). Another note's content is the person's own words and is never rewritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import NotFoundError
from ..notes import ASSISTANT_LINE, CONSOLIDATION, PERSON_LINE, is_derived
from . import snapshot
from .batch import WriteBatch
from .codec import LOGGED_FIELDS
from .commit import Writer
from .compaction import compact_local
from .events import CREATE, DELETE, Event, redacted
from .proposals import ProposalInbox
from .queries import Reads

WORD = re.compile(r"[^\W_]+", re.UNICODE)
MARK = "[forgotten]"


@dataclass
class ForgetReport:
    forgotten: list[str] = field(default_factory=list)
    already_deleted: list[str] = field(default_factory=list)  # of those, the ones deleted before
    notes_scrubbed: list[str] = field(default_factory=list)  # other notes that quoted a forgotten note
    events_redacted: int = 0  # the notes' own events, and other notes' events that quoted them
    proposals_removed: int = 0
    exports_rewritten: list[str] = field(default_factory=list)
    exports_removed: list[str] = field(default_factory=list)
    compacted: bool = False
    bytes_before: int = 0
    bytes_after: int = 0
    not_purged: list[str] = field(default_factory=list)  # places Memex cannot purge (server disk)


def _names(text: str) -> set[str]:
    """The note's names and codes: capitalised words inside a sentence, and words with digits."""
    out: set[str] = set()
    starts = True
    for match in re.finditer(r"[^\W_]+|[.!?]", text):
        word = match.group(0)
        if word in ".!?":
            starts = True
            continue
        if len(word) >= 4 and ((word[0].isupper() and not starts) or
                               (any(c.isdigit() for c in word) and any(c.isalpha() for c in word))):
            out.add(word.lower())
        starts = False
    return out


class Quotes:
    """Does a value quote one of the forgotten notes?"""

    def __init__(self, texts: list[str], ids: set[str], common: Any) -> None:
        self.ids = ids
        self.shingles: set[tuple[str, ...]] = set()
        self.short: set[tuple[str, ...]] = set()  # notes of fewer than five words, whole
        self.rare: set[str] = set()
        for text in texts:
            words = [w.lower() for w in WORD.findall(text)]
            if len(words) >= 5:
                self.shingles.update(tuple(words[i:i + 5]) for i in range(len(words) - 4))
            elif words:
                self.short.add(tuple(words))
            self.rare.update(w for w in _names(text) if not common(w))

    def quoted(self, text: str) -> bool:
        words = [w.lower() for w in WORD.findall(text)]
        if any(w in self.rare for w in words):
            return True
        if any(tuple(words[i:i + 5]) in self.shingles for i in range(len(words) - 4)):
            return True
        for short in self.short:
            n = len(short)
            if n >= 3 and any(tuple(words[i:i + n]) == short for i in range(len(words) - n + 1)):
                return True
            if tuple(words) == short:
                return True
        return False

    def scrub_lines(self, text: str) -> str:
        """A chat note's retrieval context without the lines that quote a forgotten note, nor the
        reply that answered such a line (the date and the other lines stay)."""
        kept: list[str] = []
        dropped = False
        for line in text.split("\n"):
            said = line[len(PERSON_LINE):] if line.startswith(PERSON_LINE) else line
            reply = line.startswith(ASSISTANT_LINE)
            if reply:
                said = line[len(ASSISTANT_LINE):]
            if self.quoted(said) or (reply and dropped) or said.strip() in self.ids:
                dropped = True
                continue
            dropped = False
            kept.append(line)
        return "\n".join(kept)

    def scrub(self, value: Any, name: str = "") -> Any:
        """The value with every quote replaced and every link to a forgotten note dropped."""
        if name == "turn_context" and isinstance(value, str):
            return self.scrub_lines(value)
        if isinstance(value, str):
            return MARK if self.quoted(value) or value in self.ids else value
        if isinstance(value, list):
            out = []
            for x in value:
                if isinstance(x, dict) and x.get("target") in self.ids:
                    continue
                y = self.scrub(x)
                if isinstance(x, str) and y == MARK and not isinstance(value, str):
                    continue  # a quoting tag or keyword is dropped, not replaced
                out.append(y)
            return out
        if isinstance(value, dict):  # a note (exports), a history entry, a link
            entry = value.get("field") if isinstance(value.get("field"), str) else ""
            if entry == "content":
                return value  # the person's own words about another note: never rewritten
            return {k: v if k == "content" else self.scrub(v, entry if entry and k in ("old", "new") else k)
                    for k, v in value.items()}
        return value


SCRUBBED = ("context", "tags", "keywords", "links", "turn_context")


def _scrub_event_values(quotes: Quotes, ev: Event) -> tuple[Any, Any]:
    """(old, new) of another note's event with quotes of forgotten notes removed (never its content)."""
    if ev.field in SCRUBBED or ev.field not in LOGGED_FIELDS and ev.field != CREATE:
        return quotes.scrub(ev.old, ev.field), quotes.scrub(ev.new, ev.field)
    if ev.field == CREATE and isinstance(ev.new, dict):
        new = dict(ev.new)
        for name in SCRUBBED:
            if name in new:
                new[name] = quotes.scrub(new[name], name)
        new["history"] = [quotes.scrub(c) if isinstance(c, dict) and c.get("field") in SCRUBBED else c
                          for c in new.get("history", [])]
        return ev.old, new
    return ev.old, ev.new


@dataclass(frozen=True)
class DeletedNote:
    id: str
    deleted_at: str


class Forgetter:
    """``forget`` for one store: its writer deletes, then the log, proposals and disk are purged."""

    def __init__(self, reads: Reads, writer: Writer, proposals: ProposalInbox) -> None:
        self.reads = reads
        self.writer = writer
        self.live = writer.live
        self.proposals = proposals

    def forget(self, note_ids: list[str], *, words: list[str] | None = None) -> ForgetReport:
        """Delete notes so that their text and vectors are gone from every place Memex writes.

        An id already deleted is purged again; ``words`` are text the notes held (for a deleted note,
        whose own events no longer say it), looked for in other notes like the notes' own content."""
        report = ForgetReport()
        live = self.live
        with live.lock:
            with self.writer.writing() as w:
                alive, gone = self._targets(note_ids)
                alive += self._citing(set(alive + gone))
                ids = alive + gone
                report.forgotten, report.already_deleted = ids, gone
                doomed = set(ids)
                quotes = self._quotes([n for n in alive if not is_derived(self.live.notes[n])], words or [], doomed)
                report.notes_scrubbed = self._scrub_notes(w, quotes, doomed)
                # the delete redacts the notes' own events as it commits; count them for the report
                report.events_redacted = sum(len(self.writer.unredacted(nid)) for nid in ids)
                for nid in alive:
                    w.delete(nid)
            self.writer.redact(gone)  # what a crash between a tombstone and its redaction left
            snapshot.delete(live.home)  # it holds the text; a fresh one is written below
            report.events_redacted += self._scrub_log(quotes, doomed)
            report.proposals_removed = self.proposals.forget_notes(doomed, quotes.quoted)
            live.recall.forget(ids)
            live.recall.flush()
            self._scrub_exports(quotes, doomed, report)
            if live.server:
                report.not_purged.append(
                    "the Chroma server's own files: it keeps written records in its queue table and free "
                    "pages until it compacts them (see docs/server-mode.md)")
            else:
                report.bytes_before, report.bytes_after = compact_local(live)
                report.compacted = True
            live.save_snapshot()  # the fold without the forgotten words: the next open reads it
        return report

    def deleted_notes(self, limit: int | None = None) -> list[DeletedNote]:
        """Notes deleted (tombstones in the log), newest first: what can still be forgotten by id."""
        live = self.live
        with live.lock:
            self.reads.refresh()
            tombs = [e for e in live.conn.read_log({"field": DELETE}) if e.note_id not in live.notes]
        latest: dict[str, DeletedNote] = {}
        for ev in tombs:  # sorted by id: a later delete of the same id (deleted, imported, deleted) wins
            latest[ev.note_id] = DeletedNote(ev.note_id, ev.at)
        newest = sorted(latest.values(), key=lambda d: d.deleted_at, reverse=True)
        return newest[:limit] if limit is not None else newest

    def _targets(self, note_ids: list[str]) -> tuple[list[str], list[str]]:
        """(live ids, ids already deleted): a full id or an unambiguous prefix of either."""
        notes = self.live.notes
        alive: list[str] = []
        gone: list[str] = []
        deleted: list[str] | None = None
        for given in note_ids:
            key = given.strip()
            if key in notes or (len(key) >= 6 and any(n.startswith(key) for n in notes)):
                alive.append(self.reads.resolve_id(key))  # (an ambiguous prefix is refused there)
                continue
            if deleted is None:
                deleted = [d.id for d in self.deleted_notes()]
            found = [d for d in deleted if d == key] or ([d for d in deleted if d.startswith(key)]
                                                          if len(key) >= 6 else [])
            if len(found) != 1:
                raise NotFoundError(f"No note with id {key!r}, and no deleted note with it either."
                                    if not found else f"The id prefix {key!r} matches {len(found)} deleted "
                                    "notes; give more of it.")
            gone.append(found[0])
        alive = list(dict.fromkeys(alive))
        return alive, [g for g in dict.fromkeys(gone) if g not in alive]

    def _citing(self, ids: set[str]) -> list[str]:
        """The digests and profile lines that cite one of these notes (links ``by=CONSOLIDATION``).

        Why they go too: they quote the forgotten note's words, and a digest kept with a sentence the
        person deleted would let it linger. The next consolidation rebuilds them from what remains. Their
        own words are not looked for in other notes (``forget``): they are copies of other notes' words,
        and forgetting a digest must not rewrite the notes it was made from."""
        return [n.id for n in self.live.notes.values() if n.id not in ids and is_derived(n)
                and any(x.by == CONSOLIDATION and x.target in ids for x in n.links)]

    def _quotes(self, alive: list[str], words: list[str], doomed: set[str]) -> Quotes:
        """What counts as quoting these notes: their own words only (see the module's docstring). A
        word is "common" when another note's own words hold it (its content, not its context or links,
        which may be the very quotes to find)."""
        notes = self.live.notes
        texts = [notes[nid].content for nid in alive] + [t for t in words if t.strip()]
        vocabulary = {w.lower() for n in notes.values() if n.id not in doomed for w in WORD.findall(n.content)}
        return Quotes(texts, doomed, vocabulary.__contains__)

    def _scrub_notes(self, w: WriteBatch, quotes: Quotes, doomed: set[str]) -> list[str]:
        """Rewrite what other notes hold that quotes a forgotten one (never their content); their ids."""
        scrubbed = []
        for other in list(self.live.notes.values()):
            if other.id in doomed:
                continue
            values = {"context": other.context, "tags": other.tags, "keywords": other.keywords,
                      "links": [asdict(x) for x in other.links], "turn_context": other.turn_context}
            if all(quotes.scrub(v, name) == v for name, v in values.items()):
                continue
            note = w.get(other.id)
            changed = False
            for name in values:
                value = [asdict(x) for x in note.links] if name == "links" else getattr(note, name)
                clean = quotes.scrub(value, name)
                if name == "context" and clean == MARK:
                    clean = ""
                if clean != value:
                    changed = note.set_field(name, clean, "system") or changed
            if changed:
                w.put(note, cause="forget")
                scrubbed.append(other.id)
        return scrubbed

    def _scrub_log(self, quotes: Quotes, doomed: set[str]) -> int:
        """Rewrite every event that quotes or links to a forgotten note; refold the notes touched."""
        log = self.live.conn.log
        rewritten = []
        for ev in log.read():
            if ev.redacted:
                continue
            if ev.note_id in doomed:
                if ev.field != DELETE:
                    rewritten.append(redacted(ev))
                continue
            old, new = _scrub_event_values(quotes, ev)
            if old != ev.old or new != ev.new:
                rewritten.append(replace(ev, old=old, new=new))
        if rewritten:
            log.rewrite(rewritten)
            self.live.refold({e.note_id for e in rewritten if e.note_id not in doomed})
        return len(rewritten)

    def _scrub_exports(self, quotes: Quotes, doomed: set[str], report: ForgetReport) -> None:
        folder = Path(self.live.home) / "exports"
        if not folder.is_dir():
            return
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            raw = path.read_bytes()
            text = raw.decode("utf-8", "replace")
            if not (any(nid in text for nid in doomed) or quotes.quoted(text)):
                continue
            try:
                data = json.loads(text)
                notes = data["notes"]
                data["notes"] = [quotes.scrub(n) for n in notes if n.get("id") not in doomed]
                data["count"] = len(data["notes"])
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
                tmp.replace(path)
                report.exports_rewritten.append(str(path))
            except (ValueError, KeyError, TypeError, AttributeError):
                path.unlink()
                report.exports_removed.append(str(path))
