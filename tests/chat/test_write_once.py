"""Every memory write exactly once, across processes, crashes and exits (fakes: the model and the
embedder are scripted, so these run in seconds; ``test_process_exit.py`` does the same with the real ones).

- A write whose effect an earlier process committed, but never recorded, is adopted, not repeated.
- A conversation another process is writing waits for it, then takes its outcome.
- Three processes resume one queue at once: each message is stored once.
- The fault suite: SIGKILL at random points of chat turns, imports and edits, then reopen: every
  accepted change present exactly once, nothing torn (counts are printed).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from fakes import HashEmbedder, ScriptedLLM, enrichment

from memory_core.chat import ChatSession, ConversationStore, MemoryWriter, new_message
from memory_core.chat.pending import claimed, pending_writes
from memory_core.config import Settings
from memory_core.memory.pipeline import MemoryPipeline
from memory_core.memory.turns import turn_key as write_key
from memory_core.store import MemoryStore
from memory_core.store.events import CREATE

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
WORDS = ["amber", "basil", "cobalt", "dune", "ember", "fjord", "garnet", "harbor", "indigo", "juniper", "kelp",
         "lantern", "maple", "nectar", "orchid", "pebble", "quartz", "raven", "saffron", "tundra", "umber",
         "velvet", "willow", "yarrow", "zephyr", "acorn", "birch", "cedar", "delta", "elm"]


def fact(i: int, tag: str) -> str:
    """Sentences that share few words (the hash embedder must not call them duplicates)."""
    rng = random.Random(f"{tag}-{i}")
    a, b, c = rng.sample(WORDS, 3)
    return f"My {a} {tag}{i} keeps {b} near {c} zone{i}{tag}."


def model() -> ScriptedLLM:
    return ScriptedLLM(default=enrichment(["note"], "A note.", ["note"]))  # type: ignore[arg-type]


def session(home: Path, writer: MemoryWriter | None = None) -> ChatSession:
    settings = Settings(data_dir=str(home))
    return ChatSession(MemoryStore(settings, HashEmbedder()), settings, model(), ConversationStore(home),
                       writer or MemoryWriter(retry_delays=(0.05,)))


def queued(home: Path, texts: list[str]) -> tuple[str, list[str]]:
    """A conversation whose messages wait to be written, as a process that ended leaves it."""
    convs = ConversationStore(home)
    conv = convs.new()
    ids = []
    for text in texts:
        msg = new_message("user", text, memory={"state": "queued", "job": "w1-gone"})
        convs.append(conv.id, msg, create=conv)
        ids.append(msg["id"])
    return conv.id, ids


def creations(store: MemoryStore, conversation_id: str, message_id: str) -> int:
    return sum(1 for e in store._conn.log.read({"cause": write_key(conversation_id, message_id)}) if e.field == CREATE)


def test_a_write_committed_but_not_recorded_is_adopted_not_repeated(tmp_path: Path) -> None:
    home = tmp_path / "home"
    conv_id, (mid,) = queued(home, [fact(0, "adopt")])
    chat = session(home)
    # the earlier process got as far as the commit, then died before the conversation said "done"
    MemoryPipeline(chat.store, chat.settings, model()).remember_turn(fact(0, "adopt"), conversation_id=conv_id,
                                                                     message_id=mid, mode="fast")
    assert len(chat.store) == 1 and [p.message_id for p in pending_writes(chat.conversations)] == [mid]
    (job_id,) = chat.resume_pending()
    job = chat.writer.wait(job_id, 60)
    assert job is not None and job.state == "done" and job.outcome["status"] == "stored"
    assert "earlier Memex process" in job.outcome["reason"]
    assert len(chat.store) == 1 and creations(chat.store, conv_id, mid) == 1
    assert chat.conversations.load(conv_id).messages[0]["memory"]["note_id"] == job.note_id
    assert pending_writes(chat.conversations) == []


def test_a_message_is_queued_on_disk_before_its_reply_so_a_death_mid_reply_loses_no_write(tmp_path: Path) -> None:
    home = tmp_path / "home"
    chat = session(home)
    reply = chat.reply(None, fact(0, "midreply"))  # saved; the process "dies" before streaming the reply
    (msg,) = chat.conversations.load(reply.conversation_id).messages
    assert msg["memory"]["state"] == "queued"
    assert [p.message_id for p in pending_writes(chat.conversations)] == [msg["id"]]
    assert chat.resume_pending() == []  # this process holds it for its reply: no write before the reply ends
    later = session(home)  # the next process takes it up
    (job_id,) = later.resume_pending()
    job = later.writer.wait(job_id, 60)
    assert job is not None and job.state == "done" and job.outcome["status"] == "stored"
    assert creations(later.store, reply.conversation_id, msg["id"]) == 1


def test_a_reply_that_ends_submits_the_write_queued_with_its_message_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    chat = session(home)
    reply = chat.reply(None, fact(1, "afterreply"))
    queued_job = chat.conversations.load(reply.conversation_id).messages[0]["memory"]["job"]
    reply.consume()
    assert reply.job_id == queued_job
    job = chat.writer.wait(reply.job_id, 60)
    assert job is not None and job.state == "done"
    assert chat.resume_pending() == [] and pending_writes(chat.conversations) == []
    assert creations(chat.store, reply.conversation_id, reply.user_message["id"]) == 1


CLAIMER = """
import sys, time
sys.path.insert(0, {tests!r})
from memory_core.chat import ConversationStore
from memory_core.chat.pending import claimed
convs = ConversationStore({home!r})
with claimed(convs, {conv!r}):
    print("claimed", flush=True)
    sys.stdin.readline()
    convs.update_message({conv!r}, {mid!r}, memory={{"state": "done", "status": "not_stored", "job": "w9-other",
                                                  "reason": "done by the other process"}})
