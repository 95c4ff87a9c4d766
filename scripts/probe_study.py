"""The attention-syntax probe of RESULTS.md: five models on the MR and CoLA test sets.

    python scripts/probe_study.py [--out results/probe] [--limit N] [--study results/claim]

Our three models are retrained from the claim study's recorded configs (seed 0) into
``runs/probe/`` unless already there: the Transformer on the complete graph from scratch on
MR and on CoLA, and all-MiniLM-L6-v2 fine-tuned on MR. The two pretrained encoders are read
frozen. Every model is probed on both test sets (``python -m textgnn probe``), then
``<out>/RESULTS.md`` is written from the JSON results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TRAINED = {  # run directory under runs/probe -> the recorded run whose config it retrains
    "mr-transformer-complete": "mr/transformer-complete/seed0",
    "cola-transformer-complete": "cola/transformer-complete/seed0",
    "mr-finetune-minilm": "mr/finetune-none@minilm/seed0",
}
FROZEN = ("sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-mpnet-base-v2")
DATA = ("mr", "cola")


def main() -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--out", type=Path, default=REPO / "results/probe",
                        help="where the results and RESULTS.md go (default: results/probe)")
    parser.add_argument("--study", type=Path, default=REPO / "results/claim",
                        help="the study whose recorded configs are retrained and whose "
                             "dependency-graph gains the report relates to the probe")
    parser.add_argument("--runs", type=Path, default=REPO / "runs/probe",
                        help="where the retrained models' run directories go (default: runs/probe)")
    parser.add_argument("--limit", type=int, help="only the first N texts of each test set")
    args = parser.parse_args()
    records = {}
    for line in (args.study / "runs.jsonl").read_text().splitlines():
        record = json.loads(line)
        records[record["key"]] = record
    models = []
    for name, key in TRAINED.items():
        run = args.runs / name
        if (run / "config.yaml").is_file() and not (run / "model" / "model.safetensors").is_file():
            subprocess.run([sys.executable, "-m", "textgnn", "train", "--quiet", "--resume",
                            str(run)], check=True)  # a run killed mid-way continues
        elif not (run / "model" / "model.safetensors").is_file():
            args.runs.mkdir(parents=True, exist_ok=True)
            config = args.runs / f"{name}.yaml"
            config.write_text(yaml.safe_dump(records[key]["config"]))
            subprocess.run([sys.executable, "-m", "textgnn", "train", "--quiet", "--config",
                            str(config), "--out", str(run)], check=True)
        models.append(str(run / "model"))
    models += FROZEN
    for model in models:
        for data in DATA:
            command = [sys.executable, "-m", "textgnn", "probe", "--model", model, "--data", data,
                       "--out", str(args.out), "--study", str(args.study)]
            subprocess.run(command + (["--limit", str(args.limit)] if args.limit else []), check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
