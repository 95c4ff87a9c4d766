#!/usr/bin/env bash
# Set up, then train the default config (GCN on dependency graphs of MR) and print test metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${TEXTGNN_VENV:-.venv}"
export TEXTGNN_DATA="${TEXTGNN_DATA:-$(cd .. && pwd)/shared/data}"
"$VENV/bin/python" train.py --config configs/default.yaml "$@"
