"""The model manager's listing: GGUF headers read right, every known folder searched, each file once.

The folders are fakes made in a temporary HOME, but the files in them are real GGUFs written with
the ``gguf`` package (and the bundled SmolLM2 file itself), so the header reader meets real layouts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, LlamaFileType
from ggufs import write_gguf

from memory_core.cli import main
from memory_core.config import Settings
from memory_core.errors import ModelError
from memory_core.models import list_local_models, read_gguf_info
from memory_core.models.gguf_info import params_label
from memory_core.models.llm import bundled_model_path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake HOME with none of the model folders; the tool-specific variables unset."""
    home = tmp_path / "userhome"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.mark.real_model  # reads the bundled GGUF
def test_header_of_the_bundled_model_matches_gguf_reader() -> None:
    """Our fast reader against the gguf package's own GGUFReader on a real 98 MB model."""
    path = bundled_model_path()
    info = read_gguf_info(path)
    reader = GGUFReader(str(path))

    def field(name: str):
        return reader.fields[name].contents()

    tokens = reader.fields["tokenizer.ggml.tokens"]
    assert info.architecture == field("general.architecture") == "llama"
    assert info.name == field("general.name")
    assert info.context_length == field("llama.context_length") == 8192
    assert info.quantisation == LlamaFileType(field("general.file_type")).name.removeprefix("MOSTLY_") == "Q4_1"
    assert info.parameters == sum(int(np.prod(t.shape)) for t in reader.tensors)
    assert info.size_label == "135M"
    assert info.chat_template == field("tokenizer.chat_template")
    assert info.bos_token == tokens.contents(field("tokenizer.ggml.bos_token_id"))
    assert info.eos_token == tokens.contents(field("tokenizer.ggml.eos_token_id")) == "<|im_end|>"
    assert info.size_bytes == path.stat().st_size and not info.embedding and not info.error


def test_written_gguf_header_facts(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", arch="qwen2", name="Qwen Tiny", context=32768,
                      file_type=int(LlamaFileType.MOSTLY_Q8_0), shapes=((1000, 1000), (500, 1000)))
    info = read_gguf_info(path)
    assert (info.architecture, info.name, info.context_length, info.quantisation) == ("qwen2", "Qwen Tiny", 32768,
                                                                                       "Q8_0")
    assert info.parameters == 1_500_000 and info.size_label == "1.5M"
    assert info.bos_token == "<s>" and info.eos_token == "</s>"


def test_quantisation_falls_back_to_the_tensor_types(tmp_path: Path) -> None:
    info = read_gguf_info(write_gguf(tmp_path / "m.gguf", file_type=None))
    assert info.quantisation == "F16"


def test_embedding_model_is_marked(tmp_path: Path) -> None:
    info = read_gguf_info(write_gguf(tmp_path / "e.gguf", arch="bert", template=None))
    assert info.embedding and not info.usable and not info.chat_template


@pytest.mark.parametrize("kind", ["not-gguf", "truncated", "empty", "version"])
def test_bad_files_give_a_message_naming_the_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "bad.gguf"
    good = write_gguf(tmp_path / "good.gguf").read_bytes()
    path.write_bytes({"not-gguf": b"PK\x03\x04" + b"\0" * 100, "truncated": good[:200], "empty": b"",
                      "version": b"GGUF" + (99).to_bytes(4, "little") + good[8:]}[kind])
    with pytest.raises(ModelError) as err:
        read_gguf_info(path)
    assert str(path) in str(err.value)


def test_params_label() -> None:
    assert [params_label(n) for n in (0, 950, 134_515_008, 494_032_768, 1_543_714_304, 12_000_000_000)] == \
        ["", "950", "135M", "494M", "1.5B", "12B"]


