"""The search index over episodes: every turn of every remembered conversation, BM25 and MiniLM vectors.

Why derived and in memory: the conversation files are the one record of what was said; an index kept
beside them could go stale or keep the words of a forgotten message on disk. So the index is rebuilt
from the files, conversation by conversation, whenever a file's stamp (modification time and size)
differs from the one it was read at: a new reply, a new imported conversation, a message flagged
forgotten, a deleted conversation each touch exactly one file. A process that only reads (a search,
``memex chat`` asking a question) never writes anything for it. One index per data folder and
embedder lives in the process (``index_for``), so the Chat page and its reruns share it.

Each turn is indexed with the turn before it in its segment as context, as notes are with theirs:
the reply "Try chamomile tea an hour before bed" is found by "what did you suggest for my sleep?"
through the person's "I sleep badly lately" just before it. The context vector is the normalised sum
of the two turns' vectors, so it costs no second embedding.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import NotFoundError, StoreError
from ..store.lexical import BM25Index
from .conversations import ConversationStore
from .segments import Segment, Turn, segments_of

if TYPE_CHECKING:
    from ..models.embedder_base import Embedder

TURN_CHARS = 1000  # a turn is embedded by its first this many characters (MiniLM reads ~256 tokens)


@dataclass
class _Conv:
    stamp: tuple[int, int]
    keys: list[str]
    segments: list[Segment]


class EpisodeIndex:
    """Turns of the conversations under ``home``, searchable by words and by meaning."""

    def __init__(self, home: str | Path, embedder: Embedder) -> None:
        self.conversations = ConversationStore(home)
        self.embedder = embedder
        self.lexical = BM25Index()
        self.turns: dict[str, Turn] = {}
        self._convs: dict[str, _Conv] = {}
        self._vectors: dict[str, np.ndarray] = {}  # by the embedded text: a re-read turn is not embedded again
        self._matrix: tuple[list[str], np.ndarray, np.ndarray] | None = None  # keys, own, with context
        self.lock = threading.RLock()

    def __len__(self) -> int:
        return len(self.turns)

    def segment(self, turn: Turn) -> Segment:
        return self._convs[turn.conversation_id].segments[turn.segment]

    def refresh(self) -> int:
        """Bring the index up to date with the files; returns how many conversations were (re)read."""
        with self.lock:
            folder = self.conversations.folder
            seen: set[str] = set()
            changed: list[str] = []
            for path in folder.glob("*.json") if folder.is_dir() else []:
                try:
                    st = path.stat()
                except OSError:
                    continue
                cid = path.stem
                seen.add(cid)
                old = self._convs.get(cid)
                if old is None or old.stamp != (st.st_mtime_ns, st.st_size):
                    changed.append(cid)
                    self._read(cid, (st.st_mtime_ns, st.st_size))
            for cid in [c for c in self._convs if c not in seen]:
                self._drop(cid)
            if changed:
                self._embed_missing()
                self._matrix = None
            return len(changed)

    def _drop(self, cid: str) -> None:
        old = self._convs.pop(cid, None)
        for key in old.keys if old else []:
            self.turns.pop(key, None)
            self.lexical.remove(key)

    def _read(self, cid: str, stamp: tuple[int, int]) -> None:
        self._drop(cid)
        try:
            conv = self.conversations.load(cid)
        except (NotFoundError, StoreError):  # vanished, or damaged (the conversation list reports those)
            self._convs[cid] = _Conv(stamp, [], [])
            return
        segments = segments_of(conv)
        keys: list[str] = []
        for seg in segments:
            for i, turn in enumerate(seg.turns):
                before = seg.turns[i - 1].text if i else ""
                self.turns[turn.key] = turn
                self.lexical.upsert(turn.key, f"{turn.text}\n{before}")
                keys.append(turn.key)
        self._convs[cid] = _Conv(stamp, keys, segments)

    def _embed_missing(self) -> None:
        """Embed the texts no turn had before, and let go of those no turn holds any more."""
        used = {self._text(k) for k in self.turns}
        missing = [t for t in used if t not in self._vectors]
        if missing:
            for text, vec in zip(missing, self.embedder.embed(missing)):
                self._vectors[text] = np.asarray(vec, dtype=np.float32)
        for text in [t for t in self._vectors if t not in used]:
            del self._vectors[text]

    def _text(self, key: str) -> str:
        return self.turns[key].text[:TURN_CHARS]

    def vector(self, key: str) -> np.ndarray:
        return self._vectors[self._text(key)]

    def matrix(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(keys, own vectors, context vectors), rows in the same order; rebuilt after a change."""
        with self.lock:
            if self._matrix is None:
                keys = list(self.turns)
                dim = int(next(iter(self._vectors.values())).shape[0]) if self._vectors else 1
                own = np.stack([self.vector(k) for k in keys]) if keys else np.zeros((0, dim), np.float32)
                ctx = own.copy()
                for row, key in enumerate(keys):
                    turn = self.turns[key]
                    if turn.position:
                        prev = self.segment(turn).turns[turn.position - 1]
                        summed = own[row] + self.vector(prev.key)
                        ctx[row] = summed / (np.linalg.norm(summed) or 1.0)
                self._matrix = (keys, own, ctx)
            return self._matrix


_INDEXES: dict[tuple[str, int], EpisodeIndex] = {}
_INDEXES_LOCK = threading.Lock()
MAX_INDEXES = 8  # data folders a process keeps an index for (tests open many; the app one)


def index_for(home: str | Path, embedder: Embedder) -> EpisodeIndex:
    """The process's index for this data folder and embedder, brought up to date with the files."""
    key = (str(Path(home).resolve()), id(embedder))
    with _INDEXES_LOCK:
        index = _INDEXES.get(key)
        if index is None or index.embedder is not embedder:
            while len(_INDEXES) >= MAX_INDEXES:
                _INDEXES.pop(next(iter(_INDEXES)))
            index = _INDEXES[key] = EpisodeIndex(home, embedder)
    index.refresh()
    return index
