"""An ``Explanation`` as plain lines of text: what ``memex explain`` prints and the pages show in a
code block (text, never Markdown or HTML, so a note's own words cannot turn into markup).

Why apart from ``explain``: the numbers are worked out once there; the CLI and both pages read the
same sentences from here, so the three views never disagree.
"""

from __future__ import annotations

import unicodedata

from .explain import Explanation, SignalValue


def plain(text: str, limit: int = 80) -> str:
    """One line of a note's text, safe for a terminal: control characters (escape sequences,
    carriage returns) become spaces, and it is cut to ``limit`` characters."""
    out = "".join(" " if unicodedata.category(c) in ("Cc", "Cf") and c != "\u200d" else c for c in text)
    out = " ".join(out.split())
    return out if len(out) <= limit else out[:limit - 1] + "…"


def _num(value: float | None, raw: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if raw else f"{value:.3f}"


def signal_rows(e: Explanation) -> list[list[str]]:
    """One row per signal: name, this note (scaled, raw), the k-th hit (scaled, raw)."""
    def row(s: SignalValue) -> list[str]:
        return [s.label, _num(s.scaled), _num(s.raw, raw=True), _num(s.kth_scaled), _num(s.kth_raw, raw=True)]

    return [row(s) for s in e.signals]


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    cells = [headers, *rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            for r in cells]


def _words(e: Explanation) -> list[str]:
    has = [f"{w.word} ({', '.join(w.where)})" for w in e.words if w.present]
    out = [f"query words it has:   {'; '.join(has) if has else '(none)'}",
           f"query words it lacks: {', '.join(e.lacks) if e.lacks else '(none)'}"]
    if e.ignored_words:
        out.append(f"ignored (too common): {', '.join(e.ignored_words)}")
    return out


def _cut(e: Explanation) -> list[str]:
    if not e.kth_id:
        return ["the search returned no note at all"]
    on = "the search at k" if e.scored_on == "search at k" else "a run with every note a candidate"
    mine = f"{e.score:.3f}" if e.score is not None else "-"
    theirs = f"{e.kth_score:.3f}" if e.kth_score is not None else "-"
    line = f"score {mine} vs {theirs} for #{e.found} ({e.kth_id[:8]} {plain(e.kth_title, 50)}), both on {on}"
    out = [line]
    if e.rank is not None and e.rank_gap is not None:
        if e.rank_gap > 0:
            gap = f" and {e.score_gap:.3f} in score" if e.score_gap is not None and e.score_gap > 0 else ""
            out.append(f"missed the cut by {e.rank_gap} place(s){gap}")
        elif e.rank_gap == 0:
            out.append(f"it is the last note above the cut (#{e.found})")
        else:
            spare = f", {-e.score_gap:.3f} in score" if e.score_gap is not None and e.score_gap < 0 else ""
            out.append(f"made the cut with {-e.rank_gap} place(s) to spare{spare}")
    return out


def explanation_lines(e: Explanation) -> list[str]:
    """The explanation as lines of plain text, verdict first."""
    lines = [f"query: {plain(e.query, 200)}",
             f"note:  {e.note_id[:8]}  {plain(e.title, 70)}",
             f"retriever {e.retriever}, k = {e.k}, {e.total} notes"
             + (f"; time span read from the question: {plain(e.span, 120)}" if e.span else ""),
             "",
             e.verdict(), *_cut(e), ""]
    if e.signals:
        lines.append("signals (scaled 0..1 over the run's candidates; raw: BM25 score or cosine)")
        lines += _table(["signal", "this note", "raw", f"#{e.found or e.k} hit", "raw"], signal_rows(e))
        lines.append("")
    lines += _words(e)
    fl = e.floor
    if fl:
        verdict = ("passes (inside the time span: whatever its similarity)" if fl.get("in_span")
                   else "passes" if fl["passes"] else "below it")
        who = "the chat applies it" if fl.get("applies") else "the chat's; the Search page has none"
        lines.append(f"relevance floor ({who}): own-words similarity {fl['strength']:.2f} vs floor "
                     f"{fl['value']:.2f}: {verdict}")
    for x in e.exclusions:
        if x.kind == "floor":  # said on the floor's own line
            continue
        lines.append(f"{x.effect if x.effect != 'none' else 'note'} ({x.kind}): {plain(x.detail, 200)}")
    if e.reasons:
        lines.append("retriever's reasons: " + plain(" · ".join(e.reasons), 240))
    lines += e.remarks
    return lines
