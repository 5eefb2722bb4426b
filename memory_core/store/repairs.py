"""Repairs of notes written under an older rule: new events, made by the first write of a writing process.

Why events and not a format migration: a repair changes what notes say, so it belongs in each note's
history (one event per note, with its cause, revertible like any edit), and a format migration runs
at every open, a reader's too, while a process that only reads must leave the data folder as it was.
So a reader sees the notes as they are; the first process that writes anyway (a chat turn, an edit,
the app's queue) applies the repair before its own change, under the store's process lock, after
following the log: two processes never repair a note twice (the second finds nothing to change).

The one repair so far: a chat note's retrieval context (``turn_context``) kept Memex's reply next to
the person's previous message, and the model's words steered recall (issue 24). The reply's lines
are dropped; the person's words and the date stay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager

from ..notes import ASSISTANT_LINE, Note, person_context
from .batch import WriteBatch

CONTEXT_REPAIR = "repair:context-without-replies"


def contexts_to_repair(notes: Mapping[str, Note]) -> dict[str, str]:
    """Note id -> its context without the assistant's lines, for every note whose context has one."""
    out = {}
    for nid, note in notes.items():
        if ASSISTANT_LINE not in note.turn_context:  # cheap filter first: most notes have none
            continue
        if any(c.cause == CONTEXT_REPAIR for c in note.history):
            continue  # repaired once, then reverted by the person: their choice stands
        clean = person_context(note.turn_context)
        if clean != note.turn_context:
            out[nid] = clean
    return out


def repair_contexts(notes: Callable[[], Mapping[str, Note]],
                    writing: Callable[[], AbstractContextManager[WriteBatch]]) -> int:
    """Rewrite the context of every note that still holds an assistant's reply; returns how many.

    ``notes`` gives the live notes, ``writing`` a write batch (the store's ``Writer``). Costs one scan
    of the notes in memory when there is nothing to do (the usual case)."""
    if not contexts_to_repair(notes()):
        return 0
    with writing() as w:
        todo = contexts_to_repair(notes())  # again: the log was followed when the batch began
        for nid, clean in todo.items():
            note = w.get(nid)
            note.set_field("turn_context", clean, "system")
            w.put(note, cause=CONTEXT_REPAIR)
    return len(todo)
