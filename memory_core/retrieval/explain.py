"""Why (not) this note: for a query and any note, where it ranks among all notes and what put it there.

Why: the trace explains the notes that *were* recalled; a person who relies on recall asks the
other question too ("why did it not find the note about my sister's wedding?"). Here any note is
explained, recalled or not, even one ranked 900th: its rank, each signal's raw and scaled value,
which query words it holds and lacks (after the stemming BM25 uses), whether something excluded it
(a correction superseded it, the chat's relevance floor, a time span or a filter), and how far it
was from the cut.

How the rank is found, with the retriever as it is (whatever signals it reports, so a new signal
is explained without a change here):
1. the search at the cut k, with every candidate it scored (``Retriever.pool``): its first k are
   what the search (or the chat) returned, and a candidate below the cut is compared with the k-th
   hit on that same run;
2. the search with every note as a candidate (k = the number of notes), for a note that was not
   even a candidate: it ranks below all of run 1's candidates, in run 2's order, and is compared
   with the k-th hit on run 2, where both were scored together.
Scores of different runs are never compared: each signal is scaled over the run's candidates
(min-max, ``fusion.py``), so the same note scores differently among 20 candidates and among 10,000.
The raw values (BM25 score, cosine) do not depend on the run and are shown beside them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, NotFoundError
from ..notes import Note, is_derived
from ..store.lexical import STOPWORDS, TOKEN_RE, stem, tokenize
from .floor import above_floor, floor_for
from .hit import Hit
from .retrievers import make_retriever
from .spanrank import in_span, is_in_span
from .timespan import TimeSpan, memory_times, read_span
from .trace import SIGNALS

if TYPE_CHECKING:
    from ..config import Settings
    from ..store import Store
    from ..store.note_filter import NoteFilter

MAX_QUERY = 2000  # as ``search``: the query is cut to this many characters
WHERE = ("content", "keywords/tags/summary", "conversation context")


@dataclass
class SignalValue:
    """One signal for the note and for the k-th hit, on the same run."""

    name: str
    label: str
    scaled: float | None  # 0..1 over the run's candidates; None: the run did not report it
    raw: float | None  # unscaled (BM25 score, cosine); None: not known
    kth_scaled: float | None = None
    kth_raw: float | None = None


@dataclass
class QueryWord:
    """A query word as typed, its stem (what BM25 matches), and where the note holds it."""

    word: str
    stem: str
    where: list[str] = field(default_factory=list)  # among WHERE; empty: the note lacks it

    @property
    def present(self) -> bool:
        return bool(self.where)


@dataclass
class Exclusion:
    """Something that keeps the note out of (or lower in) what was recalled."""

    kind: str  # "derived", "superseded", "floor", "span", "filter"
    effect: str  # "excluded", "lowered", or "none" (said for information: it did not act here)
    detail: str


@dataclass
class Explanation:
    query: str
    note_id: str
    title: str
    retriever: str
    k: int
    total: int  # notes in the memory
    recalled: bool  # among the top k the search returned
    rank: int | None  # 1-based among all notes; None: no signal found it at all
    score: float | None
    scored_on: str  # "search at k" (run 1) or "all notes" (run 2): the run score and gaps are from
    signals: list[SignalValue] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    words: list[QueryWord] = field(default_factory=list)
    ignored_words: list[str] = field(default_factory=list)  # stopwords BM25 does not index
    exclusions: list[Exclusion] = field(default_factory=list)
    kth_id: str = ""  # the last hit above the cut (the k-th, or the last when fewer were found)
    kth_title: str = ""
    kth_score: float | None = None  # on the same run as ``score``
    score_gap: float | None = None  # kth_score - score: > 0 is how far short of the cut it fell
    rank_gap: int | None = None  # rank - k: > 0 is how many places below the cut
    found: int = 0  # hits the search at k returned (fewer than k when few notes matched)
    floor: dict[str, Any] = field(default_factory=dict)  # value, strength, passes, in_span, applies
    span: str = ""  # the time span the question was read to name, as one line ("" when none)
    remarks: list[str] = field(default_factory=list)

    @property
    def has(self) -> list[str]:
        return [w.word for w in self.words if w.present]

    @property
    def lacks(self) -> list[str]:
        return [w.word for w in self.words if not w.present]

    @property
    def excluded_by(self) -> list[Exclusion]:
        return [x for x in self.exclusions if x.effect == "excluded"]

    def verdict(self) -> str:
        """One line: recalled or not, at which rank, and the main reason."""
        where = f"rank {self.rank} of {self.total} notes" if self.rank else f"no rank among {self.total} notes"
        blocked = self.excluded_by
        if blocked:
            head = "in the top k but left out" if self.recalled else "not recalled, and would be left out"
            return f"{head} ({where}, k = {self.k}): " + "; ".join(x.detail for x in blocked)
        if self.recalled:
            return f"recalled: {where} (k = {self.k})"
        if self.rank is None:
            return (f"not recalled: no signal of the {self.retriever} retriever found it "
                    f"({'it shares no query word' if not self.has else 'it was never a candidate'})")
        gap = f", {self.score_gap:.3f} below the score of #{self.found}" if self.score_gap and self.score_gap > 0 else ""
        return f"not recalled: {where}, {self.rank_gap} place(s) below the cut (k = {self.k}){gap}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict()
        out["has"], out["lacks"] = self.has, self.lacks
        return out


def query_words(query: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(word as typed, stem) for each query word BM25 reads, first spelling of each stem; and the
    stopwords it ignores. The same tokens as ``store.lexical.tokenize``."""
    words: dict[str, str] = {}
    ignored: list[str] = []
    for token in TOKEN_RE.findall(query.lower()):
        if token in STOPWORDS:
            if token not in ignored:
                ignored.append(token)
            continue
        words.setdefault(stem(token), token)
    return [(w, s) for s, w in words.items()], ignored


