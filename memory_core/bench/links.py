"""Links benchmark: what each kind of link adds to recall, measured by turning kinds on and off.

Each conversation set is ingested once through the fast write path (``MemoryPipeline.add_many``,
no model: similarity, entity and topic-word links), into its own fresh store in a temporary folder.
Then every question with evidence is searched by the graph retrievers (``contextual+ppr``: personalized
PageRank over entity nodes and links; ``hybrid+links``: A-MEM's expansion along links) while the
retrievers see only some kinds of link (``memory.link_kinds``): none, each kind alone, all but
each kind, all. Printed: recall any@10, all@10, and multi-hop all@10 (LoCoMo category 1), summed over
the sets' questions; the number of links of each kind; and, for reference, ``contextual`` and
``hybrid``, which read no link at all. With no links ``hybrid+links`` is ``hybrid``, while
``contextual+ppr`` still walks through the entity nodes.

Sets: the memory bench conversation (memory_core/bench/data/memory_conversation.json; its stored
turns are notes and each bare question's evidence is every turn stating the fact it asks about),
every LoCoMo-format file in memory_core/bench/data and ``--locomo FILE`` (repeatable), and every
notes-style set there and ``--notes FILE`` (``{"notes": [{"id", "text", "date"}], "queries": [{"query",
"gold": [ids], "kind"}]}``: a person's own notes, not dialogue; a query of kind "person-hop" or
"two-notes" counts as multi-hop).
``--mode full`` ingests through the full path instead (the configured model enriches each note and
proposes links; every grounded link proposal is then accepted, as a person accepting them all in
Review would), so the model's links are measured too: slow (seconds a note), so pick small sets
(``--no-shipped --locomo FILE --limit-samples 1``). A kind with no link in the sets has no row.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from ..errors import InputError
from . import print_table, save_results

if TYPE_CHECKING:
    from ..config import Settings
    from ..memory.records import NewItem
    from ..models.embeddings import Embedder
    from ..models.llm import LLM
    from ..store import Store

GRAPH_RETRIEVERS = ("contextual+ppr", "hybrid+links")
BASE = {"contextual+ppr": "contextual", "hybrid+links": "hybrid"}  # the same retriever without the graph
NO_GRAPH = "no graph (contextual, hybrid)"
K = 10
MULTI_HOP = 1
STORED_KINDS = ("fact", "repeat", "correction", "chat")
FACT_CATEGORY = 4  # a bare question about one planted fact: LoCoMo's single-hop


@dataclass
class ConversationSet:
    """One conversation to ingest: its items (``source_ref`` = the turn's id) and its questions."""

    name: str
    items: list[NewItem]
    questions: list[tuple[str, int, list[str]]]  # (question, LoCoMo category, evidence turn ids)
    full_mode: bool = False  # ingest through the model (its links too)


@dataclass
class Measured:
    """Per configuration and retriever, one metric row per question (category kept)."""

    rows: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    links: dict[str, dict[str, int]] = field(default_factory=dict)  # set -> kind -> count


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--locomo", action="append", default=[], help="also a LoCoMo-format file (repeatable)")
    parser.add_argument("--notes", action="append", default=[], help="also a notes-style set (repeatable)")
    parser.add_argument("--no-shipped", action="store_true", help="only the --locomo files, not the shipped sets")
    parser.add_argument("--mode", choices=("fast", "full"), default="fast",
                        help="ingest without the model (fast) or through it (full: the model's links too; slow)")
    parser.add_argument("--limit-samples", type=int, default=0, help="at most N conversations per LoCoMo file")
    parser.add_argument("--quiet", action="store_true")


def memory_conversation(data: dict[str, Any], name: str = "memory conversation") -> ConversationSet:
    """The memory bench's conversation as a set: stored turns become notes, bare questions are asked."""
    from ..memory.records import NewItem

    items: list[NewItem] = []
    holders: dict[str, list[str]] = {}
    asked: list[tuple[str, str]] = []
    for si, session in enumerate(data.get("sessions", [])):
        try:
            day = datetime.fromisoformat(str(session.get("date", "2026-01-01"))).replace(tzinfo=timezone.utc)
        except ValueError:
            raise InputError(f"{name}: session {si + 1} has no readable date.") from None
        for ti, turn in enumerate(session.get("turns", [])):
            ref = f"S{si + 1}:{ti + 1}"
            if turn.get("kind") in STORED_KINDS:
                when = (day + timedelta(hours=9, seconds=30 * ti)).isoformat()
                items.append(NewItem(content=str(turn["text"]), timestamp=when, source="import", source_ref=ref,
                                     conversation_id=name, message_id=ref))
                if turn.get("fact"):
                    holders.setdefault(str(turn["fact"]), []).append(ref)
            elif turn.get("kind") == "question" and turn.get("asks"):
                asked.append((str(turn["text"]), str(turn["asks"])))
    questions = [(q, FACT_CATEGORY, holders[fact]) for q, fact in asked if fact in holders]
    return ConversationSet(name, items, questions)


def locomo_sets(path: str | Path, limit: int = 0) -> list[ConversationSet]:
    """Each sample of a LoCoMo-format file as a set (notes as ``memex bench locomo`` ingests them)."""
    from ..memory.records import NewItem
    from ..transfer.locomo_format import load_locomo
    from .locomo_prompts import turn_context

    data = load_locomo(path)
    out = []
    for sample in data.samples[:limit or None]:
        items = [NewItem(content=t.content, timestamp=t.timestamp, source="import", source_ref=t.dia_id,
                         turn_context=turn_context(sample.turns, i), conversation_id=sample.sample_id,
                         message_id=t.dia_id) for i, t in enumerate(sample.turns)]
        questions = [(q.question, q.category, list(q.evidence)) for q in sample.questions if q.evidence]
        out.append(ConversationSet(f"{Path(path).stem}/{sample.sample_id}", items, questions))
    return out


HOP_KINDS = ("person-hop", "two-notes")


def notes_set(data: dict[str, Any], name: str) -> ConversationSet:
    """A person's notes (not dialogue) with queries and the ids of the notes that answer them."""
    from ..memory.records import NewItem

    try:
        items = [NewItem(content=str(n["text"]), timestamp=str(n.get("date") or "") or None, source="import",
                         source_ref=str(n["id"])) for n in data["notes"]]
        questions = [(str(q["query"]), MULTI_HOP if q.get("kind") in HOP_KINDS else FACT_CATEGORY,
                      [str(g) for g in q["gold"]]) for q in data["queries"] if q.get("gold")]
    except (KeyError, TypeError) as exc:
        raise InputError(f"{name}: not a notes-style set ({exc!r} missing or malformed).") from None
    return ConversationSet(name, items, questions)


def shipped_sets(limit: int = 0) -> list[ConversationSet]:
    """The memory conversation, and every LoCoMo-format or notes-style file among the shipped bench data."""
    folder = resources.files("memory_core.bench").joinpath("data")
    sets = [memory_conversation(json.loads(folder.joinpath("memory_conversation.json").read_text("utf-8")))]
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        data = _json(entry.read_text("utf-8")) if entry.name.endswith(".json") else None
        if isinstance(data, list) and data and isinstance(data[0], dict) and {"qa", "conversation"} <= set(data[0]):
            sets.extend(locomo_sets(Path(str(entry)), limit))
        elif isinstance(data, dict) and {"notes", "queries"} <= set(data):
            sets.append(notes_set(data, entry.name.removesuffix(".json")))
    return sets


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


class LinkView:
    """The store as the retrievers see it, with only some of its links (the rest is the store's own).

    One per store, its ``graph`` swapped between configurations, so the retrievers' per-store
    indexes (the context index) are built once, not once per configuration."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.graph: nx.DiGraph = store.graph_snapshot()

    def graph_snapshot(self) -> nx.DiGraph:
        return self.graph

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, note_id: object) -> bool:
        return note_id in self._store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def only(graph: nx.DiGraph, kinds: Iterable[str]) -> nx.DiGraph:
    """A copy of ``graph`` with the links of ``kinds`` only (every note kept)."""
    from ..memory.link_kinds import kind_of

    keep = set(kinds)
    out = nx.DiGraph()
    out.add_nodes_from(graph.nodes(data=True))
    out.add_edges_from((u, v, a) for u, v, a in graph.edges(data=True) if kind_of(a) in keep)
    return out


def configurations(present: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(label, kinds on): no links, each kind alone, all but each kind (when several), all."""
    configs: list[tuple[str, tuple[str, ...]]] = [("no links", ())]
    configs += [(f"only {k}", (k,)) for k in present]
    if len(present) > 2:
        configs += [(f"all but {k}", tuple(x for x in present if x != k)) for k in present]
    if len(present) > 1:
        configs.append(("all links", tuple(present)))
    return configs


def ingest(conv: ConversationSet, settings: Settings, home: Path, embedder: Embedder,
           llm: LLM | None = None) -> Store:
    """The set's notes in a fresh store at ``home``; in full mode the grounded link proposals are accepted."""
    from ..memory import MemoryPipeline, review
    from ..store import MemoryStore

    own = settings.replace(data_dir=str(home), store_backend="local")
    store = MemoryStore(own, embedder)
    pipe = MemoryPipeline(store, own, llm)
    report = pipe.add_many(conv.items, mode="full" if conv.full_mode else "fast")
    if report.errors:
        raise InputError(f"{conv.name}: {len(report.errors)} turns could not be added ({report.errors[0]}).")
    if conv.full_mode:
        for p in review.pending(store):
            if p.kind == "link":
                review.accept(store, p.id, by="bench")
    return store


def count_kinds(store: Store) -> dict[str, int]:
    """Links of each kind in a store (kinds with none left out)."""
    from ..memory.link_kinds import kind_of

    counts: dict[str, int] = {}
    for _u, _v, attrs in store.graph_snapshot().edges(data=True):
        counts[kind_of(attrs)] = counts.get(kind_of(attrs), 0) + 1
    return counts


def measure(conv: ConversationSet, store: Store, settings: Settings, present: Sequence[str],
            measured: Measured) -> None:
    """Every question of the set, by each retriever, under each configuration of the ``present`` kinds
    (the same for every set, so each row holds the same questions)."""
    from ..retrieval import make_retriever
    from .locomo_metrics import evidence_metrics

    view = LinkView(store)
    full = view.graph
    ref_of = {n.id: n.source_ref for n in store.notes_view().values()}
    plan: list[tuple[str, str, tuple[str, ...] | None]] = [(NO_GRAPH, BASE[r], None) for r in GRAPH_RETRIEVERS]
    plan += [(label, r, kinds) for label, kinds in configurations(present) for r in GRAPH_RETRIEVERS]
    for label, name, kinds in plan:
        view.graph = full if kinds is None else only(full, kinds)
        finder = make_retriever(view, settings, name)  # a Store by delegation (__getattr__)
        rows = measured.rows.setdefault((label, name), [])
        for question, category, evidence in conv.questions:
            ranked = [ref_of.get(h.note.id, "") for h in finder.search(question, K)]
            rows.append({"category": category, **evidence_metrics(ranked, evidence, (K,))})


def run_sets(sets: list[ConversationSet], settings: Settings, *, embedder: Embedder | None = None,
             llm: LLM | None = None, say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Ingest every set, then measure each under the same configurations; every figure as one JSON-able dict."""
    from ..memory.link_kinds import KINDS

    if embedder is None:
        from ..models.embeddings import get_embedder

        embedder = get_embedder(settings)
    if any(s.full_mode for s in sets) and llm is None:
        from ..models.llm import get_llm

        llm = get_llm(settings)
    measured = Measured()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="memex-links-") as tmp:
        stores: list[Store] = []
        try:
            for i, conv in enumerate(sets):
                t0 = time.perf_counter()
                stores.append(ingest(conv, settings, Path(tmp) / f"{i:03d}", embedder, llm))
                measured.links[conv.name] = count_kinds(stores[-1])
                say(f"{conv.name}: {len(conv.items)} notes, {len(conv.questions)} questions, links "
                    f"{measured.links[conv.name]} ({time.perf_counter() - t0:.1f}s)")
            present = [k for k in KINDS if any(k in counts for counts in measured.links.values())]
            for conv, store in zip(sets, stores):
                measure(conv, store, settings, present, measured)
        finally:
            for store in stores:
                store.close()
    return summarise(sets, measured, time.perf_counter() - started)


def summarise(sets: list[ConversationSet], measured: Measured, seconds: float) -> dict[str, Any]:
    """Recall per configuration and retriever: any@10, all@10, and all@10 on multi-hop questions."""
    table: dict[str, dict[str, Any]] = {}
    for (label, name), rows in measured.rows.items():
        hops = [r for r in rows if r["category"] == MULTI_HOP]
        table.setdefault(label, {})[name] = {
            "n": len(rows), f"any@{K}": _mean(rows, f"any@{K}"), f"all@{K}": _mean(rows, f"all@{K}"),
            "multi_hop_n": len(hops), f"multi_hop_all@{K}": _mean(hops, f"all@{K}") if hops else None}
    totals: dict[str, int] = {}
    for kinds in measured.links.values():
        for kind, n in kinds.items():
            totals[kind] = totals.get(kind, 0) + n
    return {"sets": [{"name": s.name, "notes": len(s.items), "questions": len(s.questions),
                      "full_mode": s.full_mode, "links": measured.links.get(s.name, {})} for s in sets],
            "links": totals, "k": K, "table": table, "seconds": seconds}


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return sum(float(r[key]) for r in rows) / len(rows) if rows else 0.0


def print_report(res: dict[str, Any]) -> None:
    notes = sum(s["notes"] for s in res["sets"])
    questions = sum(s["questions"] for s in res["sets"])
    mode = "full (the model's links too)" if any(s["full_mode"] for s in res["sets"]) else "fast (no model)"
    print(f"{len(res['sets'])} conversation sets, {notes} notes, {questions} questions with evidence; ingest {mode}")
    print("links by kind: " + (", ".join(f"{k} {n}" for k, n in res["links"].items()) or "none"))
    print()
    k = res["k"]
    headers = ["links the retriever sees"]
    for name in GRAPH_RETRIEVERS:
        headers += [f"{name} any@{k}", f"all@{k}", f"multi-hop all@{k}"]
    rows = []
    for label in sorted(res["table"], key=_row_order):
        by_name = res["table"][label]
        row: list[Any] = [label]
        for name in GRAPH_RETRIEVERS:
            cell = by_name.get(name) or by_name.get(BASE[name]) or {}
            hop = cell.get(f"multi_hop_all@{k}")
            row += [cell.get(f"any@{k}", ""), cell.get(f"all@{k}", ""), "-" if hop is None else hop]
        rows.append(row)
    print_table(headers, rows)
    hops = max((c["multi_hop_n"] for by_name in res["table"].values() for c in by_name.values()), default=0)
    print(f"(multi-hop: {hops} questions. '{NO_GRAPH}': the same retrievers without "
          "the graph signal; 'no links': contextual+ppr still walks through entity nodes.)")


def _row_order(label: str) -> tuple[int, int]:
    """No graph, no links, each kind alone, all but each kind, all links; kinds in ``KINDS`` order."""
    from ..memory.link_kinds import KINDS

    kind = label.split(" ")[-1]
    at = KINDS.index(kind) if kind in KINDS else 0
    for i, prefix in enumerate((NO_GRAPH, "no links", "only ", "all but ", "all links")):
        if label.startswith(prefix):
            return i, at
    return 5, at


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings

    settings = load_settings(args.data_dir)
    sets = [] if args.no_shipped else shipped_sets(args.limit_samples)
    for path in args.locomo:
        sets.extend(locomo_sets(path, args.limit_samples))
    for path in args.notes:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"Cannot read {path}: {exc}.") from None
        sets.append(notes_set(data, Path(path).stem))
    for conv in sets:
        conv.full_mode = args.mode == "full"
    if not sets:
        raise InputError("No conversation set to measure: drop --no-shipped or give --locomo FILE.")
    say = (lambda _m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    res = run_sets(sets, settings, say=say)
    saved = save_results(settings.home, "links", res)
    if args.json:
        print(json.dumps(res, indent=2, default=str))
    else:
        print_report(res)
        print(f"saved {saved}; total {res['seconds']:.1f}s")
    return 0