print("released", flush=True)
"""


@pytest.mark.server  # other processes
def test_a_conversation_another_process_is_writing_waits_then_takes_its_outcome(tmp_path: Path) -> None:
    home = tmp_path / "home"
    conv_id, (mid,) = queued(home, [fact(0, "busy")])
    other = subprocess.Popen([sys.executable, "-c", CLAIMER.format(tests=str(TESTS), home=str(home), conv=conv_id,
                                                                   mid=mid)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "claimed"
        chat = session(home)
        (job_id,) = chat.resume_pending()
        deadline = time.monotonic() + 10
        while not (chat.writer.job(job_id) or chat.writer.job(job_id)).waiting and time.monotonic() < deadline:
            time.sleep(0.05)
        job = chat.writer.job(job_id)
        assert job is not None and "another Memex process" in job.waiting and job.active
        other.stdin.write("go\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "released"
        job = chat.writer.wait(job_id, 30)
        assert job is not None and job.state == "done" and job.outcome["reason"] == "done by the other process"
        assert len(chat.store) == 0  # it did not write the message a second time
    finally:
        other.kill()
        other.wait()


@pytest.mark.server  # other processes
def test_a_claim_is_released_when_its_process_dies(tmp_path: Path) -> None:
    home = tmp_path / "home"
    conv_id, _ids = queued(home, [fact(0, "dead")])
    other = subprocess.Popen([sys.executable, "-c", CLAIMER.format(tests=str(TESTS), home=str(home), conv=conv_id,
                                                                   mid="x")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert other.stdout.readline().strip() == "claimed"
    other.send_signal(signal.SIGKILL)
    other.wait()
    with claimed(ConversationStore(home), conv_id):  # no wait, no error: the kernel dropped the lock
        pass


DRIVER = """
import json, sys, time
sys.path.insert(0, {tests!r})
from fakes import HashEmbedder, ScriptedLLM, enrichment
from memory_core.chat import ChatSession, ConversationStore, MemoryWriter
from memory_core.config import Settings
from memory_core.store import MemoryStore
from memory_core.transfer.memex_json import import_file

