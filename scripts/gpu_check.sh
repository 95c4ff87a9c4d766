#!/usr/bin/env bash
# The checks a CPU-only CI cannot make, on a machine with a CUDA GPU and textgnn installed
# (TEXTGNN_DATA pointing at the datasets). Results as in README, "On a GPU".
#   1. the test suite with CUDA visible, so every training test runs there (device: auto);
#   2. deterministic training (train.deterministic, on by default): two same-seed CUDA runs
#      of CONFIG give identical metrics and test predictions;
#   3. a run killed after its second epoch and resumed ends with the uninterrupted metrics.
#     bash scripts/gpu_check.sh [CONFIG]   (default configs/mr/gcn-dependency.yaml, 6 epochs)
# Exits 1 if check 2 or 3 fails.
set -o pipefail
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
CONFIG="${1:-configs/mr/gcn-dependency.yaml}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || exit 1
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'" || exit 1
# pytest-xdist spreads the tests over the cores; without it they run one by one
workers=$(python -c "import xdist" 2>/dev/null && echo "-n ${JOBS:-15}")
timeout "${TEST_TIMEOUT:-900}" python -m pytest -v -p no:cacheprovider $workers \
    | grep -E "FAILED|ERROR|passed|failed"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
SET=(--set train.device=cuda --set train.epochs=6 --set train.patience=6)
metrics() {
  python -c "import json,sys; m=json.load(open(sys.argv[1])); print(json.dumps([m['dev'], m['test']]))" "$1/metrics.json"
}
python train.py --config "$CONFIG" "${SET[@]}" --out "$out/a" --quiet | tail -1
python train.py --config "$CONFIG" "${SET[@]}" --out "$out/b" --quiet | tail -1
status=0
if [ "$(metrics "$out/a")" = "$(metrics "$out/b")" ]; then echo "same seed, same metrics on CUDA: yes"
else echo "same seed, same metrics on CUDA: NO"; status=1; fi
python train.py --config "$CONFIG" "${SET[@]}" --out "$out/c" --quiet > /dev/null &
pid=$!
for _ in $(seq 1 1200); do  # history.csv: a header and one line per finished epoch
  [ "$(wc -l < "$out/c/history.csv" 2>/dev/null || echo 0)" -ge 3 ] && break
  sleep 0.5
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
python train.py --resume "$out/c" --quiet | tail -1
if [ "$(metrics "$out/a")" = "$(metrics "$out/c")" ]; then echo "killed and resumed = uninterrupted on CUDA: yes"
else echo "killed and resumed = uninterrupted on CUDA: NO"; status=1; fi
exit $status