def make_folders(home: Path, data: Path) -> dict[str, Path]:
    """One real GGUF in each place other tools keep them, plus things that must not be listed."""
    made: dict[str, Path] = {}
    made["data"] = write_gguf(data / "models" / "mine-Q4_K_M.gguf", name="Mine")
    (data / "models" / "mine-Q4_K_M.gguf.origin.json").write_text(json.dumps({"repo_id": "me/mine-GGUF"}))
    (data / "models" / "half.gguf.part").write_bytes(b"GGUF" + b"\0" * 10)  # an interrupted download
    (data / "models" / "readme.txt").write_text("not a model")
    made["truncated"] = data / "models" / "broken.gguf"
    made["truncated"].write_bytes(made["data"].read_bytes()[:100])

    repo = home / ".cache" / "huggingface" / "hub" / "models--Qwen--Qwen2.5-0.5B-Instruct-GGUF"
    blob = write_gguf(repo / "blobs" / ("a" * 64), arch="qwen2", name="Qwen2.5 0.5B Instruct", context=32768)
    snap = repo / "snapshots" / ("c" * 40)
    snap.mkdir(parents=True)
    (snap / "qwen2.5-0.5b-instruct-q4_k_m.gguf").symlink_to(blob)
    (snap / "config.json").write_text("{}")
    made["hf"] = snap / "qwen2.5-0.5b-instruct-q4_k_m.gguf"

    ollama = home / ".ollama" / "models"
    digest = "b" * 64
    made["ollama"] = write_gguf(ollama / "blobs" / f"sha256-{digest}", name="Llama 3.2 1B Instruct", context=131072)
    (ollama / "blobs" / f"sha256-{'d' * 64}").write_text("LLAMA 3.2 COMMUNITY LICENSE")  # a licence layer
    manifest = ollama / "manifests" / "registry.ollama.ai" / "library" / "llama3.2" / "1b"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [
        {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}"},
        {"mediaType": "application/vnd.ollama.image.license", "digest": f"sha256:{'d' * 64}"}]}))

    made["lmstudio"] = write_gguf(home / ".lmstudio" / "models" / "lmstudio-community" / "gemma" / "gemma-3-1b.gguf",
                                  arch="gemma3", name="Gemma 3 1B")
    made["lmstudio-cache"] = write_gguf(home / ".cache" / "lm-studio" / "models" / "x" / "phi.gguf", arch="phi3")
    made["gpt4all"] = write_gguf(home / ".local" / "share" / "nomic.ai" / "GPT4All" / "orca-mini.gguf")
    made["embedding"] = write_gguf(home / ".local" / "share" / "nomic.ai" / "GPT4All" / "nomic-embed.gguf",
                                   arch="nomic-bert", template=None)
    return made


