"""One consolidation: read the notes and conversations, build digests and the profile, store them.

Why it takes a ``pause`` and a model it does not wrap itself: consolidation must never hold up a
reply, and what a reply is belongs to the chat (``chat.gate``). The chat's runner
(``chat.consolidating``) passes ``pause`` (wait while a reply streams, called between every unit of
work) and a gated model (a model call gives way at its next token when a reply starts). Called from a
script or a test, both default to "no reply to wait for".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..memory.capability import model_is_capable, model_label
from ..notes import Note
from .extract import Line, digest_lines, profile_lines
from .sources import SECTIONS, Said, person_notes, recommendations
from .stored import SaveReport, save_lines
from .written import write_digest, write_section

if TYPE_CHECKING:
    from ..config import Settings
    from ..episodes.conversations import ConversationStore
    from ..models.llm import LLM
    from ..store import Store

Progress = Callable[[float, str], None]


@dataclass
class ConsolidationReport:
    profile_lines: int = 0
    digests: int = 0
    written_by: str = "extract"  # "extract" (the person's own words) or the model's name
    rejected: list[tuple[str, str]] = field(default_factory=list)  # model lines not grounded: (line, why)
    saved: SaveReport = field(default_factory=SaveReport)
    notes_read: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        s = self.saved
        return (f"{self.profile_lines} profile line(s) and {self.digests} digest(s) from {self.notes_read} note(s) "
                f"({'extractive' if self.written_by == 'extract' else 'written by ' + self.written_by}): "
                f"{s.created} new, {s.updated} updated, {s.unchanged} unchanged, {s.kept_edited} kept as you edited "
                f"them, {len(s.removed)} removed; {len(self.rejected)} model line(s) rejected as ungrounded; "
                f"{self.seconds:.1f} s.")


def model_wanted(settings: Settings) -> bool:
    """Is a model other than the bundled one configured? Only such a model may be capable, so only then
    is it loaded for consolidation (the bundled model's consolidation is extractive)."""
    return settings.llm_backend == "server" or bool(settings.model_path)


def _said_for(line: Line) -> list[Said]:
    return [Said(line.conversation_id, "", "", t) for t in line.parts.get("recommended", [])]


def _by_model(llm: LLM, profile: list[Line], digests: list[Line], notes: dict[str, Note],
              report: ConsolidationReport, pause: Callable[[], None], progress: Progress) -> tuple[list[Line], list[Line]]:
    """The capable model's wording of each section and digest (ungrounded lines rejected)."""
    units = len(SECTIONS) + len(digests)
    new_profile: list[Line] = []
    for i, section in enumerate(SECTIONS):
        pause()
        progress(0.1 + 0.7 * i / units, f"writing the profile's {section}")
        lines, rejected = write_section(llm, section, [x for x in profile if x.section == section], notes)
        new_profile += lines
        report.rejected += rejected
    new_digests: list[Line] = []
    for j, line in enumerate(digests):
        pause()
        progress(0.1 + 0.7 * (len(SECTIONS) + j) / units, f"writing the digest of {line.title}")
        written, rejected = write_digest(llm, line, notes, _said_for(line))
        new_digests.append(written)
        report.rejected += rejected
    return new_profile, new_digests


def consolidate(store: Store, conversations: ConversationStore | None = None, llm: LLM | None = None, *,
                pause: Callable[[], None] = lambda: None, progress: Progress | None = None) -> ConsolidationReport:
    """Rebuild the digests and the profile from the store's notes (and the conversations' recommendations).

    Extractive unless ``llm`` is capable (``memory.capability``); then the model writes each section and
    digest and every line must be grounded in its sources. Lines the person edited are kept."""
    started = time.perf_counter()
    say = progress or (lambda _f, _s: None)
    report = ConsolidationReport()
    say(0.0, "reading the notes")
    view = store.notes_view()
    current, every = person_notes(view.values()), person_notes(view.values(), current_only=False)
    report.notes_read = len(every)
    said: list[Said] = []
    titles: dict[str, str] = {}
    if conversations is not None:
        said = recommendations(conversations, set(view))
        titles = {c.id: c.title for c in conversations.list()}
    pause()
    profile = profile_lines(current)
    digests = digest_lines(every, said, titles, pause)
    if llm is not None and model_is_capable(llm):
        report.written_by = model_label(llm)
        profile, digests = _by_model(llm, profile, digests, {n.id: n for n in every}, report, pause, say)
    report.profile_lines, report.digests = len(profile), len(digests)
    say(0.85, "saving the profile and the digests")
    report.saved = save_lines(store, profile + digests, ("profile", "digest"), pause)
    report.seconds = time.perf_counter() - started
    say(1.0, "done")
    return report


__all__ = ["ConsolidationReport", "consolidate", "model_wanted"]
