"""The numbers behind the Insights page: time bins that suit the span of the notes, counts, the 2-D map.

Why a library module: the page only lays out charts. Which bin size and tick format make a readable
time axis, what goes into each bar, how the embedding map is projected and sampled, and how note
text is made safe for plotly are rules with unit tests here.

- **Time axes.** One day of notes is binned by hour (ticks "14:00"), a month by day, a year by
  week, a few years by month, decades by year. Plotly draws a bar on a date axis one millisecond
  wide unless told otherwise, and a single bin as an axis spanning milliseconds: so every axis
  carries its bar width and a range padded by half a bin on each side.
- **Notes are the person's memories.** Digests and profile lines are Memex's own summaries of notes
  (``notes.is_derived``), stored as notes so they can be cited and edited. Counted as notes they
  inflate every figure (a consolidation of 8 notes added 21 "notes" and their citation links), so
  each chart and the map read the person's notes only (``memories``); the counts come from
  ``store.stats()``, which counts the same way and reports the summaries apart.
- **Plotly text is markup.** Hover text, tick labels and legend names are read as a small HTML
  subset (``<b>``, ``<a href>``, ``<br>``...), so every string from a note goes through ``esc``:
  ``<``, ``>`` and ``&`` are escaped and plotly shows them as written.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..notes import Note, is_derived

if TYPE_CHECKING:
    import networkx as nx

HOVER_CHARS = 200
HOVER_LINES = 6
MAP_COLOURS = 10
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS


def esc(text: Any) -> str:
    """Text for plotly: ``<``, ``>`` and ``&`` escaped, so plotly's markup never applies to note text."""
    return html.escape(str(text), quote=False)


def hover_text(note: Note) -> str:
    """A note's first lines for a hover box, escaped, with plotly line breaks between them."""
    text = note.content if len(note.content) <= HOVER_CHARS else note.content[:HOVER_CHARS] + " …"
    return "<br>".join(esc(line) for line in text.splitlines()[:HOVER_LINES]) or esc(note.title)


@dataclass(frozen=True)
class TimeAxis:
    """How to bin and label a time axis: pandas period alias, the word for one bin, tick format."""

    freq: str  # "h", "D", "W", "M", "Y"
    unit: str  # "hour", "day", "week", "month", "year"
    tickformat: str  # d3 time format plotly uses
    bin_ms: int  # typical length of one bin in milliseconds (bar width, padding)
    title: str  # the axis title, e.g. "hour of 14 Jul 2024"

    def bucket(self, times: pd.Series) -> pd.Series:
        """The start of the bin of each time (UTC, naive for plotly)."""
        naive = pd.to_datetime(times, utc=True).dt.tz_convert("UTC").dt.tz_localize(None)
        return naive.dt.to_period(self.freq).dt.start_time

    def layout(self, starts: Iterable[Any]) -> dict[str, Any]:
        """Plotly x-axis settings: tick format, and a range padded by half a bin each side (one bin shows)."""
        values = pd.to_datetime(pd.Series(list(starts)))
        axis: dict[str, Any] = {"type": "date", "tickformat": self.tickformat, "title": {"text": self.title}}
        if len(values):
            pad = pd.Timedelta(milliseconds=self.bin_ms)
            axis["range"] = [(values.min() - pad * 0.6).isoformat(), (values.max() + pad * 1.6).isoformat()]
        return axis

    @property
    def bar_width(self) -> float:
        return self.bin_ms * 0.8


def time_axis(times: Iterable[datetime] | pd.Series) -> TimeAxis:
    """The bin size and tick format that give a readable axis for the span of these times."""
    series = pd.to_datetime(pd.Series(list(times) if not isinstance(times, pd.Series) else times), utc=True)
    if series.empty:
        return TimeAxis("D", "day", "%d %b %Y", _DAY_MS, "day")
    first, last = series.min(), series.max()
    span = last - first
    if span <= pd.Timedelta(days=2):
        day = first.strftime("%d %b %Y") if first.date() == last.date() else \
            f"{first.strftime('%d %b')} – {last.strftime('%d %b %Y')}"
        return TimeAxis("h", "hour", "%H:%M", _HOUR_MS, f"hour of {day} (UTC)")
    if span <= pd.Timedelta(days=62):
        return TimeAxis("D", "day", "%d %b", _DAY_MS, f"day ({first.year})" if first.year == last.year else "day")
    if span <= pd.Timedelta(days=550):
        return TimeAxis("W", "week", "%d %b %Y", 7 * _DAY_MS, "week (starting Monday)")
    if span <= pd.Timedelta(days=6 * 366):
        return TimeAxis("M", "month", "%b %Y", 30 * _DAY_MS, "month")
    return TimeAxis("Y", "year", "%Y", 365 * _DAY_MS, "year")


