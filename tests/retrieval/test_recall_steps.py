"""The steps of recall after fusion (retrieval/recall.py, late.py): MaxSim with the real MiniLM, the
entity hop, speaker names out of the query vector, and the ``recall`` retriever end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import HashEmbedder

from memory_core.config import Settings
from memory_core.memory import MemoryPipeline, NewItem
from memory_core.notes import Note
from memory_core.retrieval import DEFAULT_RETRIEVER, make_retriever
from memory_core.retrieval.hit import Hit
from memory_core.retrieval.late import dequantize, maxsim, quantize
from memory_core.retrieval.recall import QueryParts, entity_hop, query_parts, refine
from memory_core.retrieval.retrievers import is_retriever
from memory_core.retrieval.signals import ContextIndex, speaker_of
from memory_core.store import MemoryStore


def test_maxsim_ranks_a_paraphrase_match_above_a_note_without_one(embedder) -> None:
    query = "What artwork did her friend give her?"
    match = "Priya surprised me with a watercolour of a lighthouse for my birthday."
    other = "The trains were cancelled again so I worked from home."
    _, q_tokens = embedder.embed_tokens([query])
    _, docs = embedder.embed_tokens([match, other])
    scores = maxsim(q_tokens[0], docs)
    assert scores[0] > scores[1] + 0.05


def test_token_vectors_leave_out_cls_and_sep_and_pool_to_the_sentence_vector(embedder) -> None:
    text = "my sister Carla moved to Lisbon"
    pooled, tokens = embedder.embed_tokens([text])
    assert tokens[0].shape == (6, 384)  # six word pieces, no [CLS]/[SEP]
    assert np.allclose(np.linalg.norm(tokens[0], axis=1), 1.0, atol=1e-4)
    assert float(pooled[0] @ embedder.embed([text])[0]) > 0.9999


def test_int8_token_vectors_keep_their_direction() -> None:
    vecs = np.random.default_rng(3).normal(size=(20, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    codes, scale = quantize(vecs)
    back = dequantize(codes, scale)
    assert codes.dtype == np.int8 and codes.nbytes + scale.nbytes == 20 * 386
    assert np.min(np.sum(back * vecs, axis=1) / np.linalg.norm(back, axis=1)) > 0.999


def _index(notes: list[Note]) -> tuple[ContextIndex, dict[str, Note]]:
    by_id = {n.id: n for n in notes}
    index = ContextIndex()
    index.sync(by_id, HashEmbedder())
    return index, by_id


def test_the_hop_brings_notes_that_share_a_name_with_a_top_hit_and_skips_speakers() -> None:
    gift = Note("Caroline: Priya gave me a watercolour for my birthday.")
    moved = Note("Caroline: Good news, Priya moved to Porto in the spring.")
    other = Note("Melanie: The trains were cancelled again.")
    also_caroline = Note("Melanie: Caroline, did you see the news?")
    filler = [Note(f"{'Caroline' if i % 2 else 'Melanie'}: small talk number {i}.") for i in range(20)]
    index, _ = _index([gift, moved, other, also_caroline, *filler])
    assert index.speakers() == {"caroline", "melanie"}
    q = QueryParts("where does the friend live", np.zeros(3))
    hop, via = entity_hop(index, {gift.id: 1.0, other.id: 0.5}, q, 24)
    assert set(hop) == {moved.id} and via[moved.id] == gift.id  # "caroline" is a speaker: not a hop


def test_a_hopped_note_never_outranks_the_seed_that_brought_it_in() -> None:
    """Two notes share "Tom"; only one names the Pergamon. The hop may lift the other, not above it."""
    seed = Note("Tom recommended the Pergamon museum in Berlin")
    lifted = Note("Berlin museum visit with Tom")
    stronger = Note("Tom's own review of the museum")
    index, notes = _index([seed, lifted, stronger])
    scores = {seed.id: 0.5, lifted.id: 0.0, stronger.id: 0.6}
    q = QueryParts("Pergamon", np.zeros(3))
    refine(None, notes, index, q, scores, {}, frozenset({"hop"}))  # type: ignore[arg-type]
    assert scores[lifted.id] < scores[seed.id] <= scores[stronger.id]
    assert scores[lifted.id] > 0.0  # lifted all the same


def test_the_speaker_a_question_names_lifts_her_own_words_among_the_candidates() -> None:
    """ "What did Caroline lose?" asks about what Caroline said; soft: Melanie's line stays a candidate."""
    caroline = Note("Caroline: I left my wallet on the night bus.")
    melanie = Note("Melanie: I lost my keys at the gym, what a week.")
    outside = Note("Caroline: The soup was lovely.")
    index, notes = _index([caroline, melanie, outside])
    before = {caroline.id: 0.5, melanie.id: 0.6}
    q = QueryParts("What did Caroline lose?", np.zeros(3), speakers={"caroline"})
    scores, scaled = dict(before), {}
    refine(None, notes, index, q, scores, scaled, frozenset({"speaker"}))  # type: ignore[arg-type]
    assert scores[caroline.id] > scores[melanie.id] > 0 and outside.id not in scores  # candidates only
    assert scaled[caroline.id]["speaker"] == 1.0 and "speaker" not in scaled.get(melanie.id, {})
    unnamed = QueryParts("What was lost?", np.zeros(3))
    scores = dict(before)
    refine(None, notes, index, unnamed, scores, {}, frozenset({"speaker"}))  # type: ignore[arg-type]
    assert scores == before