def word_presence(note: Note, words: list[tuple[str, str]]) -> list[QueryWord]:
    """Where the note holds each query word: its content, its enrichment, the turn before it."""
    fields = [set(tokenize(note.content)),
              set(tokenize(" ".join([*note.keywords, *note.tags, note.context]))),
              set(tokenize(note.turn_context))]
    return [QueryWord(w, s, [name for name, toks in zip(WHERE, fields) if s in toks]) for w, s in words]


def own_raw(store: Store, query: str, query_vec: np.ndarray, note_id: str) -> dict[str, float]:
    """The note's unscaled BM25 score and cosine with the query, computed for this note alone: known
    even when no run reported them (a note that was no candidate, a retriever without raw values)."""
    out: dict[str, float] = {}
    found = store.lexical.search(query, 1, allowed={note_id})
    out["lexical"] = float(found[0][1]) if found else 0.0
    try:
        vec = np.asarray(store.vector(note_id), dtype=np.float32)
    except (KeyError, ValueError):
        return out
    norm = float(np.linalg.norm(vec) * np.linalg.norm(query_vec))
    if norm > 0:
        out["dense"] = float(np.dot(vec, query_vec)) / norm
    return out


def _signals(hit: Hit | None, kth: Hit | None, own: dict[str, float], kth_own: dict[str, float]
             ) -> list[SignalValue]:
    """Every signal the note's hit or the k-th hit reports, in the trace's order, then any other.
    A raw value the run did not report (a retriever that keeps none, a signal that did not return the
    note) is the note's own, computed alone (``own_raw``)."""
    names: list[str] = []
    for h in (hit, kth):
        if h is not None:
            names += [*h.signals, *h.raw]
    names = list(dict.fromkeys(names)) or list(own)
    order = list(SIGNALS)
    names.sort(key=lambda n: order.index(n) if n in order else len(order))

    def raw_of(h: Hit | None, name: str, fallback: dict[str, float]) -> float | None:
        if h is not None and name in h.raw:
            return float(h.raw[name])
        return fallback.get(name)

    def scaled_of(h: Hit | None, name: str) -> float | None:
        return float(h.signals[name]) if h is not None and name in h.signals else None

    return [SignalValue(name, SIGNALS.get(name, name), scaled_of(hit, name), raw_of(hit, name, own),
                        scaled_of(kth, name), raw_of(kth, name, kth_own)) for name in names]