home, role = {home!r}, {role!r}
settings = Settings(data_dir=home)
store = MemoryStore(settings, HashEmbedder())
llm = ScriptedLLM(default=enrichment(["note"], "A note.", ["note"]))
writer = MemoryWriter(retry_delays=(0.05,))
chat = ChatSession(store, settings, llm, ConversationStore(home), writer)
if role == "resume":
    jobs = chat.resume_pending()
    writer.wait_idle(120)
    print(json.dumps({{"resumed": len(jobs)}}), flush=True)
elif role == "chat":
    conv = None
    for text in {texts!r}:
        reply = chat.reply(conv, text)
        reply.consume()
        conv = reply.conversation_id
        print("accepted " + reply.user_message["id"], flush=True)
    writer.wait_idle(120)
    print("idle", flush=True)
elif role == "import":
    raw = open({export!r}, "rb").read()
    report = import_file(store, raw)
    print("imported %d" % report.added, flush=True)
elif role == "edit":
    n = 0
    while True:
        n += 1
        store.update({note!r}, by="person", context="edit %d" % n)
        print("accepted %d" % n, flush=True)
"""


def drive(home: Path, role: str, **kw: object) -> subprocess.Popen:
    script = DRIVER.format(tests=str(TESTS), home=str(home), role=role, texts=kw.get("texts", []),
                           export=str(kw.get("export", "")), note=kw.get("note", ""))
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=str(ROOT))


@pytest.mark.server  # other processes
def test_three_processes_resume_one_queue_and_each_message_is_stored_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    messages = {}
    for c in range(4):  # four conversations, so the three processes have something to share
        texts = [fact(i, f"q{c}") for i in range(3)]
        conv_id, ids = queued(home, texts)
        messages.update({(conv_id, mid): text for mid, text in zip(ids, texts)})
    procs = [drive(home, "resume") for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    store = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    contents = Counter(n.content for n in store.all_notes())
    for (conv_id, mid), text in messages.items():
        assert contents[text] == 1 and creations(store, conv_id, mid) == 1, text
    assert len(store) == len(messages)
    assert pending_writes(ConversationStore(home)) == []
    resumed = sum(json.loads(o[0].strip().splitlines()[-1])["resumed"] for o in outs)
    assert resumed >= len(messages)  # each process took up the queue; the claims kept it to one write each


def _kill_after(proc: subprocess.Popen, seconds: float) -> list[str]:
    """Lines the process printed before it was killed with SIGKILL after ``seconds``."""
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    out, _err = proc.communicate(timeout=60)
    return out.splitlines()


@pytest.mark.server  # other processes
def test_fault_suite_sigkill_anywhere_then_every_accepted_change_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20261206)
    report: dict[str, dict[str, int]] = {}

    # chat turns: a process tells facts and is killed at a random moment, three times; then one more opens
    home = tmp_path / "chat"
    for run in range(3):
        texts = [fact(i, f"k{run}") for i in range(12)]
        _kill_after(drive(home, "chat", texts=texts), rng.uniform(2.0, 5.0))
    final = drive(home, "resume")
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err[-2000:]
    convs = ConversationStore(home)
    store = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    accepted = [(c.id, m) for s in convs.list() for c in [convs.load(s.id)] for m in c.messages if m["role"] == "user"]
    assert accepted and not convs.broken
    made = {(cid, m["id"]): creations(store, cid, m["id"]) for cid, m in accepted}
    contents = Counter(n.content for n in store.all_notes())
    report["chat turns"] = {"accepted": len(accepted), "present": sum(1 for v in made.values() if v >= 1),
                            "duplicated": sum(1 for v in made.values() if v > 1)
                            + sum(1 for v in contents.values() if v > 1)}
    assert all(m["memory"]["state"] == "done" for _c, m in accepted)

    # imports: killed mid-import, then imported again (the export's ids make it idempotent)
    source = MemoryStore(Settings(data_dir=str(tmp_path / "source")), HashEmbedder())
    with source.writing() as w:
        from memory_core.notes import Note

        for i in range(300):
            w.put(Note(content=fact(i, "imp")))
    export = tmp_path / "export.json"
    from memory_core.transfer.memex_json import export_to_file

    export_to_file(source, str(export))
    target = tmp_path / "target"
    _kill_after(drive(target, "import", export=export), rng.uniform(1.0, 2.5))
    again = drive(target, "import", export=export)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-2000:]
    imported = MemoryStore(Settings(data_dir=str(target)), HashEmbedder())
    wanted = {n.id: n.content for n in source.all_notes()}
    got = Counter(n.id for n in imported.all_notes())
    report["imports"] = {"accepted": len(wanted), "present": sum(1 for i in wanted if got[i] >= 1),
                         "duplicated": sum(1 for c in Counter(n.content for n in imported.all_notes()).values()
                                           if c > 1)}
    assert all(imported.get(i).content == text for i, text in wanted.items())

    # edits: a process edits one note as fast as it can and is killed; every accepted edit is in history once
    home = tmp_path / "edits"
    store = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    with store.writing() as w:
        from memory_core.notes import Note

        note = Note(content="A note edited until its process is killed.")
        w.put(note)
    lines = _kill_after(drive(home, "edit", note=note.id), rng.uniform(2.0, 4.0))
    done = [int(x.split()[1]) for x in lines if x.startswith("accepted ")]
    after = MemoryStore(Settings(data_dir=str(home)), HashEmbedder()).get(note.id)
    seen = Counter(c.new for c in after.history if c.field == "context")
    report["edits"] = {"accepted": len(done), "present": sum(1 for n in done if seen[f"edit {n}"] >= 1),
                       "duplicated": sum(1 for v in seen.values() if v > 1)}
    assert done and after.context in {f"edit {done[-1]}", f"edit {done[-1] + 1}"}  # the last, or the one in flight

    # migrations: a format-1 store (the fixture) opened by a process killed at a random moment, three times
    from store.test_store_migration import FIXTURE, expected_notes, exported, v1_home  # tests/ is on the path

    from memory_core.store.datadir import read_marker

    migrated = doubled = 0
    for run in range(3):
        (tmp_path / f"migration{run}").mkdir()
        home = v1_home(tmp_path / f"migration{run}")
        script = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); from fakes import HashEmbedder; "
                  "from memory_core.config import Settings; from memory_core.store import MemoryStore; "
                  f"MemoryStore(Settings(data_dir={str(home)!r}), HashEmbedder())")
        _kill_after(subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True),
                    rng.uniform(0.2, 2.0))
        reopened = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
        assert read_marker(home)["format"] == 2
        got, want = exported(reopened), expected_notes()
        migrated += sum(1 for n in want if n in got)
        doubled += sum(1 for v in Counter(n["id"] for n in got).values() if v > 1) + max(0, len(got) - len(want))
    report["migrations"] = {"accepted": 3 * len(expected_notes()), "present": migrated, "duplicated": doubled}
    assert FIXTURE.exists()

    print("\nfault suite (SIGKILL at random points):")
    for kind, counts in report.items():
        print(f"  {kind:<11} accepted {counts['accepted']:>4}  present {counts['present']:>4}  "
              f"duplicated {counts['duplicated']}")
    for kind, counts in report.items():
        assert counts["present"] == counts["accepted"] and counts["duplicated"] == 0, (kind, counts)


@pytest.mark.parametrize("_", [0])
@pytest.mark.server  # other processes
def test_conversation_appends_from_three_processes_lose_nothing(tmp_path: Path, _: int) -> None:
    """The lock is across processes: three processes append to one conversation at once."""
    home = tmp_path / "home"
    convs = ConversationStore(home)
    conv = convs.new()
    convs.save(conv)
    script = """
import sys
from memory_core.chat import ConversationStore, new_message
convs = ConversationStore({home!r})
for i in range(60):
    convs.append({conv!r}, new_message("user", "{name} %d" % i))
"""
    procs = [subprocess.Popen([sys.executable, "-c", script.format(home=str(home), conv=conv.id, name=name)],
                              cwd=str(ROOT)) for name in ("a", "b", "c")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    contents = [m["content"] for m in ConversationStore(home).load(conv.id).messages]
    assert sorted(contents) == sorted(f"{n} {i}" for n in "abc" for i in range(60))
