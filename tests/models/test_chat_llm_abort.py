"""The abort check of a background model call, on the real bundled model.

Why real: the interruptible prefill drives llama-cpp-python's KV cache directly (the prompt read in
chunks, then generation from the matching prefix); only the real model shows that this gives the
same answer as an ordinary call, that a call stopped halfway leaves the model usable, and that it
stops within one chunk or token of being asked to.
"""

from __future__ import annotations

import pytest

from memory_core.models.llm import PREFILL_CHUNK, Interrupted

pytestmark = pytest.mark.real_model

MESSAGES = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Write three short sentences about a dog named Biscuit who likes the sea, "
                                        "the sand, the wind and long walks on the beach with his family."}]
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def test_an_abortable_call_answers_exactly_like_an_ordinary_one(real_llm) -> None:
    plain = real_llm.chat(MESSAGES, max_tokens=24, temperature=0.0).text
    real_llm.llama.reset()
    checked = real_llm.chat(MESSAGES, max_tokens=24, temperature=0.0, abort=lambda: False).text
    assert checked == plain and plain.strip()


def test_a_call_stops_within_a_chunk_of_its_prompt_or_a_token_and_the_model_stays_usable(real_llm) -> None:
    real_llm.llama.reset()
    checks = {"n": 0}

    def abort_on_second() -> bool:
        checks["n"] += 1
        return checks["n"] >= 2

    with pytest.raises(Interrupted):
        real_llm.chat(MESSAGES, max_tokens=24, temperature=0.0, abort=abort_on_second)
    # it stopped in the prompt: at most one chunk was read after the first check
    assert real_llm.llama.n_tokens <= PREFILL_CHUNK
    pieces: list[str] = []
    seen = {"n": 0}

    def abort_after_three_tokens() -> bool:
        seen["n"] = len(pieces)
        return len(pieces) >= 3

    stream = real_llm.stream(MESSAGES, max_tokens=24, temperature=0.0, abort=abort_after_three_tokens)
    with pytest.raises(Interrupted):
        for piece in stream:
            pieces.append(piece)
    assert len(pieces) == 3  # stopped at the next token
    real_llm.llama.reset()
    again = real_llm.chat(MESSAGES, max_tokens=24, temperature=0.0).text
    assert again == real_llm.chat(MESSAGES, max_tokens=24, temperature=0.0, abort=lambda: False).text
    result = real_llm.structured([{"role": "user", "content": "My dog is called Biscuit. Give his name as JSON."}],
                                 SCHEMA, lambda d: (d if isinstance(d, dict) and d.get("name") else None, []),
                                 lambda: {"name": "?"}, max_tokens=24, abort=lambda: False)
    assert result.source != "fallback" and result.value["name"]
