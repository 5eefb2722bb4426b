"""No lost update across processes: three writers × 30 mixed operations on shared notes, every
expected change counted afterwards; and the fold of the log reproduces every note (property test)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import HashEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory_core.config import Settings
from memory_core.notes import Note
from memory_core.store import MemoryStore
from memory_core.store.fold import fold

pytestmark = pytest.mark.server  # writer processes

WRITERS, OPS = 3, 30

WRITER = """
import json, sys, time
sys.path.insert(0, {tests!r})
from fakes import HashEmbedder
from memory_core.config import Settings
from memory_core.notes import Note
from memory_core.store import MemoryStore

p, shared = {p}, {shared!r}
start = {start!r}
store = MemoryStore(Settings(data_dir={home!r}), HashEmbedder())
while time.time() < start:
    time.sleep(0.005)
mine = []
for i in range({ops}):
    kind = i % 5
    target = shared[i % len(shared)]
    if kind == 0:  # a new note of my own
        note = Note(content=f"writer {{p}} note {{i}}")
        with store.writing() as w:
            w.put(note)
        mine.append(note.id)
    elif kind == 1:  # read-modify-write of a shared list: a lost update would drop a tag
        with store.writing() as w:
            n = w.get(target)
            n.set_field("tags", [*n.tags, f"p{{p}}-{{i}}"], "person")
            w.put(n)
    elif kind == 2:  # a link from a shared note to mine
        store.link(target, mine[-1], f"p{{p}} link {{i}}")
    elif kind == 3:  # an edit of my own note
        store.update(mine[-1], context=f"p{{p}} context {{i}}")
    else:  # keywords on a shared note, through update (re-reads first)
        with store.writing() as w:
            n = w.get(target)
            n.set_field("keywords", [*n.keywords, f"k{{p}}-{{i}}"], "person")
            w.put(n)
print(json.dumps(mine), flush=True)
"""


def test_three_processes_thirty_operations_each_lose_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    shared = []
    with store.writing() as w:
        for i in range(3):
            note = Note(content=f"shared note {i}")
            w.put(note)
            shared.append(note.id)
    store.close()
    start = time.time() + 8  # every writer opens its store first, then all start together
    procs = [subprocess.Popen([sys.executable, "-c", WRITER.format(
        tests=str(Path(__file__).resolve().parents[1]), p=p, shared=shared, start=start, home=str(home), ops=OPS)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in range(WRITERS)]
    mine = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        mine.append(json.loads(out.strip().splitlines()[-1]))

    final = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    tags = {t for nid in shared for t in final.get(nid).tags}
    keywords = {k for nid in shared for k in final.get(nid).keywords}
    links = {(nid, link.target, link.reason) for nid in shared for link in final.get(nid).links}
    expected_tags, expected_kw, expected_links = set(), set(), set()
    for p in range(WRITERS):
        assert len(mine[p]) == OPS // 5
        for i in range(OPS):
            target = shared[i % len(shared)]
            if i % 5 == 1:
                expected_tags.add(f"p{p}-{i}")
            elif i % 5 == 2:
                expected_links.add((target, mine[p][i // 5], f"p{p} link {i}"))
            elif i % 5 == 3:
                assert final.get(mine[p][i // 5]).context == f"p{p} context {i}"
            elif i % 5 == 4:
                expected_kw.add(f"k{p}-{i}")
    assert tags == expected_tags and keywords == expected_kw and links == expected_links
    assert len(final) == 3 + WRITERS * (OPS // 5)
    # every change is one event: 3 + 18 creations, 6 per writer of each other kind
    assert len(final.events()) == 3 + WRITERS * OPS


texts = st.text(alphabet="abc xyz", min_size=1, max_size=12).filter(lambda t: t.strip())
ops = st.lists(st.tuples(st.sampled_from(["add", "content", "tags", "link", "unlink", "delete", "revert"]),
                         st.integers(0, 5), st.integers(0, 5), texts), min_size=1, max_size=25)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops)
def test_folding_the_log_reproduces_every_note(tmp_path_factory, script) -> None:
    store = MemoryStore(Settings(data_dir=str(tmp_path_factory.mktemp("prop") / "home")), HashEmbedder())
    ids: list[str] = []
    for op, a, b, text in script:
        alive = [i for i in ids if i in store]
        if op == "add" or not alive:
            note = Note(content=text, tags=[text[:3]])
            with store.writing() as w:
                w.put(note)
            ids.append(note.id)
            continue
        x, y = alive[a % len(alive)], alive[b % len(alive)]
        if op == "content":
            store.update(x, content=text)
        elif op == "tags":
            store.update(x, by="evolver", tags=sorted({*store.get(x).tags, text.strip()[:5]}))
        elif op == "link" and x != y:
            store.link(x, y, text)
        elif op == "unlink":
            store.unlink(x, y)
        elif op == "delete":
            with store.writing() as w:  # the plain batch delete (forget compacts too: slower)
                w.delete(x)
        elif op == "revert":
            store.revert(x, a % (len(store.get(x).history) + 1))
    live = {nid: n.to_dict() for nid, n in store.notes_view().items()}
    assert {nid: n.to_dict() for nid, n in fold(store.events()).notes.items()} == live
    assert {nid: n.to_dict() for nid, n in MemoryStore(store.settings, HashEmbedder()).notes_view().items()} == live
