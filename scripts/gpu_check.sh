#!/usr/bin/env bash
# The checks a CPU-only CI cannot make, on a machine with a CUDA GPU and textgnn installed
# (TEXTGNN_DATA pointing at the datasets): the test suite with CUDA visible, so every
# training test runs there (train.device: auto), then real MR runs, transformer-complete
# twice to see whether the GPU repeats itself. Results as in README, "On a GPU".
set -o pipefail
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || exit 1
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'" || exit 1
# pytest-xdist spreads the tests over the cores; without it they run one by one
workers=$(python -c "import xdist" 2>/dev/null && echo "-n ${JOBS:-15}")
timeout "${TEST_TIMEOUT:-900}" python -m pytest -v -p no:cacheprovider $workers \
    | grep -E "FAILED|ERROR|passed|failed"
out=$(mktemp -d)
for run in transformer-complete:1 transformer-complete:2 gcn-dependency:1; do
    cfg=${run%:*}
    python train.py --config "configs/mr/$cfg.yaml" --out "$out/${cfg}-${run#*:}" --quiet | tail -1
done
