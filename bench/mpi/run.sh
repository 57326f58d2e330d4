#!/usr/bin/env bash
# Algorithm 2 over MPI: wall time per round with 1 vs 2 ranks, and bytes per
# round with Perm-K vs the whole model (Identity). Each node's shard is
# ROWS × DIM dense f64 (default 25,000 × 1,000 = 200 MB), generated in memory by
# each rank from the seed. Needs libopenmpi-dev, openmpi-bin, libclang-dev.
#
#   bench/mpi/run.sh                    # the full bench (≥ 200 MB per node)
#   ROWS=2500 bench/mpi/run.sh          # a quick one (20 MB per node)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${ROWS:-25000}
DIM=${DIM:-1000}
ROUNDS=${ROUNDS:-20}
THREADS=${THREADS:-1}
exe=$(cargo bench -p mast --features mpi --bench mpi_round --no-run 2>&1 \
  | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
[ -x "$exe" ] || { echo "could not build the mpi_round bench" >&2; exit 1; }
run() { # ranks sketch rows
  mpirun --allow-run-as-root --oversubscribe -np "$1" \
    -x RAYON_NUM_THREADS="$THREADS" -x MAST_BENCH_SKETCH="$2" -x MAST_BENCH_ROWS="$3" \
    -x MAST_BENCH_DIM="$DIM" -x MAST_BENCH_ROUNDS="$ROUNDS" "$exe"
}
echo "# weak scaling: one node of $ROWS x $DIM per rank"
run 1 perm-k "$ROWS"
run 2 perm-k "$ROWS"
run 2 identity "$ROWS"
echo "# strong scaling: the same $((2 * ROWS)) rows on 1 rank, then on 2"
run 1 perm-k "$((2 * ROWS))"
echo "# bytes per round with 4 ranks (small shards: bytes do not depend on rows)"
run 4 perm-k 500
run 4 identity 500
