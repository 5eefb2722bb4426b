"""Review page: what the model proposed to change in older notes, to accept, reject or edit first.

Each pending proposal shows the note it would change, a before/after diff (the shared diff widget),
why the judge found it grounded (its sentence and scores), and what caused it. Decisions go
through ``memory_core.memory.review`` (accept / reject / accept_all), which applies the change as
an ordinary, revertible edit naming the proposal. Accepted and rejected proposals stay in the
"Resolved" tab. Proposals the judge turned down are in "Turned down", each with why, filterable by
reason, and the person can accept one anyway. A possible correction asks "Does … replace …?". Note
text is shown with ``st.code`` / ``escape_markdown`` / dataframe cells only.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from memory_core.errors import MemexError
from memory_core.explore import reviewlist as rl
from memory_core.explore.render import escape_markdown
from memory_core.explore.wording import count
from memory_core.memory import review
from pages.common import diff_view, flash, open_store_or_stop, show_error, show_flash


def _decide(action: str, pid: str, edited: object = None) -> None:
    store = open_store_or_stop()
    try:
        if action == "accept":
            review.accept(store, pid, edited_after=edited)
            flash("review", "success", f"Accepted proposal {pid}" + (" (edited)" if edited is not None else "")
                  + ": applied, and recorded in the note's history.")
        else:
            review.reject(store, pid)
            flash("review", "info", f"Rejected proposal {pid}: the note is unchanged.")
    except MemexError as exc:
        flash("review", "error", f"Proposal {pid}: {exc}")


def _decide_edited(p: object, key: str) -> None:
    """The edited text is read when the button is pressed (callback arguments were bound at the last run)."""
    _decide("accept", p.id, rl.edited_value(p, st.session_state.get(key, "")))  # type: ignore[attr-defined]


def _bulk(action: str, pids: list[str]) -> None:
    store = open_store_or_stop()
    if action == "accept_all":
        counts = review.accept_all(store)
        flash("review", "success", f"Accepted {counts['accepted']}; {counts['stale']} out of date (rejected), "
              f"{counts['failed']} could not be applied" + (" (they stay pending: accept one alone to see why, or "
                                                             "edit it first)." if counts["failed"] else "."))
        return
    result = review.decide_many(store, pids, action)
    done = len(result.accepted) + len(result.rejected)
    failed = [f"{pid}: out of date (the note changed since), rejected" for pid in result.stale] + result.problems
    verb = "Accepted" if action == "accept" else "Rejected"
    flash("review", "success" if not failed else "warning",
          f"{verb} {count(done, 'proposal')}." + (" Not done: " + "; ".join(failed) if failed else ""))


def show_item(it: rl.ReviewItem, selectable: bool, declined: bool = False) -> None:
    p = it.proposal
    with st.container(border=True, key=f"proposal_{p.id}"):
        head, pick = st.columns([6, 1])
        head.markdown(f"**{escape_markdown(rl.question(it))}**")
        head.caption(f"proposal `{p.id}` · by {escape_markdown(p.proposed_by or '?')} · {escape_markdown(p.created[:16])}"
                     + (f" · because of the new note “{escape_markdown(it.source_title)}”" if it.source_title else ""))
        if selectable and not declined:
            pick.checkbox("select", key=f"review_pick_{p.id}", label_visibility="collapsed")
        if it.target_missing:
            st.warning("The note this would change has been deleted; accepting will fail.")
        diff_view(it.diff, whole=False)
        if declined:
            st.markdown(f"**Why it was turned down:** {escape_markdown(p.resolution_note or 'no reason given')}")
        elif p.kind == "supersede":
            st.markdown(f"**Why we ask:** {escape_markdown(it.why)}. Accepting closes the older note (it is kept, "
                        "marked as no longer current, and ranked below the newer one).")
        else:
            st.markdown(f"**Why it was judged grounded:** {escape_markdown(it.why)}")
        if it.scores:
            st.caption(" · ".join(f"{escape_markdown(k)} {v:.2f}" for k, v in it.scores.items()))
        if not selectable:
            return
        b = st.container(horizontal=True)
        b.button("Accept anyway" if declined else "Accept", icon="✅", key=f"review_accept_{p.id}",
                 type="primary", on_click=_decide, args=("accept", p.id))
        if not declined:
            b.button("Reject", icon="✖️", key=f"review_reject_{p.id}", on_click=_decide, args=("reject", p.id))
        if p.kind == "supersede":
            return
        with st.expander("✏️ Edit, then accept"):
            label = {"link": "Reason for the link", "tags": "Tags (comma-separated)"}.get(p.kind, "Context")
            text = st.text_area(label, value=rl.editable_text(p), key=f"review_edit_{p.id}", height=80)
            st.button("Accept my version", key=f"review_accept_edit_{p.id}", on_click=_decide_edited,
                      args=(p, f"review_edit_{p.id}"), disabled=not text.strip())


st.title("📥 Review")
store = open_store_or_stop()
show_flash("review")
try:
    pending = store.proposals.list("pending")
    turned_down = review.declined(store)
    resolved = [p for p in store.proposals.list(None) if p.status != "pending" and not review.is_declined(p)]
except MemexError as exc:
    show_error(exc, "Cannot read the proposals")
    st.stop()
notes = store.notes_view()
st.caption("Changes proposed for older notes when a new one arrived: new links, a new context, new tags, and "
           "whether a new note replaces an older one. Nothing here is applied until you accept it.")

tab_pending, tab_declined, tab_resolved = st.tabs([f"Pending ({len(pending)})", f"Turned down ({len(turned_down)})",
                                                   f"Resolved ({len(resolved)})"])
with tab_pending:
    if not pending:
        st.info("Nothing to review: no proposal is waiting.")
    else:
        chosen = [p.id for p in pending if st.session_state.get(f"review_pick_{p.id}")]
        bar = st.container(horizontal=True)
        bar.button(f"Accept all ({len(pending)})", icon="✅", key="review_accept_all", on_click=_bulk,
                   args=("accept_all", []))
        bar.button(f"Accept selected ({len(chosen)})", key="review_accept_sel", disabled=not chosen,
                   on_click=_bulk, args=("accept", chosen))
        bar.button(f"Reject selected ({len(chosen)})", key="review_reject_sel", disabled=not chosen,
                   on_click=_bulk, args=("reject", chosen))
        for it in rl.items(pending, notes):
            show_item(it, selectable=True)
with tab_declined:
    if not turned_down:
        st.info("The checker has turned down none of the model's proposals.")
    else:
        st.caption("The model's proposals that the checker turned down, and why. You know your notes better: "
                   "accept one anyway if it is right.")
        kinds = rl.reason_kinds(turned_down)
        picked = st.multiselect("Show reasons", list(kinds), format_func=lambda k: f"{k} ({kinds[k]})",
                                key="review_declined_reasons", placeholder="all reasons")
        shown = [p for p in turned_down if not picked or rl.reason_kind(p.resolution_note) in picked]
        st.caption(f"{len(shown)} of {len(turned_down)} shown" + (" (the newest 50)" if len(shown) > 50 else ""))
        for it in rl.items(shown[:50], notes):
            show_item(it, selectable=True, declined=True)
with tab_resolved:
    if not resolved:
        st.info("No proposal has been accepted or rejected yet.")
    else:
        st.dataframe(pd.DataFrame(rl.resolved_rows(resolved, notes)), hide_index=True, width="stretch",
                     key="review_resolved_table")
        with st.expander("Before/after of each resolved proposal"):
            for it in rl.items(sorted(resolved, key=lambda p: p.resolved_at, reverse=True)[:30], notes):
                st.markdown(f"**{escape_markdown(it.proposal.status)}** — {escape_markdown(it.target_title)}")
                diff_view(it.diff, whole=False)
