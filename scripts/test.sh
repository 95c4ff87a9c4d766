#!/usr/bin/env bash
# Set up, then run the whole test suite offline against the shared benchmark data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${TEXTGNN_VENV:-.venv}"
export TEXTGNN_DATA="${TEXTGNN_DATA:-$(cd .. && pwd)/shared/data}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
"$VENV/bin/python" -m ruff check .
"$VENV/bin/python" -m pytest "$@"