def test_listing_finds_every_folder_and_reads_each_header(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = make_folders(home, data)
    models = list_local_models(Settings(data_dir=str(data)))
    by_path = {m.path: m for m in models}
    assert models[0].source == "bundled" and Path(models[0].path) == bundled_model_path()
    expected = {"data": "data dir", "truncated": "data dir", "hf": "Hugging Face cache", "ollama": "Ollama",
                "lmstudio": "LM Studio", "lmstudio-cache": "LM Studio", "gpt4all": "GPT4All", "embedding": "GPT4All"}
    for key, source in expected.items():
        assert str(made[key]) in by_path, f"{key} ({made[key]}) not listed: {list(by_path)}"
        assert by_path[str(made[key])].source == source
    assert len(models) == 1 + len(expected)  # nothing else: no .part, no .txt, no licence blob, no config.json
    assert by_path[str(made["data"])].repo_id == "me/mine-GGUF"
    hf = by_path[str(made["hf"])]
    assert (hf.repo_id, hf.architecture, hf.context_length, hf.name) == \
        ("Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2", 32768, "Qwen2.5 0.5B Instruct")
    assert by_path[str(made["ollama"])].name == "llama3.2:1b"
    assert by_path[str(made["ollama"])].context_length == 131072
    assert by_path[str(made["lmstudio"])].architecture == "gemma3"
    assert by_path[str(made["embedding"])].embedding
    assert "damaged or truncated" in by_path[str(made["truncated"])].error
    assert all(not m.error for p, m in by_path.items() if p != str(made["truncated"]))
    chat_only = list_local_models(Settings(data_dir=str(data)), include_embedding=False)
    assert str(made["embedding"]) not in {m.path for m in chat_only} and len(chat_only) == len(models) - 1


def test_environment_variables_move_the_folders(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hf_home = tmp_path / "hf"
    snap = hf_home / "hub" / "models--org--repo" / "snapshots" / ("e" * 40)
    model = write_gguf(snap / "sub" / "m.gguf")
    ollama = tmp_path / "ollama-models"
    blob = write_gguf(ollama / "blobs" / f"sha256-{'f' * 64}")
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("OLLAMA_MODELS", str(ollama))
    models = {m.path: m for m in list_local_models(Settings(data_dir=str(tmp_path / "d")))}
    assert models[str(model)].repo_id == "org/repo"
    assert models[str(blob)].source == "Ollama" and models[str(blob)].name == "Tiny Test"  # no manifest: own name


def test_a_file_reachable_twice_is_listed_once(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    real = write_gguf(home / ".lmstudio" / "models" / "a" / "m.gguf")
    (data / "models").mkdir(parents=True)
    os.symlink(real, data / "models" / "m.gguf")
    models = list_local_models(Settings(data_dir=str(data)))
    assert sum(1 for m in models if Path(m.path).resolve() == real.resolve()) == 1


def test_header_cache_sees_a_replaced_file(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = write_gguf(data / "models" / "m.gguf", context=1024)
    s = Settings(data_dir=str(data))
    assert next(m for m in list_local_models(s) if m.path == str(path)).context_length == 1024
    write_gguf(path, context=2048, shapes=((64, 64),))  # a different size: a new cache key
    assert next(m for m in list_local_models(s) if m.path == str(path)).context_length == 2048


def test_cli_models_json(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    made = make_folders(home, data)
    assert main(["models", "--json", "--data-dir", str(data)]) == 0
    out = json.loads(capsys.readouterr().out)
    paths = {m["path"]: m for m in out["models"]}
    assert str(made["hf"]) in paths and paths[str(made["hf"])]["quantisation"] == "Q4_K_M"
    current = [m for m in out["models"] if m["current"]]
    assert len(current) == 1 and current[0]["source"] == "bundled"  # no model_path set: the bundled one
    assert {s["source"] for s in out["searched"]} >= {"data dir", "Hugging Face cache", "Ollama", "LM Studio",
                                                      "GPT4All"}
    assert "chat_template" not in current[0] and current[0]["has_chat_template"] is True

    assert main(["models", "list", "--chat-only", "--data-dir", str(data)]) == 0
    text = capsys.readouterr().out
    assert "llama3.2:1b" in text and "nomic-embed" not in text and "unreadable" in text


def test_cli_models_marks_the_configured_model(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    made = make_folders(home, data)
    Settings(data_dir=str(data), model_path=str(made["data"])).save()
    assert main(["models", "--json", "--data-dir", str(data)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [m["path"] for m in out["models"] if m["current"]] == [str(made["data"])]


def test_cli_recommended_lists_real_repositories(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "recommended", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["key"] for r in rows} >= {"qwen2.5-0.5b", "qwen2.5-1.5b", "llama-3.2-1b", "llama-3.2-3b",
                                         "smollm2-360m", "smollm2-1.7b", "gemma-3-1b"}
    for r in rows:
        assert r["filename"].endswith(".gguf") and "Q4_K_M" in r["filename"].upper() and "/" in r["repo_id"]
        assert 100_000_000 < r["size_bytes"] < 3_000_000_000


def test_cli_download_with_a_bad_key_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["models", "download", "no-such-model", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "recommended keys" in err and "qwen2.5-0.5b" in err
