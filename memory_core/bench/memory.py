"""Memory benchmark: a scripted conversation through the chat's own path, and what the memory became.

The conversation (memory_core/bench/data/memory_conversation.json, written for Memex: 153
turns over five sessions) plants facts, repeats some, corrects some, and mixes in greetings,
thanks, acknowledgements, requests and bare questions about the facts. Each turn goes through
``ChatSession.reply`` exactly as the Chat page and ``memex chat --wait`` send it (recall, prompt,
the configured model's reply, the memory write of the person's words), waiting for each write.
Printed and saved:

* notes per turn; replies stored as notes (must be 0); bare questions stored (0); duplicates:
  two current notes of the same planted fact (0); superseded facts still current;
* proposals made / grounded / applied (the model's ideas for existing notes and links);
* notes whose content, or a field a person edited, was changed by anyone but the person (0);
* recall@5 of the planted fact's current note for each question, as the chat recalled it;
* links per note (each link counted at both ends), notes with at least one link, links by who made
  them (the rules, the model's accepted proposals);
* the correction table (``correction_table``): precision and recall of the corrections rule on pairs
  written for it and on held-out pairs;
* seconds per turn: the reply, and the memory write;
* write latency p50/p95: from the write being queued (right after the reply) until the note is
  stored (searchable) and until the model's enrichment of it is over, and from the message being
  sent until stored. The bench waits for each turn's note to be stored (the next turn recalls it)
  but not for enrichment, which runs behind the following turns as it does in the chat.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import print_table, save_results

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..config import Settings
    from ..models.embeddings import Embedder
    from ..models.llm import LLM
    from ..store import Store

STORED_KINDS = ("fact", "repeat", "correction", "chat")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--conversation", help="a conversation JSON in the same format (default: the shipped one)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N turns (0 = all)")
    parser.add_argument("--max-tokens", type=int, default=48, help="reply length cap (the reply is not the point)")
    parser.add_argument("--write-mode", choices=("full", "fast"), default="full",
                        help="memory writes as the chat makes them (full: enrichment and proposals by the model) "
                             "or without the model (fast: rule, duplicates, corrections, names, YAKE)")
    parser.add_argument("--quiet", action="store_true")


def load_conversation(path: str | None = None) -> dict[str, Any]:
    if path:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    text = resources.files("memory_core.bench").joinpath("data/memory_conversation.json").read_text("utf-8")
    return json.loads(text)


def turns_of(conv: dict[str, Any], limit: int = 0) -> list[dict[str, Any]]:
    out = []
    for si, session in enumerate(conv["sessions"]):
        for turn in session["turns"]:
            out.append({**turn, "session": si, "date": session.get("date", "")})
    return out[:limit] if limit else out


def current_fact_notes(turns: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> dict[str, str]:
    """Planted fact -> id of the note that holds it now (a merge points at the note merged into)."""
    notes: dict[str, str] = {}
    for turn, out in zip(turns, outcomes):
        if turn.get("fact") and out.get("note_id") and turn["fact"] not in notes:
            notes[turn["fact"]] = out["note_id"]
    return notes


def changed_without_person(store: Store) -> list[str]:
    """Notes whose content, or a field the person had written, was changed by someone else."""
    bad = []
    for note in store.all_notes():
        person_fields: set[str] = set()
        for change in note.history:
            if change.by == "person":
                person_fields.add(change.field)
            elif change.field == "content" or change.field in person_fields:
                bad.append(note.id)
                break
    return bad


def evaluate(store: Store, turns: list[dict[str, Any]], outcomes: list[dict[str, Any]],
             recalled: list[list[str]], replies: list[str]) -> dict[str, Any]:
    """Every figure, from the store and the conversation (no model needed)."""
    from ..retrieval.hit import current_version

    notes = store.notes_view()
    contents = {n.content for n in notes.values()}
    said = {t["text"] for t in turns}
    # A note that is not one of the person's turns, and holds a reply (or the old "Memex:" form), is a
    # stored reply. (A reply that repeats the person's words does not make their note a reply.)
    foreign = [c for c in contents if c not in said]
    stored_replies = sum(1 for c in foreign if c.startswith(("Memex:", "Person:"))
                         or any(len(r.strip()) > 10 and r.strip() in c for r in replies))
    bare_questions = sum(1 for t in turns if t["kind"] == "question" and t["text"] in contents)
    nothing_kinds = ("greeting", "thanks", "ack", "request")
    nothing_stored = sum(1 for t in turns if t["kind"] in nothing_kinds and t["text"] in contents)
    by_fact: dict[str, set[str]] = {}
    for turn, out in zip(turns, outcomes):
        if turn.get("fact") and out.get("note_id") in notes:
            by_fact.setdefault(turn["fact"], set()).add(current_version(out["note_id"], notes))
    duplicates = sum(len(ids) - 1 for ids in by_fact.values())
    corrections = [(t, o) for t, o in zip(turns, outcomes) if t["kind"] == "correction"]
    superseded_ok = sum(1 for _t, o in corrections if o.get("status") == "superseded")
    fact_notes = current_fact_notes(turns, outcomes)
    q_rows = []
    for turn, ids in zip(turns, recalled):
        if turn["kind"] != "question":
            continue
        # the question names the version it asks about ("car_volvo" before the correction, "car_fiat"
        # after), so the expected note is that fact's note, not what later replaced it
        target = fact_notes.get(turn["asks"], "")
        q_rows.append({"question": turn["text"], "fact": turn["asks"], "note": target,
                       "rank": ids.index(target) + 1 if target in ids[:5] else None, "planted": bool(target)})
    planted = [r for r in q_rows if r["planted"]]
    repeats = [(t, o) for t, o in zip(turns, outcomes) if t["kind"] == "repeat"]
    links = link_figures(notes)
    statuses: dict[str, int] = {}
    for o in outcomes:
        statuses[o.get("status", "?")] = statuses.get(o.get("status", "?"), 0) + 1
    return {
        "turns": len(turns), "notes": len(notes), "notes_per_turn": len(notes) / len(turns) if turns else 0.0,
        "statuses": statuses,
        "stored_replies": stored_replies, "notes_not_from_the_persons_turns": len(foreign),
        "bare_questions_stored": bare_questions,
        "greetings_acks_requests_stored": nothing_stored, "duplicates": duplicates,
        "repeats": len(repeats), "repeats_merged": sum(1 for _t, o in repeats if o.get("status") == "merged"),
        "corrections": len(corrections), "corrections_superseded": superseded_ok,
        "proposals_made": sum(int(o.get("proposed", 0)) for o in outcomes),
        "proposals_grounded": sum(int(o.get("grounded", 0)) for o in outcomes),
        "proposals_applied": sum(int(o.get("applied", 0)) for o in outcomes),
        "proposals_pending": _pending(store),
        "changed_without_person": len(changed_without_person(store)),
        "questions": len(q_rows), "questions_with_planted_fact": len(planted),
        "recall_at_5": sum(r["rank"] is not None for r in planted) / len(planted) if planted else 0.0,
        "question_rows": q_rows, **links,
    }


def link_figures(notes: dict[str, Any]) -> dict[str, Any]:
    """How linked the memory is: a Zettelkasten, or a scatter of dots."""
    edges = {frozenset((n.id, link.target)) for n in notes.values() for link in n.links if link.target in notes}
    linked = {nid for edge in edges for nid in edge}
    by: dict[str, int] = {}
    for n in notes.values():
        for link in n.links:
            by[link.by] = by.get(link.by, 0) + 1
    return {"links": len(edges), "links_per_note": 2 * len(edges) / len(notes) if notes else 0.0,
            "notes_linked": len(linked), "links_by": by}


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values`` by nearest rank; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def write_latency(writer: Any, turns_sent: list[tuple[str, float]]) -> dict[str, Any]:
    """Per stored turn: seconds from queued to stored, to enriched, and from sent to stored.

    ``turns_sent``: (the message's store job id, wall time the message was sent). A note's enrichment
    is the writer's enrichment job for the same message; a write with none (fast mode, or a write path
    that enriches in the same step) is enriched when stored."""
    jobs = writer.jobs()
    enrich = {j.message_id: j for j in jobs if getattr(j, "kind", "store") == "enrich" and j.message_id}
    stored, enriched, sent_to_stored = [], [], []
    for job_id, sent in turns_sent:
        job = writer.job(job_id)
        if job is None or job.state != "done" or job.outcome.get("status") not in ("stored", "superseded"):
            continue
        stored.append(job.finished - job.created)
        sent_to_stored.append(job.finished - sent)
        later = enrich.get(job.message_id)
        if later is None:
            enriched.append(job.finished - job.created)
        elif later.state == "done":
            enriched.append(later.finished - job.created)
    return {"writes": len(stored), "enriched_writes": len(enriched),
            "stored_p50": pct(stored, 0.5), "stored_p95": pct(stored, 0.95),
            "enriched_p50": pct(enriched, 0.5), "enriched_p95": pct(enriched, 0.95),
            "sent_to_stored_p50": pct(sent_to_stored, 0.5), "sent_to_stored_p95": pct(sent_to_stored, 0.95),
            "stored_mean": statistics.fmean(stored) if stored else 0.0}


def _reread(session: Any, conversation_id: str, message_id: str) -> dict[str, Any]:
    msg = session.conversations.load(conversation_id).message(message_id) or {}
    return dict(msg.get("memory") or {})


def _pending(store: Store) -> int:
    from ..memory.inbox import inbox

    return inbox(store).count("pending")


def run_conversation(settings: Settings, turns: list[dict[str, Any]], *, max_tokens: int,
                     say: Callable[[str], None] = print, llm: LLM | None = None, embedder: Embedder | None = None, write_mode: str = "full",
                     partial: Any = None, enrich_timeout: float = 3600.0) -> dict[str, Any]:
    from ..chat import ChatSession, ConversationStore, MemoryWriter
    from ..models.embeddings import get_embedder
    from ..models.llm import get_llm
    from ..store import MemoryStore

    llm = llm or get_llm(settings)
    writer = MemoryWriter()
    outcomes: list[dict[str, Any]] = []
    recalled: list[list[str]] = []
    replies: list[str] = []
    reply_s: list[float] = []
    write_s: list[float] = []
    sent: list[tuple[str, float]] = []
    where: list[tuple[str, str]] = []  # (conversation, message) of each turn
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="memex-bench-memory-") as tmp:
        s = settings.replace(data_dir=str(Path(tmp) / "home"), remember_chat=True, max_tokens=max_tokens)
        store = MemoryStore(s, embedder or get_embedder(s))
        session = ChatSession(store, s, llm, ConversationStore(s.home), writer)
        if write_mode != "full":  # the reply queues the write through this method: same path, other mode
            session.remember_message = functools.partial(session.remember_message, mode=write_mode)  # type: ignore
        conv_ids: dict[int, str] = {}
        for i, turn in enumerate(turns):
            t0 = time.perf_counter()
            sent_at = time.time()
            reply = session.reply(conv_ids.get(turn["session"]), turn["text"])
            text = reply.consume()
            conv_ids[turn["session"]] = reply.conversation_id
            t1 = time.perf_counter()
            if reply.job_id:  # the next turn sees this one's note (its enrichment may come later)
                writer.wait(reply.job_id, timeout=600)
                sent.append((reply.job_id, sent_at))
            t2 = time.perf_counter()
            conv = session.conversations.load(reply.conversation_id)
            msg = conv.message(reply.user_message["id"]) or {}
            outcomes.append(dict(msg.get("memory") or {}))
            where.append((reply.conversation_id, reply.user_message["id"]))
            assistant = reply.message or {}
            recalled.append([r.get("id", "") for r in assistant.get("recalled", []) if isinstance(r, dict)])
            replies.append(text)
            reply_s.append(t1 - t0)
            write_s.append(t2 - t1)
            if (i + 1) % 10 == 0:
                say(f"memory bench: {i + 1}/{len(turns)} turns, {len(store)} notes, "
                    f"{time.perf_counter() - started:.0f}s")
                if partial is not None:  # a long run on a busy machine leaves figures as it goes
                    so_far = evaluate(store, turns[:i + 1], outcomes, recalled, replies)
                    partial({**so_far, "partial": True, "model": llm.name, "write_mode": write_mode,
                             "seconds_per_turn": (sum(reply_s) + sum(write_s)) / len(reply_s)})
        enrich_started = time.perf_counter()
        writer.wait_idle(timeout=enrich_timeout)  # the enrichment still queued behind the last turns
        drain = time.perf_counter() - enrich_started
        latency = write_latency(writer, sent)
        writer.stop()
        outcomes = [_reread(session, c, m) for c, m in where]  # with what enrichment added (proposals)
        figures = evaluate(store, turns, outcomes, recalled, replies)
        figures["correction_table"] = correction_figures(store.embedder)
        figures["write_latency"] = {**latency, "drain_seconds": drain, "load_start": load_start,
                                    "reply_seconds": [round(x, 2) for x in reply_s],
                                    "load_end": os.getloadavg()[0]}
        figures["notes_dump"] = [n.to_dict() for n in store.all_notes()]
        figures["replies"] = replies
        store.close()
    figures.update({"model": llm.name, "max_tokens": max_tokens, "write_mode": write_mode,
                    "seconds_per_turn_reply": sum(reply_s) / len(reply_s) if reply_s else 0.0,
                    "seconds_per_turn_memory": sum(write_s) / len(write_s) if write_s else 0.0,
                    "seconds_per_turn": (sum(reply_s) + sum(write_s)) / len(reply_s) if reply_s else 0.0,
                    "outcomes": outcomes})
    return figures


def correction_figures(embedder: Embedder) -> dict[str, Any]:
    """The corrections rule on its tables (MiniLM only, a few seconds)."""
    from .correction_table import HELD_OUT, PAIRS, score_table

    out = {}
    for name, pairs in (("table", PAIRS), ("held_out", HELD_OUT)):
        res = score_table(embedder, pairs)
        out[name] = {k: v for k, v in res.items() if k != "wrong"} | {"wrong": res["wrong"]}
    return out


def latency_rows(lat: dict[str, Any]) -> list[list[Any]]:
    """The write-latency rows of the printed table."""
    return [["write: queued -> stored p50 / p95 (s)", f"{lat['stored_p50']:.2f} / {lat['stored_p95']:.2f}",
             f"{lat['writes']} notes"],
            ["write: queued -> enriched p50 / p95 (s)", f"{lat['enriched_p50']:.2f} / {lat['enriched_p95']:.2f}",
             f"{lat['enriched_writes']} enriched"],
            ["write: message sent -> stored p50 / p95 (s)",
             f"{lat['sent_to_stored_p50']:.2f} / {lat['sent_to_stored_p95']:.2f}", "includes the reply"],
            ["load average (1 min) at start / end", f"{lat.get('load_start', 0):.2f} / {lat.get('load_end', 0):.2f}",
             "the machine's other work"]]


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings

    settings = load_settings(args.data_dir)
    conv = load_conversation(args.conversation)
    turns = turns_of(conv, args.limit)
    say = (lambda _m: None) if args.quiet or args.json else print
    started = time.perf_counter()
    res = run_conversation(settings, turns, max_tokens=args.max_tokens, say=say, write_mode=args.write_mode,
                           partial=lambda figures: save_results(settings.home, "memory-partial", figures))
    res["seconds"] = time.perf_counter() - started
    res["conversation"] = conv.get("name", args.conversation or "")
    path = save_results(settings.home, "memory", res)
    if args.json:
        print(json.dumps({k: v for k, v in res.items() if k not in ("outcomes", "notes_dump", "replies")},
                         indent=2, default=str))
        return 0
    print(f"\nmemory benchmark: {res['conversation']}, {res['turns']} turns, model {res['model']}, memory writes {res['write_mode']}")
    rows = [["notes per turn", f"{res['notes_per_turn']:.3f} ({res['notes']} notes)", ""],
            ["stored replies", res["stored_replies"], "must be 0"],
            ["notes not from the person's turns", res["notes_not_from_the_persons_turns"], "0 expected"],
            ["bare questions stored", res["bare_questions_stored"], "must be 0"],
            ["greetings/thanks/acks/requests stored", res["greetings_acks_requests_stored"], "0 expected"],
            ["duplicates (current notes of one fact)", res["duplicates"], "must be 0"],
            ["repeats merged", f"{res['repeats_merged']}/{res['repeats']}", ""],
            ["corrections superseding", f"{res['corrections_superseded']}/{res['corrections']}", ""],
            ["proposals made / grounded / applied",
             f"{res['proposals_made']} / {res['proposals_grounded']} / {res['proposals_applied']}",
             f"{res['proposals_pending']} waiting for review"],
            ["changed without the person", res["changed_without_person"], "must be 0"],
            ["links per note", f"{res['links_per_note']:.2f} ({res['links']} links)",
             f"{res['notes_linked']}/{res['notes']} notes linked; by " +
             (", ".join(f"{k} {v}" for k, v in sorted(res["links_by"].items())) or "nobody")],
            *[[f"corrections rule, {name.replace('_', '-')} pairs",
               f"P {t['sure_precision']:.2f} R {t['sure_recall']:.2f} (sure)",
               f"P {t['any_precision']:.2f} R {t['any_recall']:.2f} (sure or asked), {t['pairs']} pairs"]
              for name, t in res["correction_table"].items()],
            ["recall@5 of planted facts", f"{res['recall_at_5']:.3f}",
             f"{res['questions_with_planted_fact']} questions"],
            ["seconds per turn (reply + memory)",
             f"{res['seconds_per_turn']:.2f} ({res['seconds_per_turn_reply']:.2f} + "
             f"{res['seconds_per_turn_memory']:.2f})", ""],
            *latency_rows(res["write_latency"])]
    print_table(["figure", "value", "note"], rows)
    missed = [r for r in res["question_rows"] if r["planted"] and r["rank"] is None]
    if missed:
        print("\nnot recalled in the top 5: " + "; ".join(r["question"] for r in missed))
    print(f"\nsaved {path}; total {res['seconds']:.1f}s")
    return 0
