#!/usr/bin/env bash
# Scale benchmark of mast (the project's issue 14): on news20-, rcv1-, url- and epsilon-shaped
# files from `mast data synth`, side by side and as ratios: Algorithm 1 (II) at batch 32 and
# K = d/2, d/100 (mast vs a numba loop vs SciPy), `mast erm` vs LIBLINEAR, mast's loader vs
# scikit-learn's, and the cost of a step as n, d, nonzeros a row and K grow.
#
#   bench/scale/run.sh [--data-dir DIR] [--sections steps,loaders,erm,sweep]
#   bench/scale/run.sh --smoke      tiny shapes, every section, well under a minute once built
#
# Writes bench/scale/results/{scale.md,scale.csv,scale.json,scale.png} (--smoke:
# bench/scale/results/smoke/). The generated data goes to bench/scale/data/ (not committed;
# reused when there). Installs missing Debian packages first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
SMOKE=0
DATA_DIR=bench/scale/data
PASS=()
while (($#)); do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --data-dir) DATA_DIR="$2"; shift ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    *) PASS+=("$1") ;;
  esac
  shift
done
START=$(date +%s)

# 1. Peers from Debian's packages, for Debian's Python.
PY=/usr/bin/python3
PKGS=(python3-numpy python3-scipy python3-numba python3-sklearn python3-matplotlib
  liblinear-tools time)
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

# 2. mast in release: the CLI, the peers_dsgd bench binary, and scale_step where it exists.
echo "== building mast (release)"
cargo build -q --release -p mast-cli
bench_bin() {
  cargo bench -p mast --bench "$1" --no-run 2>&1 \
    | sed -n "s/.*Executable .*(\(.*$1-[^)]*\)).*/\1/p" | tail -1
}
MAST_BENCH=$(bench_bin peers_dsgd)
[[ -x "$MAST_BENCH" ]] || { echo "could not build the peers_dsgd bench binary" >&2; exit 1; }
EXTRA=()
if [[ -f crates/mast/benches/scale_step.rs ]]; then
  SCALE_STEP=$(bench_bin scale_step)
  [[ -x "$SCALE_STEP" ]] && EXTRA+=(--scale-step "$SCALE_STEP")
fi

# 3. The sections.
if ((SMOKE)); then
  OUT=bench/scale/results/smoke
  EXTRA+=(--smoke)
  DATA_DIR="$DATA_DIR/smoke"
else
  OUT=bench/scale/results
fi
"$PY" bench/scale/scale.py --mast-bin target/release/mast --mast-bench "$MAST_BENCH" \
  --python "$PY" --data-dir "$DATA_DIR" --out "$OUT" "${EXTRA[@]}" "${PASS[@]}"
echo "== runner took $(( $(date +%s) - START )) s (build included)"
