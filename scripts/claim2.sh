#!/usr/bin/env bash
# Claim study v2's long computations, in the order they unblock each other; resumable: rerun it
# after a kill or in a new session and finished trials and runs are kept (a trial or run cut
# off is redone). Two lanes, each pinned to one core at low priority:
#   lane 0: the baselines that need no search on the sentence datasets and R8 (minutes to an
#           hour: the bars every table needs), the sentence searches on TREC and CoLA, the R8
#           search, then the whole study (configs/claim2.yaml; a cell whose search has not
#           finished fails at once with its missing config named, and is tried again by the
#           next pass);
#   lane 1: the sentence searches on MR and SST-2, then the 20NG and Ohsumed searches.
# Only lane 0 runs the study: one process writes a study (a second is refused).
#
#   bash scripts/claim2.sh            # both lanes in the background; logs in runs/claim2-lane*.log
#   bash scripts/claim2.sh 1          # one lane in the foreground
#   CLAIM2_CORES="2 3" bash scripts/claim2.sh   # other cores for lanes 0 and 1
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
source "${TEXTGNN_VENV:-.venv}/bin/activate"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
: "${TEXTGNN_DATA:?set TEXTGNN_DATA to the directory holding mr/, sst2/, ... (see README)}"
export TEXTGNN_DATA
read -r -a cores <<< "${CLAIM2_CORES:-0 1}"

lane() {
  local core=${cores[$1]}
  run() { taskset -c "$core" nice -n 10 python -m textgnn "$@"; }
  if [ "$1" = 0 ]; then
    run experiment configs/claim2.yaml --match '*/tfidf-lr-*' --datasets mr sst2 trec cola r8
    run experiment configs/claim2.yaml --match '*/wide-mlp--*' --datasets mr sst2 trec cola r8
    run tune configs/tune/sentences.yaml --datasets trec cola
    run tune configs/tune/documents.yaml --datasets r8
    run experiment configs/claim2.yaml || echo "claim2: some runs failed (see results/claim2/failures.jsonl)"
  else
    run tune configs/tune/sentences.yaml --datasets mr sst2
    run tune configs/tune/documents.yaml --datasets 20ng ohsumed
  fi
}

if [ $# -ge 1 ]; then
  lane "$1"
else
  mkdir -p runs
  for l in 0 1; do
    nohup bash "$0" "$l" > "runs/claim2-lane$l.log" 2>&1 &
    echo "lane $l on core ${cores[$l]}: pid $!, log runs/claim2-lane$l.log"
  done
fi
