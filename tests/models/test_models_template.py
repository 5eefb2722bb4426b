"""Every model's own chat template is used, and its turn markers never leak into replies.

The real-model test re-packages the bundled SmolLM2 GGUF with a Gemma 3 chat template (the gguf
package's copy-with-new-metadata logic): llama-cpp-python does not guess that template, so it
formats prompts with the file's own Jinja template — and SmolLM2, which does not know the Gemma
markers as tokens, answers "<end_of_turn>\\nBruno is …" (the control below shows it does). The
replies through LocalLLM must carry no marker.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ggufs import CHATML, GEMMA3, copy_with_template

from memory_core.models import read_gguf_info
from memory_core.models.llm import LocalLLM, bundled_model_path
from memory_core.models.template import TemplateGuard

LLAMA3 = ("{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
          "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")
MISTRAL = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + "
           "message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + "
           "eos_token }}{% endif %}{% endfor %}")
GEMMA2_NO_SYSTEM = ("{% for message in messages %}{% if message['role'] == 'system' %}{{ raise_exception("
                    "'System role not supported') }}{% endif %}{{ '<start_of_turn>' + message['role'] + '\\n' + "
                    "message['content'] + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}"
                    "{{ '<start_of_turn>model\\n' }}{% endif %}")
MARKERS = {"<start_of_turn>", "<end_of_turn>", "<|im_start|>", "<|im_end|>", "<|eot_id|>"}


@pytest.mark.parametrize("template,bos,eos,expected", [
    (CHATML, "", "<|im_end|>", {"<|im_start|>", "<|im_end|>"}),
    (GEMMA3, "<bos>", "<eos>", {"<bos>", "<start_of_turn>", "<end_of_turn>", "<eos>"}),
    (LLAMA3, "<|begin_of_text|>", "<|eot_id|>", {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                                                   "<|eot_id|>"}),
    (MISTRAL, "<s>", "</s>", {"<s>", "[INST]", "[/INST]", "</s>"}),
    (GEMMA2_NO_SYSTEM, "<bos>", "<eos>", {"<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>"}),
    ("{% broken", "", "", set()),
])
def test_markers_are_read_from_the_template(template: str, bos: str, eos: str, expected: set[str]) -> None:
    assert set(TemplateGuard.from_template(template, bos=bos, eos=eos).markers) == expected


@pytest.mark.parametrize("pieces,expected", [
    (["<end_of_turn>\nBruno is", " a dog."], "Bruno is a dog."),
    (["<end_", "of_turn>", "\n", "Bru", "no."], "Bruno."),
    (["Bruno.", "<end_of", "_turn>\n<start_of_turn>user\nmore"], "Bruno."),
    (["Bruno.<end_of_turn>", "never shown"], "Bruno."),
    (["a < b and <end is not a marker"], "a < b and <end is not a marker"),
    (["Ends with a partial <start_of"], "Ends with a partial <start_of"),
    (["<start_of_turn>model\n", "Hi!"], "model\nHi!"),  # a role name is text: only markers are dropped
    (["<end_of_turn>"], ""),
    ([], ""),
])
def test_the_guard_over_split_pieces(pieces: list[str], expected: str) -> None:
    guard = TemplateGuard.from_template(GEMMA3)
    info: dict[str, str] = {}
    assert "".join(guard.filter(iter(pieces), info)) == expected
    if "more" in "".join(pieces) or "never shown" in "".join(pieces):
        assert info["finish_reason"] == "stop"


def test_a_stopped_reply_closes_the_generation() -> None:
    closed: list[bool] = []

    def generation():
        try:
            yield "Bruno.<end_of_turn>"
            yield "the model would go on"
        finally:
            closed.append(True)

    assert "".join(TemplateGuard.from_template(GEMMA3).filter(generation())) == "Bruno."
    assert closed == [True]


def test_a_template_without_markers_changes_nothing() -> None:
    guard = TemplateGuard.from_template("{% for m in messages %}{{ m['content'] }}\n{% endfor %}")
    assert guard.markers == () and list(guard.filter(iter(["<x>", " y "]))) == ["<x>", " y "]


# ---- the real model -----------------------------------------------------------------------------------
QUESTIONS = ["My dog is called Bruno. What is my dog's name?", "Say hello.", "List three fruits."]


@pytest.fixture(scope="module")
def gemma_templated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_with_template(bundled_model_path(), tmp_path_factory.mktemp("tpl") / "smollm2-gemma3-template.gguf",
                              GEMMA3, name="SmolLM2 with a Gemma 3 template")


@pytest.mark.real_model
def test_the_files_own_template_is_used_and_its_markers_do_not_leak(gemma_templated: Path) -> None:
    info = read_gguf_info(gemma_templated)
    assert info.chat_template == GEMMA3 and info.name == "SmolLM2 with a Gemma 3 template"
    llm = LocalLLM(gemma_templated, n_ctx=1024, n_threads=2)
    # llama-cpp-python did not recognise the template, so it formats with the GGUF's own Jinja text:
    assert llm.llama.chat_format == "chat_template.default"
    assert llm.llama.metadata["tokenizer.chat_template"] == GEMMA3
    assert {"<start_of_turn>", "<end_of_turn>"} <= set(llm.guard.markers)

    leaked_raw = 0
    for q in QUESTIONS:
        messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": q}]
        raw = llm.llama.create_chat_completion(messages=messages, max_tokens=40, temperature=0.0, seed=42)
        leaked_raw += any(m in raw["choices"][0]["message"]["content"] for m in MARKERS)
        reply = llm.chat(messages, max_tokens=40, temperature=0.0).text
        assert not any(m in reply for m in MARKERS), f"{q!r}: {reply!r}"
        assert reply.strip(), f"{q!r}: empty reply"
    assert leaked_raw >= 1  # the control: without the guard the markers do reach the text


@pytest.mark.real_model
def test_the_bundled_models_replies_are_unchanged(real_llm: LocalLLM) -> None:
    """SmolLM2's own ChatML markers are end-of-generation tokens: the guard has nothing to remove."""
    assert set(real_llm.guard.markers) >= {"<|im_start|>", "<|im_end|>"}
    for q in QUESTIONS[1:]:
        messages = [{"role": "user", "content": q}]
        raw = real_llm.llama.create_chat_completion(messages=messages, max_tokens=40, temperature=0.0, seed=42,
                                                    repeat_penalty=1.15)
        reply = real_llm.chat(messages, max_tokens=40, temperature=0.0).text
        assert reply == raw["choices"][0]["message"]["content"].strip()
