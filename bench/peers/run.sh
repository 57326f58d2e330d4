#!/usr/bin/env bash
# Peer benchmark of mast (the project's issue 7): Algorithm 1 (II) against NumPy,
# SciPy and PyTorch, `mast erm` against LIBLINEAR, and the step-scaling bench.
#
#   bench/peers/run.sh [DATA]      DATA: a LIBSVM file (default ../shared/data/libsvm/a5a.t,
#                                  relative to the project root)
#   bench/peers/run.sh --smoke     every peer for a few steps on a tiny generated file
#
# Writes bench/peers/results/{peers.csv,peers.md,peers.png,peers.json,step_scaling.txt}
# (--smoke: bench/peers/results/smoke/). Installs missing Debian packages first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SMOKE=0
DATA=""
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) DATA="$arg" ;;
  esac
done
START=$(date +%s)

# 1. Peers from Debian's packages, for Debian's Python.
PY=/usr/bin/python3
PKGS=(python3-numpy python3-scipy python3-torch python3-matplotlib liblinear-tools hyperfine)
MISSING=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    MISSING+=("$p")
  fi
done
if ((${#MISSING[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO=sudo
  echo "== installing: ${MISSING[*]}"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${MISSING[@]}" >/dev/null
  echo "== installed: ${MISSING[*]}"
else
  echo "== peers already installed: ${PKGS[*]}"
fi

# 2. mast in release: the CLI and the peers_dsgd bench binary.
echo "== building mast (release)"
cargo build -q --release -p mast-cli
MAST_BENCH=$(cargo bench -p mast --bench peers_dsgd --no-run 2>&1 \
  | sed -n 's/.*Executable .*(\(.*peers_dsgd[^)]*\)).*/\1/p' | tail -1)
[[ -x "$MAST_BENCH" ]] || { echo "could not find the peers_dsgd bench binary" >&2; exit 1; }

# 3. The cells.
if ((SMOKE)); then
  OUT=bench/peers/results/smoke
  mkdir -p "$OUT"
  DATA="$OUT/tiny.svm"
  "$PY" bench/peers/make_tiny.py "$DATA"
  EXTRA=(--smoke --epochs-b32 2 --epochs-b256 2 --mast-min-time 0.05 --erm-runs 3 --peer-repeats 1)
else
  OUT=bench/peers/results
  DATA="${DATA:-../shared/data/libsvm/a5a.t}"
  EXTRA=()
fi
[[ -f "$DATA" ]] || { echo "no data file at $DATA" >&2; exit 1; }
"$PY" bench/peers/peers.py --data "$DATA" --out "$OUT" --python "$PY" \
  --mast-bin target/release/mast --mast-bench "$MAST_BENCH" "${EXTRA[@]}"
echo "== runner took $(( $(date +%s) - START )) s (build included)"
