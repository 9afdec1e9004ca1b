#!/usr/bin/env bash
# The GPU check, one script, under 5 minutes on one GPU: the GPU-marked tests, then the batched
# trainer on CUDA: K = 1 against K = 16 and 64 trials per hour, fp32 against bf16 autocast, for the
# quickstart's MLP student and mnist's resnet8 student (BatchNorm, random crops, the view bank).
# Run from a checkout with tempopt installed (pip install -e '.[test]') and a CUDA build of torch.
set -euo pipefail
cd "$(dirname "$0")/.."
python - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device: this check needs a GPU"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}")
PY
echo "== GPU-marked tests"
python -m pytest -q -p no:cacheprovider -m gpu tests
echo "== batched trials on CUDA"
python benchmarks/batched.py --device cuda -k 16 64 --precision fp32 bf16 --repeats 3 --no-study --tasks quickstart mnist
