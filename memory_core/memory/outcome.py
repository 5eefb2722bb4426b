"""What one chat turn did to the memory: stored, not stored (and why), merged, or superseded.

Why a record of its own: the chat shows it under the person's message ("not stored: a greeting",
"seen again: note abc123"), the CLI prints it as JSON and the memory benchmark counts it. One
shape for all three keeps them honest with each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

STATUSES = ("stored", "not_stored", "merged", "superseded")


@dataclass
class RememberOutcome:
    """The result of ``MemoryPipeline.remember_turn``.

    ``status``: "stored" (a new note), "not_stored" (nothing worth a note; ``reason`` says why),
    "merged" (a near-duplicate: the existing ``note_id`` was "seen again"), "superseded" (a new
    note ``note_id`` replaced the older ``superseded_id``, which is kept and closed).
    """

    status: str
    note_id: str = ""
    reason: str = ""
    superseded_id: str = ""
    proposals: list[str] = field(default_factory=list)
    report: Any = None  # WriteReport of the write, None when nothing was written
    similarity: float = 0.0  # to the merged / superseded note, when there is one
    links: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    @property
    def stored(self) -> bool:
        """True when a note now holds this turn (new, merged into or superseding)."""
        return self.status != "not_stored"

    def to_dict(self) -> dict[str, Any]:
        report = asdict(self.report) if is_dataclass(self.report) and not isinstance(self.report, type) else self.report
        counts = {name: int((report or {}).get(name, 0) or 0) if isinstance(report, dict) else 0
                  for name in ("proposed", "grounded", "applied")}
        return {"status": self.status, "note_id": self.note_id, "reason": self.reason,
                "superseded_id": self.superseded_id, "proposals": list(self.proposals),
                "similarity": round(float(self.similarity), 4), "links": list(self.links), **counts,
                "report": report}
