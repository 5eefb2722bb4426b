"""`memex bench store` runs end to end at a tiny size and reports every figure it promises.

Not a timed test (speed goals live in the benchmark's output): this checks that each figure is
there and consistent with what was done, so the benchmark cannot silently stop measuring.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.real_model
def test_bench_store_reports_every_figure(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = subprocess.run([sys.executable, "-m", "memory_core.cli", "bench", "store", "--sizes", "60,90",
                          "--synthetic-above", "60", "--edits", "25", "--queries", "4", "--data-dir", str(home)],
                         capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "edits of one note" in out.stdout and "bytes/note" in out.stdout
    res = json.loads((home / "bench" / "store-latest.json").read_text())
    real, synthetic = res["sizes"]["60"], res["sizes"]["90"]
    assert real["ingest"]["kind"] == "real" and synthetic["ingest"]["kind"] == "synthetic"
    assert real["notes"] == 60 and synthetic["notes"] == 90
    assert real["ingest"]["embed_seconds"] > 0 and synthetic["ingest"]["embed_seconds"] == 0
    assert 0 < real["embed_share"] < 1 and synthetic["links"] > 0
    for block in (real, synthetic):
        assert block["cold_open"]["notes"] == block["notes"], block["cold_open"]
        assert block["bytes_per_note"] > 0
        for name in ("dense", "bm25", "hybrid+links", "default"):
            assert 0 < block["search_ms"][name]["p50"] <= block["search_ms"][name]["p95"]
    edits = res["edits"]
    assert edits["edits"] == 25 and edits["history_len"] >= 25 and edits["ratio_last10_to_first10"] > 0 and edits["median_ratio"] > 0
