#!/usr/bin/env bash
# The checks of Claim study v2 that ran after claim2 itself, in order; resumable: rerun it after a
# kill or in a new session and finished trials and runs are kept (a run cut off continues from
# its last epoch). Every step is one that has nothing left to do once it has run:
#   1. claim2-16 (R8 and 20NG with every cell tuned with 16 trials): its runs left, on two
#      Dask workers over both cores;
#   2. the hybrid cell of configs/tune/documents.yaml (8 trials per dataset, as every cell):
#      20NG's trials on core 0 (the longest); meanwhile core 1 searches R8 and Ohsumed and
#      then trains their hybrid runs of configs/claim2-hybrid.yaml;
#   3. claim2-hybrid's runs left (20NG's), on both cores.
# Then commit the records with scripts/snapshot.py, which regenerates the reports.
#
#   bash scripts/checks.sh        # in the background; log in $CLAIM2_RUNS/checks.log
#   bash scripts/checks.sh run    # in the foreground
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${CLAIM2_RUNS:-$HOME/textgnn-runs}
if [ "${1:-}" != run ]; then
  mkdir -p "$runs"
  nohup bash "$0" run >> "$runs/checks.log" 2>&1 &
  echo "checks: pid $!, log $runs/checks.log"
  exit 0
fi
# shellcheck disable=SC1091
source "${TEXTGNN_VENV:-.venv}/bin/activate"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
: "${TEXTGNN_DATA:?set TEXTGNN_DATA to the directory holding mr/, sst2/, ... (see README)}"
export TEXTGNN_DATA

on() {  # on CORES COMMAND...: a textgnn command pinned to those cores, at low priority
  local cores=$1
  shift
  echo "$(date -u +%FT%TZ) cores $cores: $*"
  taskset -c "$cores" nice -n 10 python -m textgnn "$@" --runs "$runs"
}

# stop here if it did not end with every run recorded: a run failed (its error in
# results/claim2-16/failures.jsonl), or another process holds the study (the next steps
# would share its cores)
on 0,1 experiment configs/claim2-16.yaml --jobs 2 || { echo "checks: claim2-16 not done, stopping"; exit 1; }
(on 1 tune configs/tune/documents.yaml --datasets r8 ohsumed &&
   on 1 experiment configs/claim2-hybrid.yaml --datasets r8 ohsumed) &
on 0 tune configs/tune/documents.yaml --datasets 20ng
wait  # one process writes a study: claim2-hybrid's R8 and Ohsumed runs first
on 0,1 experiment configs/claim2-hybrid.yaml --jobs 2
echo "$(date -u +%FT%TZ) checks: done (python -m textgnn experiment configs/claim2-hybrid.yaml --plan --runs $runs)"
