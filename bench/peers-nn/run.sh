#!/usr/bin/env bash
# Peer benchmark for networks (issue 17): mast-nn against PyTorch CPU on the MNIST MLP
# 784-256-256-10 (batch 128): step times of plain SGD, MAST Bernoulli 0.5, MAST
# neuron-level 0.5 and Dropout 0.5 in interleaved rounds, and test accuracy after the
# same epochs. See README.md beside this file.
#
#   bench/peers-nn/run.sh [--smoke] [--python PY] [ARGS for peers_nn.py, e.g. --rounds 9]
#
# PyTorch: PyPI's wheel (MKL, oneDNN), in bench/peers-nn/.venv, made on first use:
#   python3 -m venv bench/peers-nn/.venv
#   bench/peers-nn/.venv/bin/pip install numpy && bench/peers-nn/.venv/bin/pip install --no-deps torch
# (--no-deps: the CUDA libraries are not needed on the CPU). Debian's python3-torch 1.13 is
# built with BLAS_INFO=generic (the reference BLAS): a 128×784×256 product takes 10 ms there
# against 0.8 ms with PyPI's wheel, so it is not what a practitioner would measure against;
# `--python /usr/bin/python3` still uses it.
#
# Builds mast-nn's device_step bench (release), runs peers_nn.py with Debian's python3
# (python3-torch), writes bench/peers-nn/results/peers-nn.{md,csv,json}
# (--smoke: a few steps and one epoch, into results/smoke/).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
VENV=bench/peers-nn/.venv
PY=""
EXTRA=()
while (($#)); do
  case "$1" in
    --smoke) EXTRA+=(--rounds 1 --block 3 --warmup 1 --epochs 1 --out bench/peers-nn/results/smoke) ;;
    --python) PY="$2"; shift ;;
    -h|--help) sed -n 2,19p "$0"; exit 0 ;;
    *) EXTRA+=("$1") ;;
  esac
  shift
done
if [[ -z "$PY" ]]; then
  PY="$VENV/bin/python"
  if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
    echo "== installing PyTorch (PyPI's wheel, CPU use only) into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy
    "$VENV/bin/pip" install -q --no-deps torch
  fi
fi
"$PY" -c 'import torch, numpy' 2>/dev/null || {
  echo "run.sh: $PY lacks torch or numpy (see the top of this script)" >&2
  exit 2
}
echo "== PyTorch: $("$PY" -c 'import torch; print(torch.__version__, "BLAS:", torch.__config__.show().split("BLAS_INFO=")[1].split(",")[0])')"
echo "== building mast-nn's device_step bench (release)"
BIN=$(cargo bench --no-run -p mast-nn --bench device_step --message-format=json 2>/dev/null |
  "$PY" -c 'import json, sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "device_step" and m.get("executable"):
        print(m["executable"])')
[[ -x "$BIN" ]] || { echo "run.sh: the device_step build failed (run the cargo command above)" >&2; exit 2; }
echo "== $BIN"
"$PY" bench/peers-nn/peers_nn.py --bin "$BIN" --data "$ROOT/../shared/data" "${EXTRA[@]}"
