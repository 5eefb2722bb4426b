"""Links without the model: notes that name the same person, pet, place or thing.

"Biscuit is afraid of thunderstorms" and "I have a golden retriever called Biscuit" share the
name Biscuit; that is a fact of their words, so the link is made by rule (``by="system"``, reason
"Both name Biscuit."). A name that is in a large share of the notes (the person's own name, a
speaker label) links nothing; each name links to the few most recent notes that carry it, so a
frequent name does not tie a note to hundreds.
"""

from __future__ import annotations

from typing import Any

from ..notes import Note
from ..retrieval.entities import display, entities, mentions
from ..retrieval.signals import context_index

MAX_PER_ENTITY = 3
MAX_LINKS = 5
MAX_SHARE = 0.2


def entity_links(note: Note, store: Any) -> list[tuple[str, str, str]]:
    """(target id, reason, actor) for the notes that name an entity this note names."""
    notes = store.notes_view()
    if not notes:
        return []
    index = context_index(store, notes)
    known = index.entities()
    strong_anywhere = {k for found in known.values() for k in found}
    mine = entities(note.content, strong_elsewhere=strong_anywhere)
    mine |= {k for k, strong in mentions(note.content).items() if not strong and k in strong_anywhere}
    if not mine:
        return []
    cap = max(MAX_PER_ENTITY, int(MAX_SHARE * len(notes)))
    out: list[tuple[str, str, str]] = []
    taken: set[str] = set()
    for key in sorted(mine):
        holders = [nid for nid, found in known.items() if key in found and nid in notes and nid != note.id
                   and not notes[nid].superseded_by]
        if not holders or len(holders) > cap:
            continue
        holders.sort(key=lambda nid: notes[nid].timestamp, reverse=True)
        for nid in holders[:MAX_PER_ENTITY]:
            if nid not in taken and len(out) < MAX_LINKS:
                taken.add(nid)
                out.append((nid, f"Both name {display(key)}.", "system"))
    return out
