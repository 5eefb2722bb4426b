"""The A-MEM write path: enrich a new note, find its neighbours, link and evolve, commit in one step.

  1. enrich  - the model writes keywords, context and tags (bounded JSON schema, judged on content)
  2. embed   - content + keywords + context + tags
  3. recall  - the k nearest existing notes
  4. decide  - one model call, shown the neighbours with their ids: which to link, and new
               context/tags for which neighbours (evolution). The schema only admits the shown
               ids, and anything else that comes back is ignored.
  5. commit  - the new note, its links and the neighbour changes in one store write; every
               change is recorded in history with who made it.

Bad model output never blocks a write: the note is saved with what was valid and marked for
re-enrichment. ``fast`` mode skips the model (links by similarity) for bulk import.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from ..models.llm import LLM, Usage
from ..notes import Change, Note, clean_content, creator, normalise_time, now_iso
from ..store import Neighbour, Store
from . import bulk, linking, supersede
from .capability import model_is_capable
from .evolve import Judged, apply_judged, judge_decision, record_proposals
from .link_kinds import similar_reason
from .outcome import RememberOutcome
from .records import BulkReport, NewItem, WriteReport
from .validation import (
    ENRICH_EXAMPLE_ANSWER,
    ENRICH_EXAMPLE_NOTE,
    ENRICH_SCHEMA,
    fallback_enrichment,
    validate_enrichment,
)

if TYPE_CHECKING:
    from ..config import Settings

MODES = ("full", "fast")
Progress = Callable[[str], None]

ENRICH_SYSTEM = (
    "You label notes for a personal memory. Reply with JSON only: keywords copied from the note, "
    "one short sentence of context, and one to three lowercase tags."
)


def enrichment_messages(content: str) -> list[dict[str, str]]:
    """The enrichment prompt: instructions plus one worked example (tiny models copy examples well,
    and copy the wording of abstract instructions into their answer)."""
    return [{"role": "system", "content": ENRICH_SYSTEM},
            {"role": "user", "content": "Note:\n" + ENRICH_EXAMPLE_NOTE},
            {"role": "assistant", "content": json.dumps(ENRICH_EXAMPLE_ANSWER)},
            {"role": "user", "content": "Note:\n" + content}]
DECIDE_SYSTEM = (
    "You maintain links between memory notes. You get a NEW note and some EXISTING notes, each with "
    "an id. Reply with JSON: \"links\": the existing notes truly related to the new note, each with its "
    "id and a short reason; \"evolve\": for existing notes whose context or tags should change in light of "
    "the new note, the id, a new one-sentence context and new tags. Use only the ids shown."
)


def short_ids(ids: list[str]) -> dict[str, str]:
    """Shortest unique prefixes (at least 8 characters): cheap for a small model to copy."""
    size = 8
    while len({i[:size] for i in ids}) < len(ids):
        size += 4
    return {i[:size]: i for i in ids}


def model_of(source: LLM | Callable[[], LLM] | None, settings: Settings) -> LLM:
    """The model ``source`` stands for: itself, what it returns (a function that loads the model on
    first use), or the configured model (None)."""
    if source is None:
        from ..models.llm import get_llm

        return get_llm(settings)
    if callable(source) and not hasattr(source, "structured"):
        return source()
    return cast("LLM", source)


class MemoryPipeline:
    """Adds notes through the A-MEM path. ``llm`` may be a model or a function returning one (lazy load)."""

    def __init__(self, store: Store, settings: Settings, llm: LLM | Callable[[], LLM] | None = None) -> None:
        self.store = store
        self.settings = settings
        self._llm = llm
        self.totals = Usage()
        self.writes = 0
        self._totals_lock = threading.Lock()

    @property
    def llm(self) -> LLM:
        model = model_of(self._llm, self.settings)
        self._llm = model
        return model

    # -- one note -----------------------------------------------------------------------------
    def add(self, content: str, *, source: str = "manual", source_ref: str = "", timestamp: str | None = None,
            mode: str = "full", progress: Progress | None = None, speaker: str = "", conversation_id: str = "",
            message_id: str = "", turn_context: str = "", supersedes: str = "", cause: str = "") -> WriteReport:
        """Write one note. Raises InputError only for bad input; model trouble is reported, not raised.

        The note is created already enriched (its version 0 holds keywords, context and tags), linked
        to the notes naming the same people and things, and, in full mode, the model's link and
        evolution ideas are judged (``proposals``) and either applied (capable model, setting on) or
        left in the review inbox. ``supersedes``: the id of the note this one corrects. ``cause``: recorded
        on the events this write commits (a chat turn's key, so a resumed write is never done twice).
        """
        content = clean_content(content)
        if mode not in MODES:
            from ..errors import InputError

            raise InputError(f"Unknown mode {mode!r}; use 'full' or 'fast'.")
        started = time.perf_counter()
        say = progress or (lambda _stage: None)
        when = normalise_time(timestamp) if timestamp else now_iso()
        note = Note(content=content, source=source, source_ref=source_ref, timestamp=when, speaker=speaker,
                    conversation_id=conversation_id, message_id=message_id, turn_context=turn_context)
        report = WriteReport(note_id=note.id, mode=mode)

        if mode == "full":
            say("enriching")
            self._enrich(note, report)
        else:
            self._apply_enrichment(note, fallback_enrichment(content))
            report.enrichment_source = "none"
        note.history.append(Change("created", None, source, by=creator(source), at=now_iso()))

        vec = self.store.embedder.embed([note.text_for_embedding()])[0]
        say("linking")
        neighbours = self.store.nearest(vec, self.settings.neighbours_k)
        entity_links = linking.rule_links(note, self.store)
        decision = self._decide(note, neighbours, report) if mode == "full" else None
        judged = Judged()
        if decision is None:  # fast mode, or the model's decision was unusable: link by similarity
            similar = self._similar_links(neighbours)
        else:
            similar = []
            judged = judge_decision(self, note, neighbours, decision, report, {t for t, _, _ in entity_links})
        auto = self.auto_apply()

        with self.store.writing() as w:
            if supersedes and supersede.close(w, supersedes, note, when, cause=cause):  # its link first
                report.links.append(supersedes)
            for target, reason, actor in [*entity_links, *((t, r, "system") for t, r in similar)]:
                if w.exists(target) and note.add_link(target, reason, by=actor):
                    report.links.append(target)
            if auto:
                apply_judged(w, note, judged, report)
            if mode == "full" and neighbours:
                note.history.append(Change("evolution", None, {
                    "shown": [nb.note.id for nb in neighbours], "linked": report.links,
                    "evolved": report.evolved, "ignored_ids": report.ignored_ids,
                    "proposed": len(judged.items), "rejected": judged.rejected,
                }, by="evolver"))
            w.put(note, vec, cause=cause)
        report.proposals = record_proposals(self.store, judged, applied=auto)
        say(f"evolved {len(report.evolved)}")
        report.needs_enrichment = note.needs_enrichment
        report.seconds = time.perf_counter() - started
        with self._totals_lock:
            self.totals.add(report.usage)
            self.writes += 1
        return report

    def remember_turn(self, text: str, *, conversation_id: str, message_id: str, turn_context: str = "",
                      timestamp: str | None = None, force: bool = False, mode: str = "full",
                      progress: Progress | None = None, source: str = "chat") -> RememberOutcome:
        """Remember what the person said in one chat turn (never the model's reply): see ``turns``."""
        from .turns import remember_turn

        return remember_turn(self, text, conversation_id=conversation_id, message_id=message_id,
                             turn_context=turn_context, timestamp=timestamp, force=force, mode=mode,
                             progress=progress, source=source)

    def auto_apply(self) -> bool:
        """Do grounded proposals apply on their own? Only with the setting on AND a capable model."""
        if not getattr(self.settings, "auto_apply_proposals", False):
            return False
        try:
            return model_is_capable(self.llm)
        except Exception:  # noqa: BLE001 - no model: nothing to apply anyway
            return False

    def _enrich(self, note: Note, report: WriteReport) -> None:
        content = note.content
        result = self.llm.structured(
            enrichment_messages(content),
            ENRICH_SCHEMA,
            validate=lambda data: validate_enrichment(data, content),
            fallback=lambda: fallback_enrichment(content),
            max_tokens=160,
        )
        report.usage.add(result.usage)
        report.problems.extend(result.problems)
        report.enrichment_source = result.source
        if result.source == "fallback":
            note.needs_enrichment = True
            self._apply_enrichment(note, result.value or fallback_enrichment(content))
        else:
            self._apply_enrichment(note, result.value)

    @staticmethod
    def _apply_enrichment(note: Note, value: dict[str, Any], by: str = "") -> None:
        """Creation-time enrichment is part of the note as created (version 0), so it is set directly;
        ``by`` names the actor for a later re-enrichment, which is recorded in history."""
        for name in ("keywords", "context", "tags"):
            if value.get(name):
                if by:
                    note.set_field(name, value[name], by)
                else:
                    setattr(note, name, list(value[name]) if isinstance(value[name], list) else value[name])

    def _similar_links(self, neighbours: list[Neighbour]) -> list[tuple[str, str]]:
        threshold = self.settings.fast_link_threshold
        return [(nb.note.id, similar_reason(nb.similarity)) for nb in neighbours
                if nb.similarity >= threshold]

    def _decide(self, note: Note, neighbours: list[Neighbour], report: WriteReport) -> dict[str, Any] | None:
        """The link/evolve decision. None means "use the similarity fallback"."""
        if not neighbours:
            return None
        handles = short_ids([nb.note.id for nb in neighbours])
        by_handle = {h: next(nb for nb in neighbours if nb.note.id == full) for h, full in handles.items()}
        lines = [f"NEW note: {note.content[:600]}", f"NEW note context: {note.context}", "", "EXISTING notes:"]
        for h, nb in by_handle.items():
            lines.append(f"- id {h}: {nb.note.content[:300]} | context: {nb.note.context} | tags: "
                         f"{', '.join(nb.note.tags)}")
        k = len(handles)
        id_schema = {"type": "string", "enum": list(handles)}
        schema = {
            "type": "object",
            "properties": {
                "links": {"type": "array", "maxItems": k, "items": {
                    "type": "object", "properties": {"id": id_schema, "reason": {"type": "string"}},
                    "required": ["id", "reason"]}},
                "evolve": {"type": "array", "maxItems": k if self.settings.evolution else 0, "items": {
                    "type": "object", "properties": {
                        "id": id_schema, "context": {"type": "string"},
                        "tags": {"type": "array", "maxItems": 3,
                                 "items": {"type": "string", "pattern": "^[a-z]{3,15}$"}}},
                    "required": ["id", "context", "tags"]}},
            },
            "required": ["links", "evolve"],
        }
        evolution = self.settings.evolution

        def validate(data: Any) -> tuple[dict[str, Any] | None, list[str]]:
            problems: list[str] = []
            if not isinstance(data, dict) or not isinstance(data.get("links"), list) \
                    or not isinstance(data.get("evolve", []), list):
                return None, ["answer must have 'links' and 'evolve' lists"]
            links: list[tuple[str, str]] = []
            for item in data["links"]:
                hid = item.get("id") if isinstance(item, dict) else None
                if hid not in handles:
                    report.ignored_ids.append(str(hid))
                    problems.append(f"link id {hid!r} was not offered; ignored")
                    continue
                reason = str(item.get("reason", ""))  # judged later, against the target note
                if handles[hid] not in (t for t, _ in links):
                    links.append((handles[hid], reason))
            evolve: list[tuple[str, Any, Any]] = []
            for item in data.get("evolve", []) if evolution else []:
                hid = item.get("id") if isinstance(item, dict) else None
                if hid not in handles:
                    report.ignored_ids.append(str(hid))
                    problems.append(f"evolve id {hid!r} was not offered; ignored")
                    continue
                ctx, tags = item.get("context"), item.get("tags")
                if ctx or tags:
                    evolve.append((handles[hid], ctx, tags))
            return {"links": links, "evolve": evolve}, problems

        result = self.llm.structured(
            [{"role": "system", "content": DECIDE_SYSTEM}, {"role": "user", "content": "\n".join(lines)}],
            schema, validate=validate, fallback=lambda: {}, max_tokens=220)
        report.usage.add(result.usage)
        report.problems.extend(result.problems)
        if result.source == "fallback":
            return None
        return result.value

    # -- many notes -------------------------------------------------------------------------------
    def add_many(self, items: Iterable[NewItem], *, mode: str = "fast", progress: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None, batch_size: int = 256, total: int | None = None) -> BulkReport:
        """Bulk add. Fast mode (bulk.py) embeds in batches and commits a batch per store write.

        Full mode runs the A-MEM path note by note. Either way a cancel leaves every added note intact.
        """
        items = list(items)
        total = total or len(items)
        report = BulkReport()
        started = time.perf_counter()
        if mode == "full":
            for i, item in enumerate(items):
                if cancel is not None and cancel.is_set():
                    report.cancelled = True
                    break
                try:
                    r = self.add(item.content, source=item.source, source_ref=item.source_ref,
                                 timestamp=item.timestamp, mode="full", speaker=item.speaker,
                                 conversation_id=item.conversation_id, message_id=item.message_id,
                                 turn_context=item.turn_context)
                    report.added += 1
                    report.note_ids.append(r.note_id)
                    report.usage.add(r.usage)
                except Exception as exc:  # noqa: BLE001 - one bad item must not stop an import
                    report.errors.append(f"item {i + 1}: {exc}")
                if progress:
                    progress(i + 1, total)
        else:
            bulk.add_fast(self.store, items, report, k=self.settings.neighbours_k,
                          threshold=self.settings.fast_link_threshold, batch_size=batch_size, total=total,
                          progress=progress, cancel=cancel)
        report.seconds = time.perf_counter() - started
        return report

    # -- repair -------------------------------------------------------------------------------------
    def reenrich(self, note_ids: list[str] | None = None, progress: Callable[[int, int], None] | None = None
                 ) -> list[WriteReport]:
        """Ask the model again for notes marked ``needs_enrichment`` (or the given ones)."""
        targets = note_ids or [n.id for n in self.store.filter(needs_enrichment=True)]
        reports = []
        for i, nid in enumerate(targets):
            note = self.store.get(nid)
            report = WriteReport(note_id=note.id, mode="reenrich")
            content = note.content
            result = self.llm.structured(
                enrichment_messages(content),
                ENRICH_SCHEMA, validate=partial(validate_enrichment, content=content),
                fallback=lambda: {}, max_tokens=160)
            report.usage.add(result.usage)
            report.problems.extend(result.problems)
            report.enrichment_source = result.source
            if result.source != "fallback":
                with self.store.writing() as w:
                    if w.exists(note.id):
                        fresh = w.get(note.id)
                        self._apply_enrichment(fresh, result.value, by="enricher")
                        fresh.needs_enrichment = False
                        w.put(fresh)
            report.needs_enrichment = result.source == "fallback"
            reports.append(report)
            if progress:
                progress(i + 1, len(targets))
        return reports

