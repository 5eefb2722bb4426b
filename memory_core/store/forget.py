"""Forget means forgotten: a deleted note's text and vector leave every place Memex writes.

``forget(ids)``: (1) other notes whose context, tags or link reasons quote the note are rewritten
(new events), and the note is deleted (a tombstone); (2) the log is scrubbed: the note's own
events are redacted, and every other event that quotes it or links to it loses that value; (3)
proposals about it, its recall counts and the exports in the data folder that hold it are removed
or rewritten; (4) local mode: the Chroma folder is compacted (compaction.py), because Chroma keeps
every write in its own queue table and in free pages long after a delete.

"Quotes" means: shares a run of five words with the note, or a word of six letters or more that
no remaining note's own content contains (a name, a code, a rare word). Only what Memex wrote
about other notes is scrubbed (context, tags, keywords, link reasons): another note's content is
the person's own words and is never rewritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

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
    notes_scrubbed: list[str] = field(default_factory=list)  # other notes that quoted a forgotten note
    events_redacted: int = 0  # the notes' own events, and other notes' events that quoted them
    proposals_removed: int = 0
    exports_rewritten: list[str] = field(default_factory=list)
    exports_removed: list[str] = field(default_factory=list)
    compacted: bool = False
    bytes_before: int = 0
    bytes_after: int = 0
    not_purged: list[str] = field(default_factory=list)  # places Memex cannot purge (server disk)


class Quotes:
    """Does a value quote one of the forgotten notes?"""

    def __init__(self, texts: list[str], ids: set[str], common: Any) -> None:
        self.ids = ids
        self.shingles: set[tuple[str, ...]] = set()
        self.rare: set[str] = set()
        for text in texts:
            words = [w.lower() for w in WORD.findall(text)]
            self.shingles.update(tuple(words[i:i + 5]) for i in range(len(words) - 4))
            self.rare.update(w for w in words if len(w) >= 6 and not common(w))

    def quoted(self, text: str) -> bool:
        words = [w.lower() for w in WORD.findall(text)]
        if any(w in self.rare for w in words):
            return True
        return any(tuple(words[i:i + 5]) in self.shingles for i in range(len(words) - 4))

    def scrub(self, value: Any) -> Any:
        """The value with every quote replaced and every link to a forgotten note dropped."""
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
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        return value


SCRUBBED = ("context", "tags", "keywords", "links")


def _scrub_event_values(quotes: Quotes, ev: Event) -> tuple[Any, Any]:
    """(old, new) of another note's event with quotes of forgotten notes removed (never its content)."""
    if ev.field in SCRUBBED or ev.field not in LOGGED_FIELDS and ev.field != CREATE:
        return quotes.scrub(ev.old), quotes.scrub(ev.new)
    if ev.field == CREATE and isinstance(ev.new, dict):
        new = dict(ev.new)
        for name in SCRUBBED:
            if name in new:
                new[name] = quotes.scrub(new[name])
        new["history"] = [quotes.scrub(c) if isinstance(c, dict) and c.get("field") in SCRUBBED else c
                          for c in new.get("history", [])]
        return ev.old, new
    return ev.old, ev.new


class Forgetter:
    """``forget`` for one store: its writer deletes, then the log, proposals and disk are purged."""

    def __init__(self, reads: Reads, writer: Writer, proposals: ProposalInbox) -> None:
        self.reads = reads
        self.writer = writer
        self.live = writer.live
        self.proposals = proposals

    def forget(self, note_ids: list[str]) -> ForgetReport:
        """Delete notes so that their text and vectors are gone from every place Memex writes."""
        report = ForgetReport()
        live = self.live
        with live.lock:
            with self.writer.writing() as w:
                ids = list(dict.fromkeys(self.reads.resolve_id(i) for i in note_ids))
                report.forgotten = ids
                doomed = set(ids)
                quotes = self._quotes(ids)
                report.notes_scrubbed = self._scrub_notes(w, quotes, doomed)
                # the delete redacts the notes' own events as it commits; count them for the report
                report.events_redacted = sum(len(self.writer.unredacted(nid)) for nid in ids)
                for nid in ids:
                    w.delete(nid)
            snapshot.delete(live.home)  # it holds the text; a fresh one is written below
            report.events_redacted += self._scrub_log(quotes, doomed)
            report.proposals_removed = self.proposals.forget_notes(doomed)
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
            if live.unsaved or snapshot.SAVE_EVERY <= len(live.notes):
                live.save_snapshot()
        return report

    def _quotes(self, ids: list[str]) -> Quotes:
        """What counts as quoting these notes. A word is "common" when another note's own words hold
        it (its content, not its context or links, which may be the very quotes to find)."""
        notes, doomed = self.live.notes, set(ids)
        texts = []
        for nid in ids:
            n = notes[nid]
            texts += [n.content, n.context, " ".join(n.keywords), n.turn_context]
        vocabulary = {w.lower() for n in notes.values() if n.id not in doomed for w in WORD.findall(n.content)}
        return Quotes(texts, doomed, vocabulary.__contains__)

    def _scrub_notes(self, w: WriteBatch, quotes: Quotes, doomed: set[str]) -> list[str]:
        """Rewrite what Memex wrote about other notes where it quotes a forgotten one; their ids."""
        scrubbed = []
        for other in list(self.live.notes.values()):
            if other.id in doomed:
                continue
            values = [other.context, other.tags, other.keywords, [asdict(x) for x in other.links]]
            if all(quotes.scrub(v) == v for v in values):
                continue
            note = w.get(other.id)
            changed = False
            for name in ("context", "tags", "keywords", "links"):
                value = [asdict(x) for x in note.links] if name == "links" else getattr(note, name)
                clean = quotes.scrub(value)
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
