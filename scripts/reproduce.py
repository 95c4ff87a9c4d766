"""Retrain recorded study runs from their recorded configs and compare with the record.

    python scripts/reproduce.py results/claim 'mr/transformer-complete/seed0' [KEY ...]
                                [--set train.threads=1]

Each run trains in a new process through ``train.py`` (the command a user would type) in a
temporary directory; prints one JSON line per key with the recorded and the retrained test
metrics and whether every test prediction is the same. Exit status 1 if any differs.

Bit for bit holds on the same CPU kernels (``cost.cpu`` of a run's metrics): where the record
names another CPU, or none (recorded before runs named it), the line adds ``recorded_on`` and
``retrained_on``, since other kernels round differently: torch's of another vector width, or
Intel MKL's on another CPU vendor or model (``cost.cpu.mkl``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("study", type=Path, help="a study's results directory (holds runs.jsonl)")
    parser.add_argument("keys", nargs="+", help="run keys, e.g. mr/gcn-window/seed0")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a recorded key, e.g. the number of "
                        "threads of a run recorded before the study recorded it")
    args = parser.parse_args()
    records = {}
    for line in (args.study / "runs.jsonl").read_text().splitlines():
        record = json.loads(line)
        records[record["key"]] = record
    same = True
    for key in args.keys:
        if key not in records:
            parser.error(f"{key}: no such run in {args.study / 'runs.jsonl'}")
        record = records[key]
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.yaml"
            config.write_text(yaml.safe_dump(record["config"]))
            overrides = [a for o in args.overrides for a in ("--set", o)]
            proc = subprocess.run([sys.executable, "train.py", "--config", str(config), "--out",
                                   str(Path(tmp) / "run"), "--quiet", *overrides], cwd=REPO,
                                  capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 2
            metrics = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
        labels = record["labels"]
        predictions = [labels.index(p) for p in metrics["test"]["predictions"]]
        result = {"key": key, "recorded": record["test"]["accuracy"],
                  "retrained": metrics["test"]["accuracy"],
                  "same_predictions": predictions == record["test_predictions"]}
        recorded_on, here = (record.get("cost") or {}).get("cpu"), metrics["cost"]["cpu"]
        # on the fields the record names: one made before a field was recorded still counts
        # as made on this CPU when every field it has agrees
        if not recorded_on or any(here.get(k) != v for k, v in recorded_on.items()):
            result |= {"recorded_on": recorded_on or "not recorded", "retrained_on": here}
        same &= result["recorded"] == result["retrained"] and result["same_predictions"]
        print(json.dumps(result), flush=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