def test_speaker_names_leave_the_query_vector_but_stay_in_the_query() -> None:
    notes = [Note(f"{'Caroline' if i % 2 else 'Melanie'}: line {i} about the weather.") for i in range(20)]
    notes.append(Note("Melanie: My aunt lives in Porto."))
    index, _ = _index(notes)

    class Recorder(HashEmbedder):
        seen: list[str] = []

        def embed(self, texts: list[str]) -> np.ndarray:
            self.seen.extend(texts)
            return super().embed(texts)

    class FakeStore:
        embedder = Recorder()

    q = query_parts(FakeStore(), index, "What did Caroline's friend say about Porto?",  # type: ignore[arg-type]
                    frozenset({"names"}))
    assert q.speakers == {"caroline"} and q.entities == {"porto"}
    assert FakeStore.embedder.seen == ["What did friend say about Porto?"]
    assert q.lexical_text == "What did Caroline's friend say about Porto?"
    assert speaker_of(Note("Caroline: hi")) == "caroline" and speaker_of(Note("no speaker here")) == ""


def test_recall_is_the_default_and_composed_names_are_known() -> None:
    assert DEFAULT_RETRIEVER == "recall"
    assert is_retriever("contextual+late+hop") and is_retriever("recall")
    assert not is_retriever("contextual+nonsense") and not is_retriever("dense+late")


def test_recall_finds_the_second_hop_with_the_real_model(tmp_path: Path, embedder) -> None:
    """The friend who gave the painting is named in one note and her city in another, sessions apart;
    the question names neither the friend nor the city."""
    settings = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(settings, embedder)
    lines = ["Caroline: Priya surprised me with a watercolour of a lighthouse for my birthday.",
             "Melanie: That's such a thoughtful present.",
             *[f"{'Caroline' if i % 2 else 'Melanie'}: {text}" for i, text in enumerate(
                 ["The trains were cancelled again.", "I made a huge pot of soup.", "Work is a circus this week.",
                  "My cousin keeps sending photos from her trip.", "Quiz night at the pub down the road.",
                  "It hasn't stopped raining for three days.", "I finally hung the shelves.",
                  "Did you see the news about the bridge closure?", "My phone screen cracked.",
                  "We ordered pizza three nights in a row."])],
             "Melanie: How's Priya doing these days?",
             "Caroline: Good! Priya packed everything up and moved to Porto for a fresh start."]
    MemoryPipeline(store, settings, None).add_many([NewItem(t) for t in lines], mode="fast")
    question = "Where does the friend who gave Caroline the watercolour live now?"

    def rank(name: str) -> int:
        hits = make_retriever(store, settings, name).search(question, 10)
        return next(h.rank for h in hits if h.note.content == lines[-1])

    hits = make_retriever(store, settings, "recall").search(question, 2)
    assert [h.note.content for h in hits] == [lines[0], lines[-1]]
    assert hits[1].signals["hop"] == 1.0 and any(r.startswith("hop: shares a name") for r in hits[1].reasons)
    assert rank("contextual") > rank("recall")


def test_recall_answers_about_the_speaker_the_question_names_with_the_real_model(tmp_path: Path, embedder) -> None:
    """Both friends lost something on the way to work; the question names one of them."""
    settings = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(settings, embedder)
    filler = ["The trains were cancelled again.", "I made a huge pot of soup.", "Quiz night at the pub.",
              "It hasn't stopped raining for three days.", "My phone screen cracked.", "We ordered pizza again."]
    lines = ["Melanie: I left my wallet on the night bus yesterday. Idiot.",
             "Caroline: I left my umbrella on the ferry this morning, of course.",
             *[f"{'Caroline' if i % 2 else 'Melanie'}: {text}" for i, text in enumerate(filler * 3)]]
    MemoryPipeline(store, settings, None).add_many([NewItem(t) for t in lines], mode="fast")
    def top(retriever: str, name: str) -> Hit:
        return make_retriever(store, settings, retriever).search(f"What did {name} leave behind on the way somewhere?",
                                                                  1)[0]

    for name, line in (("Caroline", lines[1]), ("Melanie", lines[0])):
        assert top("recall", name).note.content == line, name
        assert f"speaker: said by {name}, whom the question names" in top("recall", name).reasons
    # without the step, one of the two gets the other's line first
    assert top("contextual+names+late+hop", "Melanie").note.content == lines[1]


def test_the_warm_up_fills_the_token_cache_of_notes_no_import_made(embedder) -> None:
    """A store opened anew has no token vectors; a search reranks with what is cached and starts the
    warm-up, which fills the cache in the background."""
    from memory_core.retrieval.late import TokenCache, late_text

    notes = {n.id: n for n in (Note(f"note number {i} about the garden") for i in range(5))}
    cache = TokenCache()
    assert cache.get(embedder, notes, list(notes), late_text, max_new=0) == {}
    cache.warm(embedder, notes, late_text)
    thread = cache._warmer
    assert thread is not None
    thread.join(timeout=30)
    assert len(cache) == 5 and 0 < cache.bytes_per_note() < 386 * 16