def growth(events: list[tuple[Any, str, str]]) -> tuple[TimeAxis, pd.DataFrame, pd.DataFrame]:
    """From ``store.timeline()`` events: the axis, new notes per bin (with the running total),
    and links/evolutions per bin and kind."""
    df = pd.DataFrame(events, columns=["time", "note", "kind"])
    df["time"] = pd.to_datetime(df["time"], utc=True)
    created_times = df.loc[df["kind"] == "created", "time"]
    axis = time_axis(created_times if len(created_times) else df["time"])
    df["period"] = axis.bucket(df["time"])
    created = df[df["kind"] == "created"].groupby("period").size().rename("notes").reset_index()
    created["total"] = created["notes"].cumsum()
    changes = df[df["kind"] != "created"].groupby(["period", "kind"]).size().rename("count").reset_index()
    return axis, created, changes


def memories(notes: Mapping[str, Note]) -> dict[str, Note]:
    """The person's notes: every note but Memex's own summaries (digests and profile lines)."""
    return {i: n for i, n in notes.items() if not is_derived(n)}


def tag_counts(notes: Iterable[Note], top: int) -> list[tuple[str, int]]:
    """The most used tags (each counted once per note)."""
    return Counter(t for n in notes for t in dict.fromkeys(n.tags)).most_common(top)


def degree_counts(graph: nx.DiGraph) -> list[tuple[int, int]]:
    """(links per note, how many notes have that many), ascending."""
    return sorted(Counter(d for _n, d in graph.degree()).items())


def sample_ids(ids: list[str], limit: int, seed: int = 0) -> list[str]:
    """All ids when there are at most ``limit``, else a fixed-seed random sample of that size (sorted)."""
    ids = sorted(ids)
    if len(ids) <= limit:
        return ids
    return sorted(np.random.default_rng(seed).choice(ids, size=limit, replace=False).tolist())


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two principal components of the rows, and the share of variance each explains.

    Eigen-decomposition of the 384x384 covariance (not an SVD of the n x 384 data): same components,
    a fraction of the time for thousands of points. Signs are fixed so the picture does not flip.
    """
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    if len(centred) < 2:
        return np.zeros((len(centred), 2)), np.zeros(2)
    values, vecs = np.linalg.eigh(centred.T @ centred)
    top = np.argsort(values)[::-1][:2]
    comps = vecs[:, top]
    comps *= np.where(comps[np.abs(comps).argmax(axis=0), [0, 1]] < 0, -1.0, 1.0)
    total = values.clip(min=0).sum()
    share = values[top].clip(min=0) / total if total else np.zeros(2)
    return centred @ comps, share


def map_frame(notes: Mapping[str, Note], ids: list[str], coords: np.ndarray,
              colours: int = MAP_COLOURS) -> tuple[pd.DataFrame, list[str]]:
    """The map's points (x, y, colour group, escaped hover parts) and the legend order.

    A point's colour is the most used (among the shown notes) of its tags; the rest are grouped.
    """
    counts = Counter(t for i in ids for t in dict.fromkeys(notes[i].tags))
    top = [t for t, _ in counts.most_common(colours)]
    rank = {t: k for k, t in enumerate(top)}

    def group(note: Note) -> str:
        known = [t for t in note.tags if t in rank]
        if known:
            return esc(min(known, key=rank.__getitem__))
        return "(other tags)" if note.tags else "(no tags)"

    df = pd.DataFrame({
        "x": coords[:, 0] if len(ids) else [], "y": coords[:, 1] if len(ids) else [],
        "tag": [group(notes[i]) for i in ids],
        "text": [hover_text(notes[i]) for i in ids],
        "tags": [esc(", ".join(notes[i].tags)) or "(no tags)" for i in ids],
        "when": [esc(notes[i].timestamp[:10]) for i in ids],
        "id": [esc(i[:8]) for i in ids],
    })
    return df, [esc(t) for t in top] + ["(other tags)", "(no tags)"]
