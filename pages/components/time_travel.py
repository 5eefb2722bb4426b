"""The Graph page's time control: the memory as it was at a moment, and what changed between two.

A moment is picked with a slider over the times at which the memory changed (from the change
log), the far right being now. Moving it back folds the change log up to then (``store.as_of`` /
``store.graph_as_of``): the graph, the note beside it and its links are drawn as they were, under
a banner, with nothing that writes. "What changed since" lists the net change of each note between
two moments (``store.changes_between`` + ``memory_core.explore.timeview.summarise_changes``), as diffs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import networkx as nx
import streamlit as st

from memory_core.errors import InputError, MemexError
from memory_core.explore.asof import label, moments
from memory_core.explore.render import escape_markdown
from memory_core.notes import Note, parse_time
from pages.common import diff_view, show_error

NOW = "now"
MAX_CHANGED_SHOWN = 30


def _parse(ts: str) -> datetime | None:
    try:
        return parse_time(ts)
    except (InputError, TypeError, ValueError):
        return None


def first_change(notes: Mapping[str, Note]) -> datetime | None:
    """The earliest time any note records (its first change, else its timestamp): bounds the date pickers."""
    best: datetime | None = None
    for note in notes.values():
        t = _parse(note.history[0].at) if note.history else None
        t = t or _parse(note.timestamp)
        if t and (best is None or t < best):
            best = t
    return best


def change_mark(notes: Mapping[str, Note]) -> tuple[int, int, int]:
    """A cheap fingerprint of the memory now: any write adds a note, a history entry or a link.

    Folding the log at 10,000 notes takes seconds, so the folded views are kept per session and
    reused while this mark is unchanged (a click or a filter change refolds nothing)."""
    return (len(notes), sum(len(n.history) for n in notes.values()), sum(len(n.links) for n in notes.values()))


def _cached(name: str, key: Any, compute: Any) -> Any:
    slot = st.session_state.get(name)
    if slot is not None and slot[0] == key:
        return slot[1]
    value = compute()
    st.session_state[name] = (key, value)
    return value


def time_control(store: Any, notes_now: Mapping[str, Note]) -> str | None:
    """The moment chosen (ISO, UTC), or None for "now": a toggle and, when on, a slider over the moments
    at which the memory changed (read from the change log only while the toggle is on)."""
    on = st.toggle("🕰️ Look back in time", key="graph_past",
                   help="Draw the memory as it was at a moment: notes, links and fields folded from the change log.")
    if not on:
        return None
    try:
        options = [*_cached("_graph_moments", change_mark(notes_now), lambda: moments(store.events())), NOW]
    except MemexError as exc:
        show_error(exc, "Cannot read the change log")
        return None
    chosen = st.select_slider("Moment (UTC): each step is a time the memory changed", options=options,
                              value=NOW, key="graph_when", format_func=lambda m: "now" if m == NOW else label(m),
                              help="Drag left to go back; the far right is now.")
    return None if chosen == NOW else chosen


def past_view(store: Any, when: str, notes_now: Mapping[str, Note]) -> tuple[dict[str, Note], nx.DiGraph]:
    """Notes and graph as they were at ``when`` (read-only copies), folded once per moment and memory state.

    The graph is built from the folded notes (what ``store.graph_as_of`` does) so the log is folded once."""
    from memory_core.store import build_graph

    def fold() -> tuple[dict[str, Note], nx.DiGraph]:
        notes = store.as_of(when)
        return notes, build_graph(notes)

    return _cached("_graph_past", (when, change_mark(notes_now)), fold)


def banner(when: str, shown: int, now: int) -> None:
    st.warning(f"🕰️ **The memory as it was on {escape_markdown(when[:16].replace('T', ' '))} UTC** — {shown:,} notes "
               f"then ({now:,} now). Read-only: nothing can be edited in the past. Switch “Look back in time” "
               "off to return to now.", icon="🔒")


def changes_since(store: Any, notes_now: Mapping[str, Note]) -> None:
    """The "what changed since" view between two moments (default: the last 7 days to now)."""
    start = first_change(notes_now)
    now = datetime.now(timezone.utc)
    lo_day = (start or now).date()
    c1, c2 = st.columns(2)
    default_since = max(lo_day, (now - timedelta(days=7)).date())
    since_day = c1.date_input("Since", value=default_since, min_value=lo_day, max_value=now.date(),
                              key="graph_since_day")
    until_day = c2.date_input("Until (end of day)", value=now.date(), min_value=lo_day, max_value=now.date(),
                              key="graph_until_day")
    if since_day > until_day:
        st.error("“Since” must be on or before “Until”.")
        return
    from memory_core.explore.timeview import summarise_changes

    since = datetime.combine(since_day, datetime.min.time(), tzinfo=timezone.utc).isoformat()
    until = datetime.combine(until_day, datetime.max.time().replace(microsecond=0), tzinfo=timezone.utc).isoformat()
    def compare() -> tuple[list[Any], Any]:
        events = store.changes_between(since, until)
        return events, summarise_changes(store.as_of(since), store.as_of(until), since, until, events)

    try:
        events, summary = _cached("_graph_changes", (since, until, change_mark(notes_now)), compare)
    except MemexError as exc:
        show_error(exc, "Cannot compare these moments")
        return
    if summary.empty:
        st.info("Nothing changed between these moments.")
        return
    st.caption(f"{summary.count('added')} added · {summary.count('changed')} changed · "
               f"{summary.count('removed')} removed ({len(events):,} recorded change(s)).")
    for change in summary.notes[:MAX_CHANGED_SHOWN]:
        who = ", ".join(f"{a} ×{n}" for a, n in sorted(change.actors.items()))
        with st.expander(f"{change.status}: {escape_markdown(change.title)}" + (f" — by {escape_markdown(who)}" if who else "")):
            st.caption(f"note `{change.note_id}`")
            for d in change.diffs:
                st.markdown(f"**{escape_markdown(d.field)}** — {escape_markdown(d.summary())}")
                diff_view(d, whole=False)
    if len(summary.notes) > MAX_CHANGED_SHOWN:
        st.caption(f"… and {len(summary.notes) - MAX_CHANGED_SHOWN:,} more notes changed.")
