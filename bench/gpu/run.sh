#!/usr/bin/env bash
# GPU step benchmark (issue 17): the MNIST MLP 784-256-256-10 and the small ResNet
# (channels 16, 32), batch 128, plain SGD, MAST Bernoulli 0.5 and Dropout 0.5, a fixed
# number of steps on the CPU and on CUDA; prints ms/step and the GPU/CPU ratio as a
# markdown table (and PyTorch on the same CPU and GPU for the MLP, if python3 has torch).
#
#   bench/gpu/run.sh [--cpu-only] [--bin PATH] [--data ROOT] [--out DIR]
#                    [--mlp-steps 100] [--resnet-steps 20] [--device cuda]
#
#   --bin   mast-nn's device_step bench binary, built with `--features cuda` (see
#           bench/gpu/README.md); default: the newest target/release/deps/device_step-*
#   --data  the folder holding images/mnist (default ../shared/data beside the project)
#   --out   where gpu.md and gpu.tsv go (default $OUT if set, else bench/gpu/results)
#
# Needs no network and no Rust toolchain: only the prebuilt binary and the data. Each
# measurement is capped (timeout) so that the whole script stays under 5 minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CPU_ONLY=0
BIN=""
DATA="$ROOT/../shared/data"
DEST="${OUT:-$ROOT/bench/gpu/results}"
MLP_STEPS=100
RESNET_STEPS=20
GPU=cuda
while (($#)); do
  case "$1" in
    --cpu-only) CPU_ONLY=1 ;;
    --bin) BIN="$2"; shift ;;
    --data) DATA="$2"; shift ;;
    --out) DEST="$2"; shift ;;
    --mlp-steps) MLP_STEPS="$2"; shift ;;
    --resnet-steps) RESNET_STEPS="$2"; shift ;;
    --device) GPU="$2"; shift ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z "$BIN" ]]; then
  BIN=$(ls -t target/release/deps/device_step-* 2>/dev/null | grep -v '\.d$' | head -1 || true)
fi
[[ -x "$BIN" ]] || { echo "run.sh: no device_step binary (build it: see bench/gpu/README.md)" >&2; exit 2; }
[[ -f "$DATA/images/mnist/train-images-idx3-ubyte.gz" ]] || {
  echo "run.sh: no MNIST under $DATA/images/mnist" >&2; exit 2; }
mkdir -p "$DEST"
# cudarc loads libcuda and NVRTC at run time; cubecl-cuda reads CUDA's headers from
# CUDA_PATH (default /usr/local/cuda).
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64:/usr/local/cuda/lib64"
METHODS="erm,bernoulli:0.5,dropout:0.5"
TSV="$DEST/gpu.tsv.tmp"
: > "$TSV"
START=$(date +%s)
echo "== $(date -u '+%F %T UTC'), $(nproc) CPU threads, binary $BIN"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

measure() { # LABEL TIMEOUT CMD...
  local label="$1" limit="$2"; shift 2
  local t0=$(date +%s) out
  if out=$(timeout "$limit" "$@" 2> "$DEST/stderr.tmp"); then
    grep '^RESULT' <<< "$out" >> "$TSV" || true
    echo "-- $label: $(( $(date +%s) - t0 )) s"
  else
    echo "-- $label FAILED (exit $?, $(( $(date +%s) - t0 )) s); its stderr ends with:"
    tail -5 "$DEST/stderr.tmp" | sed 's/^/   /'
  fi
}

DEVICES=(cpu)
((CPU_ONLY)) || DEVICES+=("$GPU")
for dev in "${DEVICES[@]}"; do
  measure "mlp on $dev" 90 "$BIN" time --device "$dev" --model mlp --methods "$METHODS" \
    --steps "$MLP_STEPS" --warmup 10 --data "$DATA"
  measure "resnet on $dev" 120 "$BIN" time --device "$dev" --model resnet --methods "$METHODS" \
    --steps "$RESNET_STEPS" --warmup 3 --block 5 --data "$DATA"
done
if python3 -c 'import torch' 2>/dev/null; then
  TORCH_DEVS=(cpu)
  ((CPU_ONLY)) || TORCH_DEVS+=(cuda)
  for dev in "${TORCH_DEVS[@]}"; do
    measure "PyTorch mlp on $dev" 60 python3 bench/peers-nn/torch_mlp.py time --device "$dev" \
      --methods "$METHODS" --steps "$MLP_STEPS" --warmup 10 --data "$DATA"
  done
else
  echo "-- no PyTorch for python3: its column stays empty"
fi
rm -f "$DEST/stderr.tmp"

# The table: one row per model and method.
TABLE="$DEST/gpu.md.tmp"
awk -F'\t' -v gpu="$GPU" -v when="$(date -u '+%F')" -v threads="$(nproc)" '
  { ms[$2 "|" $3 "|" $4] = $5; if (!($3 "|" $4 in seen)) { seen[$3 "|" $4] = 1; order[++n] = $3 "|" $4 } }
  function cell(k) { return (k in ms) ? sprintf("%.3f", ms[k]) : "—" }
  END {
    printf "Step time, batch 128 (median ms/step; %s; CPU: %s threads)\n\n", when, threads
    printf "| model | method | CPU | %s | %s / CPU | PyTorch CPU | PyTorch %s |\n", gpu, gpu, gpu
    print "|---|---|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      split(order[i], km, "|"); c = "cpu|" order[i]; g = gpu "|" order[i]
      r = (c in ms && g in ms && ms[c] > 0) ? sprintf("%.3f", ms[g] / ms[c]) : "—"
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", km[1], km[2], cell(c), cell(g), r,
        cell("torch-cpu|" order[i]), cell("torch-" gpu "|" order[i])
    }
  }' "$TSV" > "$TABLE"
mv "$TSV" "$DEST/gpu.tsv"
mv "$TABLE" "$DEST/gpu.md"
echo
cat "$DEST/gpu.md"
echo
echo "== $(( $(date +%s) - START )) s; table in $DEST/gpu.md, raw lines in $DEST/gpu.tsv"