def _floor(query: str, query_vec: np.ndarray, note: Note, hit: Hit | None, own: dict[str, float],
           store: Store, floor: float | None) -> dict[str, Any]:
    """The chat's relevance floor for this note: its value, the note's strength, whether it passes
    (a note recall put inside the question's time span passes whatever its strength, as in the chat)."""
    value = floor_for(store.embedder) if floor is None else float(floor)
    # The note's own cosine whichever retriever ranked it (a BM25 hit carries none), as the chat reads it.
    raw = dict(hit.raw) if hit is not None else {}
    raw.setdefault("dense", own.get("dense", 0.0))
    probe = Hit(note, 0.0, dense=hit.dense if hit is not None else 0.0, raw=raw,
                signals=dict(hit.signals) if hit is not None else {})
    strength = above_floor(query, [probe], store.embedder, query_vec, floor=-2.0)[0].strength
    by_span = is_in_span(probe)
    return {"value": value, "strength": strength, "passes": strength >= value or by_span, "in_span": by_span}


def _exclusions(note: Note, notes: dict[str, Note], floor: dict[str, Any], chat: bool, span: TimeSpan | None,
                note_filter: NoteFilter | None) -> list[Exclusion]:
    out: list[Exclusion] = []
    if is_derived(note):
        out.append(Exclusion("derived", "excluded", f"it is Memex's own summary ({note.source}), not the person's "
                             "words: recall leaves digests and profile lines out"))
    newer = notes.get(note.superseded_by) if note.superseded_by else None
    if newer is not None:
        out.append(Exclusion("superseded", "lowered", f"superseded by '{newer.title}' ({newer.id[:8]}): it ranks "
                             "just below that correction, and the chat gives the model only the correction when "
                             "both are recalled"))
    if not floor["passes"]:
        detail = (f"below the chat's relevance floor: its own words' similarity {floor['strength']:.2f} < "
                  f"{floor['value']:.2f}")
        out.append(Exclusion("floor", "excluded" if chat else "none",
                             detail if chat else detail + " (the Search page shows it anyway)"))
    if span is not None and not in_span(note, span):
        out.append(Exclusion("span", "lowered", f"its time {note.timestamp[:16].replace('T', ' ')} is outside "
                             f"the time span asked about ({span.label}): the notes inside it rank first, this "
                             "one is kept below them"))
    if note_filter is not None and not note_filter.matches(note):
        out.append(Exclusion("filter", "excluded", "it does not match the filter"))
    return out


def explain(store: Store, settings: Settings, query: str, note_id: str, *, k: int | None = None,
            retriever: str | None = None, chat: bool = False, span: TimeSpan | None = None,
            note_filter: NoteFilter | None = None, floor: float | None = None) -> Explanation:
    """Why the note ``note_id`` (an id or a unique prefix of 6+ characters) is, or is not, among the
    top ``k`` (default: the chat's ``recall_k``) for ``query``. ``chat``: the chat's view (its
    relevance floor excludes); else the Search page's (the floor is reported, not applied). ``span``:
    the time the question names (``chat_span`` reads it as the chat does), whose notes rank first.

    Raises InputError for an empty query or a bad k, NotFoundError for an unknown note. Reads only:
    nothing is counted as a recall."""
    if not isinstance(query, str) or not query.strip():
        raise InputError("Give the query to explain (it is empty).")
    query = query[:MAX_QUERY]
    k = int(settings.recall_k or 5) if k is None else int(k)
    if k < 1:
        raise InputError("k must be at least 1.")
    note = store.get(_resolve(store, note_id))
    finder = make_retriever(store, settings, retriever)
    notes = store.notes_view()
    pool = finder.pool(query, k, span)
    top = pool[:k]
    ranked, hit, kth, scored_on = _place(finder, query, note.id, pool, top, len(notes), span)
    query_vec = np.asarray(store.embedder.embed([query])[0], dtype=np.float32)
    own = own_raw(store, query, query_vec, note.id)
    words, ignored = query_words(query)
    fl = _floor(query, query_vec, note, hit, own, store, floor)
    fl["applies"] = chat
    out = Explanation(query=query, note_id=note.id, title=note.title, retriever=finder.name, k=k, total=len(notes),
                      recalled=any(h.note.id == note.id for h in top), rank=ranked, scored_on=scored_on,
                      score=float(hit.score) if hit is not None else None,
                      signals=_signals(hit, kth, own, own_raw(store, query, query_vec, top[-1].note.id) if top else {}),
                      reasons=list(hit.reasons) if hit is not None else [], words=word_presence(note, words),
                      ignored_words=ignored, exclusions=_exclusions(note, notes, fl, chat, span, note_filter),
                      found=len(top), floor=fl, span=span.describe() if span is not None else "")
    if top:
        last = top[-1]
        out.kth_id, out.kth_title = last.note.id, last.note.title
        out.kth_score = float(kth.score) if kth is not None else None
        if ranked is not None:
            out.rank_gap = ranked - (k if out.recalled else len(top))  # below: from the last hit found
        if out.kth_score is not None and out.score is not None:
            out.score_gap = out.kth_score - out.score
    out.remarks = _remarks(out)
    return out


