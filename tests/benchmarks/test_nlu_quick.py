"""`python -m benchmarks.nlu --quick` end to end: both pipelines trained by Rasa, every metric."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from benchmarks import nlu as bench_nlu
from bot import paths

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (bench_nlu.BENCHMARKS_DIR / "clinc150" / "data_full.json").is_file(),
        reason=f"benchmark data not found in {bench_nlu.BENCHMARKS_DIR}",
    ),
]

LATENCY = {"latency_ms_mean", "latency_ms_p50", "latency_ms_p95"}
OOS_METRICS = {"in_scope_accuracy", "oos_recall", "oos_precision"}


def test_quick_mode_trains_both_pipelines_and_reports_every_metric() -> None:
    command = [paths.main_python(), "-m", "benchmarks.nlu", "--quick"]
    done = subprocess.run(
        command, cwd=paths.ROOT, capture_output=True, text=True, env=dict(os.environ), timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    for dataset in ("clinc150-quick", "banking77-quick"):
        for pipeline in ("rasa-default", "ours"):
            result_file = bench_nlu.RESULTS_DIR / f"{dataset}--{pipeline}.json"
            result = json.loads(result_file.read_text())
            assert result["quick"] is True
            assert result["train_seconds"] > 0
            metrics = result["metrics"]
            assert {"accuracy", "macro_f1"} | LATENCY <= set(metrics)
            assert 0 <= metrics["accuracy"] <= 1
            if dataset.startswith("clinc150"):
                for mode in ("oos_rasa", "oos_intent", "oos_calibrated"):
                    assert set(metrics[mode]) == OOS_METRICS
                assert "calibrated_threshold" in metrics
            else:
                assert "oos_rasa" not in metrics
    # The table printed at the end names every pipeline and data set.
    for name in ("clinc150-quick", "banking77-quick", "rasa-default", "ours"):
        assert name in done.stdout
