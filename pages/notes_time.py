"""The Notes page's time views: the "as of" control with its banner, and what changed between two dates.

Why a module of its own: the page file stays a layout. The memory at a moment comes from the
store's ``as_of`` (a fold of the change log); the net change of each note between two moments from
``memory_core.explore.timeview.summarise_changes`` over ``as_of`` and ``changes_between``; both are shown
with the shared diff widget. Everything here only reads.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any

import streamlit as st

from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown
from memory_core.explore.timeview import is_past, moment, summarise_changes
from pages.common import diff_view, show_error

CHANGES_SHOWN = 100
_DAY = date(2000, 1, 2) - date(2000, 1, 1)


def past_view(store: Any, when: str) -> dict[str, Any]:
    """``store.as_of(when)``, folded once per moment: a moment already past cannot change, so the
    fold is kept for this session (widget clicks rerun the page; refolding 10,000 notes each time
    would make it sluggish)."""
    cached = st.session_state.get("_notes_past_view")
    if cached is not None and cached[0] == when:
        return cached[1]
    view = dict(store.as_of(when))
    if is_past(when):
        st.session_state["_notes_past_view"] = (when, view)
    return view


def _back_to_now() -> None:
    st.session_state["notes_past"] = False


def render_time_control(store: Any) -> str | None:
    """The "as of" control; returns the moment looked at (ISO, UTC) or None for now."""
    can_look_back = hasattr(store, "as_of")
    c_toggle, c_day, c_time = st.columns([2, 1.3, 1], vertical_alignment="bottom")
    past = c_toggle.toggle("🕰️ Show the memory as it was on…", key="notes_past", disabled=not can_look_back,
                           help="Notes, fields and links as they were at that moment, folded from the change log"
                           if can_look_back else "This store cannot look back in time yet.")
    if not past:
        return None
    today = datetime.now(timezone.utc).date()
    day = c_day.date_input("As of (UTC)", value=today, max_value=today, key="notes_as_of_day")
    at = c_time.time_input("at", value=time(23, 59), key="notes_as_of_time", step=60)
    return moment(day, at)


def past_banner(when: str, count: int) -> None:
    c_text, c_btn = st.columns([5, 1], vertical_alignment="center")
    c_text.warning(f"🕰️ **The memory as it was on {escape_markdown(when.replace('T', ' ')[:16])} UTC** · "
                   f"{count:,} notes then. Read-only: nothing can be edited, linked or deleted in the past.")
    c_btn.button("Back to now", icon="⏩", key="notes_back_to_now", on_click=_back_to_now, width="stretch")


def render_changes(store: Any) -> None:
    """What changed between two dates: notes added, removed and changed, with who changed them."""
    if not (hasattr(store, "changes_between") and hasattr(store, "as_of")):
        st.info("This store cannot tell what changed between two dates yet.")
        return
    today = datetime.now(timezone.utc).date()
    c_from, c_to = st.columns(2)
    since_day = c_from.date_input("Changes since (start of day, UTC)", value=None, max_value=today,
                                  key="notes_changes_since")
    until_day = c_to.date_input("until (end of day, UTC)", value=today, max_value=today, key="notes_changes_until")
    if since_day is None:
        st.caption("Pick a start date to see what changed since then.")
        return
    until_day = until_day or today
    if until_day < since_day:
        st.error("The end date is before the start date.")
        return
    since, until = moment(since_day - _DAY, time(23, 59, 59)), moment(until_day)
    try:
        summary = summarise_changes(store.as_of(since), store.as_of(until), since, until,
                                    store.changes_between(since, until))
    except MemexError as exc:
        show_error(exc, "The change log cannot be read", escape=True)
        return
    if summary.empty:
        st.info(f"Nothing changed from {since_day} to {until_day}.")
        return
    st.caption(f"{summary.count('added')} added · {summary.count('changed')} changed · "
               f"{summary.count('removed')} removed, from {since_day} to {until_day} (net change of each note).")
    for item in summary.notes[:CHANGES_SHOWN]:
        icon = {"added": "🆕", "changed": "✏️", "removed": "🗑️"}[item.status]
        who = ", ".join(f"{escape_markdown(by)} ×{n}" for by, n in sorted(item.actors.items()))
        with st.container(border=True, key=f"chg_{item.note_id}"):
            st.markdown(f"{icon} **{escape_markdown(item.title)}** · `{item.note_id[:8]}` · {item.status}"
                        + (f" · by {who}" if who else ""))
            for diff in item.diffs:
                st.caption(escape_markdown(diff.field))
                diff_view(diff, whole=False)
    if len(summary.notes) > CHANGES_SHOWN:
        st.caption(f"… and {len(summary.notes) - CHANGES_SHOWN} more notes.")
