#!/usr/bin/env bash
# Peer benchmark for networks (issue 17): mast-nn against PyTorch CPU on the MNIST MLP
# 784-256-256-10 (batch 128): step times of plain SGD, MAST Bernoulli 0.5, MAST
# neuron-level 0.5 and Dropout 0.5 in interleaved rounds, and test accuracy after the
# same epochs. See README.md beside this file.
#
#   bench/peers-nn/run.sh [--smoke] [ARGS for peers_nn.py, e.g. --rounds 9 --epochs 5]
#
# Builds mast-nn's device_step bench (release), runs peers_nn.py with Debian's python3
# (python3-torch), writes bench/peers-nn/results/peers-nn.{md,csv,json}
# (--smoke: a few steps and one epoch, into results/smoke/).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY=/usr/bin/python3
EXTRA=()
for arg in "$@"; do
  case "$arg" in
    --smoke) EXTRA+=(--rounds 1 --block 3 --warmup 1 --epochs 1 --out bench/peers-nn/results/smoke) ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) EXTRA+=("$arg") ;;
  esac
done
"$PY" -c 'import torch, numpy' 2>/dev/null || {
  echo "run.sh: Debian's python3 lacks torch or numpy: apt-get install python3-torch python3-numpy" >&2
  exit 2
}
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
