"""The one time-travel widget, on the Notes and the Graph pages: the memory as it was at a moment,
and what changed between two days.

A moment is picked as a day (UTC) and, on that day, a step on a slider over the times the memory
changed (from the change log): every step is a different state, and the far right is the end of the
day (or now, today). Going back folds the change log up to then (``store.as_of``): the page draws
notes, links and fields as they were, read-only, under a banner with "Back to now". "What changed"
lists the net change of each note between two days (``store.changes_between`` +
``memory_core.explore.timeview.summarise_changes``), as diffs. Folds are kept per session
(``asof.FoldCache``) while the memory's ``change_mark`` stays the same. ``scope`` ("notes", "graph")
keeps each page's widget state apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import networkx as nx
import streamlit as st

from memory_core.errors import MemexError
from memory_core.explore.asof import FoldCache, change_mark, label, moments, moments_on
from memory_core.explore.render import escape_markdown
from memory_core.explore.timeview import moment, summarise_changes
from memory_core.explore.wording import count
from memory_core.notes import Note
from pages.common import diff_view, show_error

NOW = "now"
END_OF_DAY = "end of the day"
CHANGES_SHOWN = 50
ICONS = {"added": "🆕", "changed": "✏️", "removed": "🗑️"}


def _cache() -> FoldCache:
    return FoldCache(st.session_state)


def _today() -> date:
    return datetime.now(timezone.utc).date()


def time_control(store: Any, notes_now: Mapping[str, Note], scope: str) -> str | None:
    """The moment looked at (ISO, UTC), or None for now: a toggle; when on, a day and that day's moments."""
    on = st.toggle("🕰️ Look back in time", key=f"{scope}_past",
                   help="The memory as it was at a moment: notes, links and fields folded from the change log.")
    if not on:
        return None
    today = _today()
    c_day, c_step = st.columns([1, 3], vertical_alignment="bottom")
    day = c_day.date_input("As of (UTC)", value=today, max_value=today, key=f"{scope}_as_of_day")
    try:
        steps = moments_on(_cache().get(f"{scope}_moments", change_mark(notes_now), lambda: moments(store.events())),
                           day)
    except MemexError as exc:
        show_error(exc, "Cannot read the change log")
        return None
    last = NOW if day >= today else END_OF_DAY
    if not steps:
        return None if last == NOW else moment(day)
    options, key = [*steps, last], f"{scope}_when"
    if st.session_state.get(key) not in options:  # another day was picked: start at its end
        st.session_state[key] = last
    chosen = c_step.select_slider("Moment (UTC): each step is a time the memory changed that day", options=options,
                                  key=key, format_func=lambda m: m if m in (NOW, END_OF_DAY) else label(m)[11:],
                                  help="Drag left to go back; the far right is the end of the day (today: now).")
    if chosen == NOW:
        return None
    return moment(day) if chosen == END_OF_DAY else chosen


def past_view(store: Any, when: str, notes_now: Mapping[str, Note], scope: str) -> tuple[dict[str, Note], nx.DiGraph]:
    """Notes and graph as they were at ``when`` (read-only copies), folded once per moment and memory state;
    the graph is built from the folded notes (what ``store.graph_as_of`` does) so the log is folded once."""
    from memory_core.store import build_graph

    def fold() -> tuple[dict[str, Note], nx.DiGraph]:
        notes = dict(store.as_of(when))
        return notes, build_graph(notes)

    return _cache().get(f"{scope}_past", (when, change_mark(notes_now)), fold)


def banner(when: str, shown: int, now: int, scope: str) -> None:
    """Says the page shows the past, read-only, with a way back."""
    c_text, c_btn = st.columns([5, 1], vertical_alignment="center")
    c_text.warning(f"🕰️ **The memory as it was on {escape_markdown(when[:16].replace('T', ' '))} UTC** · {shown:,} "
                   f"notes then ({now:,} now). Read-only: nothing can be edited, linked or deleted in the past.",
                   icon="🔒")
    c_btn.button("Back to now", icon="⏩", key=f"{scope}_back_to_now", on_click=_back_to_now, args=(scope,),
                 width="stretch")


def _back_to_now(scope: str) -> None:
    st.session_state[f"{scope}_past"] = False


def changes_view(store: Any, notes_now: Mapping[str, Note], scope: str) -> None:
    """What changed between two days (default: the last 7): notes added, changed and removed, and who did it."""
    today = _today()
    c_from, c_to = st.columns(2)
    since_day = c_from.date_input("Changes since (start of day, UTC)", value=today - timedelta(days=7),
                                  max_value=today, key=f"{scope}_changes_since")
    until_day = c_to.date_input("until (end of day, UTC)", value=today, max_value=today, key=f"{scope}_changes_until")
    if since_day is None:
        st.caption("Pick a start date to see what changed since then.")
        return
    until_day = until_day or today
    if until_day < since_day:
        st.error("The end date is before the start date.")
        return
    since, until = moment(since_day - timedelta(days=1), time(23, 59, 59)), moment(until_day)

    def compare() -> tuple[int, Any]:
        events = store.changes_between(since, until)
        return len(events), summarise_changes(store.as_of(since), store.as_of(until), since, until, events)

    try:
        recorded, summary = _cache().get(f"{scope}_changes", (since, until, change_mark(notes_now)), compare)
    except MemexError as exc:
        show_error(exc, "The change log cannot be read", escape=True)
        return
    if summary.empty:
        st.info(f"Nothing changed from {since_day} to {until_day}.")
        return
    st.caption(f"{summary.count('added')} added · {summary.count('changed')} changed · {summary.count('removed')} "
               f"removed, from {since_day} to {until_day} (net change of each note; {count(recorded, 'recorded change')}).")
    for item in summary.notes[:CHANGES_SHOWN]:
        who = ", ".join(f"{escape_markdown(by)} ×{n}" for by, n in sorted(item.actors.items()))
        with st.container(border=True, key=f"{scope}_chg_{item.note_id}"):
            st.markdown(f"{ICONS[item.status]} **{escape_markdown(item.title)}** · `{item.note_id[:8]}` · {item.status}"
                        + (f" · by {who}" if who else ""))
            for diff in item.diffs:
                st.caption(escape_markdown(diff.field))
                diff_view(diff, whole=False)
    if len(summary.notes) > CHANGES_SHOWN:
        st.caption(f"… and {len(summary.notes) - CHANGES_SHOWN:,} more notes.")
