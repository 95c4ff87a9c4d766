"""``20ng``: peak resident memory and test accuracy of training on 20 Newsgroups' window
graphs, in a child process that reports its own high-water mark."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, figure, log

# Yao et al. 2019 (TextGCN), 20NG test accuracy: one corpus graph over train and test documents
TEXTGCN_20NG = 86.34
# The child reports its own high-water mark (VmHWM of its address space): ru_maxrss of
# children would also count the parent's pages shared between fork and exec.
PEAK_LAUNCHER = """
import runpy, sys
peak_file = sys.argv.pop(1)
try:
    runpy.run_path("train.py", run_name="__main__")
finally:
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    open(peak_file, "w").write(hwm)
"""


def bench_20ng(max_train: int | None) -> tuple[dict, list[dict]]:
    """Peak RSS and test accuracy of a child process training configs/20ng/gcn-window.yaml
    to the end (``max_train``: a quick single epoch on that many posts)."""
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak_kb"
        cmd = [sys.executable, "-c", PEAK_LAUNCHER, str(peak_file), "--config",
               "configs/20ng/gcn-window.yaml", "--quiet", "--out", str(Path(tmp) / "run")]
        if max_train:
            cmd += ["--set", f"data.max_train={max_train}", "--set", "train.epochs=1"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(proc.stderr[-2000:])
        seconds = time.perf_counter() - start
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        peak_gb = int(peak_file.read_text()) / 1024 ** 2
    accuracy = 100 * summary["test"]["accuracy"]
    detail = {"config": "configs/20ng/gcn-window.yaml", "peak_rss_gb": peak_gb,
              "seconds": seconds, "max_train": max_train, "epochs_run": summary.get("epochs_run"),
              "best_epoch": summary.get("best_epoch"), "test_accuracy": accuracy,
              "textgcn_test_accuracy": TEXTGCN_20NG}
    log(f"20ng window: peak RSS {peak_gb:.2f} GB, test accuracy {accuracy:.2f} in {seconds:.0f}s")
    return detail, [
        figure("20ng_window_training_peak_rss_gb", peak_gb, 4.0, higher_is_better=False,
               unit="GB"),
        figure(f"20ng_window_test_accuracy (TextGCN {TEXTGCN_20NG})", accuracy, None, unit="%"),
    ]


def run(quick: bool, out: Path) -> tuple[dict, list[dict]]:
    return bench_20ng(3000 if quick else None)
