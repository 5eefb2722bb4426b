"""When Settings may switch models (memory_core.models.switch): the embedder rule, without a page."""

from __future__ import annotations

from pathlib import Path

from memory_core.config import Settings
from memory_core.models.switch import EMBEDDING_FIELDS, LLM_FIELDS, changed, embedder_switch_problem


def test_which_fields_belong_to_which_model(tmp_path: Path) -> None:
    s = Settings(data_dir=str(tmp_path))
    assert not changed(s.replace(temperature=1.5), s, LLM_FIELDS + EMBEDDING_FIELDS)
    assert changed(s.replace(n_ctx=4096), s, LLM_FIELDS) and not changed(s.replace(n_ctx=4096), s, EMBEDDING_FIELDS)
    assert changed(s.replace(embedding_backend="gguf", embedding_model_path="e.gguf"), s, EMBEDDING_FIELDS)


def test_the_embedder_is_not_switched_under_notes_and_a_bad_file_is_refused(tmp_path: Path) -> None:
    s = Settings(data_dir=str(tmp_path))
    other = s.replace(embedding_backend="gguf", embedding_model_path=str(tmp_path / "missing.gguf"))
    assert embedder_switch_problem(s, s, notes_held=12) is None  # nothing changes: nothing to refuse
    problem = embedder_switch_problem(other, s, notes_held=12)
    assert problem and problem.startswith("The memory holds 12 notes embedded with the current embedding model")
    assert "export your notes" in problem
    assert "1 note embedded" in str(embedder_switch_problem(other, s, notes_held=1))
    empty = embedder_switch_problem(other, s, notes_held=0)  # an empty memory: the new model is checked
    assert empty and "missing.gguf" in empty and "The memory holds" not in empty