def chat_span(store: Store, query: str, at: datetime | None = None) -> TimeSpan | None:
    """The time span the chat would read in ``query`` asked at ``at`` (default: now), as
    ``ChatSession.time_span`` does: a date without a year is the latest one that holds notes."""
    return read_span(query, at or datetime.now(timezone.utc),
                     lambda: memory_times(n.timestamp for n in store.notes_view().values()))


def _resolve(store: Store, note_id: str) -> str:
    """The full id of the note named by ``note_id`` (an id, or a unique prefix of 6+ characters)."""
    wanted = str(note_id or "").strip()
    if not wanted:
        raise InputError("Give the note to explain: its id or a unique id prefix (6+ characters).")
    try:
        return store.resolve_id(wanted)
    except NotFoundError as exc:
        hint = " Give at least 6 characters of its id." if len(wanted) < 6 else ""
        raise NotFoundError(f"{exc}{hint}") from None


def _place(finder: Any, query: str, note_id: str, pool: list[Hit], top: list[Hit], total: int,
           span: TimeSpan | None) -> tuple[int | None, Hit | None, Hit | None, str]:
    """(rank, the note's hit, the k-th hit, the run both come from): the search's own candidates
    first (run 1), else the run with every note a candidate (run 2, ranked below run 1's pool)."""
    pos = {h.note.id: i for i, h in enumerate(pool)}
    kth_id = top[-1].note.id if top else ""
    if note_id in pos:
        return pos[note_id] + 1, pool[pos[note_id]], (pool[pos[kth_id]] if kth_id else None), "search at k"
    deep = finder.search(query, max(total, len(top)), span=span)
    below = [h for h in deep if h.note.id not in pos]
    at = next((i for i, h in enumerate(below) if h.note.id == note_id), None)
    kth = next((h for h in deep if h.note.id == kth_id), None)
    if at is None:
        return None, None, kth, "all notes"
    return len(pool) + at + 1, below[at], kth, "all notes"


def _remarks(e: Explanation) -> list[str]:
    """Plain sentences for what the numbers alone do not say."""
    out = []
    if e.found < e.k:
        out.append(f"The search found only {e.found} note(s) for k = {e.k}.")
    if not e.recalled and e.scored_on == "all notes" and e.rank is not None:
        out.append(f"It was not among the candidates the search at k = {e.k} scored; its rank and score come "
                   "from a second run with every note a candidate, compared with the k-th hit on that run.")
        if e.score_gap is not None and e.score_gap <= 0:
            out.append("On that run it scores at least as high as the k-th hit: at k each signal is scaled over "
                       "fewer candidates, and there it was not one.")
    if e.words and not e.has:
        out.append("It holds none of the query's words: only meaning (dense) signals can find it.")
    return out
