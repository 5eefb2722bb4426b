"""The built wheel is the whole program: every subpackage and asset, and `memex` runs from it.

Why this test exists: `pip install .` once produced a package without `memory_core.bench`, and
every `memex` command crashed, while the editable install used by the tests hid the problem. So the
wheel is built from a copy of the work tree, installed into a fresh virtual environment, and run
from a folder outside the repository, where only the installed copy can be imported.

No download: the fresh venv gets the wheel with ``--no-deps --no-index``; its third-party
dependencies (torch, chromadb, llama-cpp-python, ...) come from the project's .venv through a
one-line ``.pth`` path entry (a plain path line: the .venv's own ``.pth`` files, among them the
editable install of this repo, are not processed, so the repo never leaks in).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.server  # builds a wheel and a fresh virtual environment

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "memory_core"
SKIP_DIRS = {"__pycache__", ".venv", ".git", "build", "dist", ".pytest_cache", ".ruff_cache", "test-artifacts"}


def _ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n in SKIP_DIRS or n.endswith((".egg-info", ".pyc"))}


def repo_modules_and_assets() -> tuple[set[str], set[str]]:
    """Paths (relative to the repo, posix) of every module and every non-Python file under memory_core/."""
    modules, assets = set(), set()
    for path in PACKAGE.rglob("*"):
        if not path.is_file() or any(part in SKIP_DIRS for part in path.relative_to(REPO).parts):
            continue
        rel = path.relative_to(REPO).as_posix()
        if path.suffix == ".pyc":
            continue
        (modules if path.suffix == ".py" else assets).add(rel)
    return modules, assets


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a clean copy of the work tree (no stale build/ folder can leak in)."""
    root = tmp_path_factory.mktemp("pkg")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=_ignore)
    out = root / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "--no-index", "-w", str(out), str(src)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheels = list(out.glob("memex-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_every_module_subpackage_and_asset(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules, assets = repo_modules_and_assets()
    subpackages = {str(Path(m).parent.as_posix()) for m in modules}
    assert "memory_core/bench" in subpackages and "memory_core/explore" in subpackages and "memory_core/memory" in subpackages
    assert not modules - names, f"modules missing from the wheel: {sorted(modules - names)}"
    assert not assets - names, f"data files missing from the wheel: {sorted(assets - names)}"
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "memex = memory_core.cli:entry" in zipfile.ZipFile(wheel).read(entry).decode()


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding only the wheel, with the .venv's dependencies on its path."""
    venv = tmp_path_factory.mktemp("venv") / "fresh"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    py = venv / "bin" / "python"
    inst = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stdout[-2000:] + inst.stderr[-2000:]
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    deps = sysconfig.get_paths()["purelib"]  # the project's .venv (this interpreter's site-packages)
    assert Path(deps).resolve() != Path(site).resolve()
    # Added after the install, so pip never saw (or tried to replace) the editable memex in the .venv.
    (Path(site) / "zz_memex_test_deps.pth").write_text(deps + "\n", encoding="utf-8")
    return venv


def run_installed(venv: Path, *args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def test_installed_copy_is_what_runs(fresh_venv: Path, tmp_path: Path) -> None:
    code = "import memory_core, memory_core.bench.store, memory_core.memory.pipeline; print(memory_core.__file__)"
    out = run_installed(fresh_venv, str(fresh_venv / "bin" / "python"), "-c", code, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    where = Path(out.stdout.strip()).resolve()
    assert where.is_relative_to(fresh_venv.resolve()), where
    assert not where.is_relative_to(REPO)


def test_memex_doctor_quick_and_bench_help_from_the_wheel(fresh_venv: Path, tmp_path: Path) -> None:
    memex = str(fresh_venv / "bin" / "memex")
    home = tmp_path / "home"
    doctor = run_installed(fresh_venv, memex, "doctor", "--quick", "--json", "--data-dir", str(home), cwd=tmp_path)
    assert doctor.returncode == 0, doctor.stdout[-2000:] + doctor.stderr[-2000:]
    report = json.loads(doctor.stdout)
    assert report["ok"], report
    bench = run_installed(fresh_venv, memex, "bench", "store", "--help", cwd=tmp_path)
    assert bench.returncode == 0 and "--sizes" in bench.stdout, bench.stderr[-2000:]


@pytest.mark.real_model
def test_memex_add_and_search_from_the_wheel(fresh_venv: Path, tmp_path: Path) -> None:
    memex = str(fresh_venv / "bin" / "memex")
    home = str(tmp_path / "home")
    added = run_installed(fresh_venv, memex, "add", "--mode", "fast", "--json", "--data-dir", home,
                          "The Pergamon museum in Berlin reopens in spring", cwd=tmp_path)
    assert added.returncode == 0, added.stderr[-2000:]
    note_id = json.loads(added.stdout)["note"]["id"]
    found = run_installed(fresh_venv, memex, "search", "Pergamon", "--json", "--data-dir", home, cwd=tmp_path)
    assert found.returncode == 0, found.stderr[-2000:]
    assert json.loads(found.stdout)[0]["id"] == note_id
