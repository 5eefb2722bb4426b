"""Review page: what the model proposed to change in older notes, to accept, reject or edit first.

Each pending proposal shows the note it would change, a before/after diff (the shared diff widget),
why the judge found it grounded (its sentence and scores), and what caused it. Decisions go
through ``memory_core.memory.review`` (accept / reject / accept_all), which applies the change as
an ordinary, revertible edit naming the proposal. Accepted and rejected proposals stay in the
"Resolved" tab. Note text is shown with ``st.code`` / ``escape_markdown`` / dataframe cells only.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from memory_core.errors import MemexError
from memory_core.explore import reviewlist as rl
from memory_core.explore.render import escape_markdown
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
    done, failed = 0, []
    for pid in pids:
        try:
            (review.accept if action == "accept" else review.reject)(store, pid)
            done += 1
        except MemexError as exc:
            failed.append(f"{pid}: {exc}")
    verb = "Accepted" if action == "accept" else "Rejected"
    flash("review", "success" if not failed else "warning",
          f"{verb} {done} proposal(s)." + (" Not done: " + "; ".join(failed) if failed else ""))


def show_item(it: rl.ReviewItem, selectable: bool) -> None:
    p = it.proposal
    with st.container(border=True, key=f"proposal_{p.id}"):
        head, pick = st.columns([6, 1])
        head.markdown(f"**{escape_markdown(rl.KIND_LABEL.get(p.kind, p.kind))}** for “{escape_markdown(it.target_title)}”")
        head.caption(f"proposal `{p.id}` · by {escape_markdown(p.proposed_by or '?')} · {escape_markdown(p.created[:16])}"
                     + (f" · because of the new note “{escape_markdown(it.source_title)}”" if it.source_title else ""))
        if selectable:
            pick.checkbox("select", key=f"review_pick_{p.id}", label_visibility="collapsed")
        if it.target_missing:
            st.warning("The note this would change has been deleted; accepting will fail.")
        diff_view(it.diff, whole=False)
        st.markdown(f"**Why it was judged grounded:** {escape_markdown(it.why)}")
        if it.scores:
            st.caption(" · ".join(f"{escape_markdown(k)} {v:.2f}" for k, v in it.scores.items()))
        if not selectable:
            return
        b = st.container(horizontal=True)
        b.button("Accept", icon="✅", key=f"review_accept_{p.id}", type="primary", on_click=_decide,
                 args=("accept", p.id))
        b.button("Reject", icon="✖️", key=f"review_reject_{p.id}", on_click=_decide, args=("reject", p.id))
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
    resolved = [p for p in store.proposals.list(None) if p.status != "pending"]
except MemexError as exc:
    show_error(exc, "Cannot read the proposals")
    st.stop()
notes = store.notes_view()
st.caption("Changes the model proposed for older notes when a new one arrived: new links, a new context, new "
           "tags. Nothing here is applied until you accept it.")

tab_pending, tab_resolved = st.tabs([f"Pending ({len(pending)})", f"Resolved ({len(resolved)})"])
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
