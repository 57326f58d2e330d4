#!/usr/bin/env bash
# A longer fuzz campaign of the input parsers: the same properties as the quick
# `fuzz_*` tests that `cargo test` runs (crates/mast/tests/fuzz_*.rs,
# crates/mast-nn/tests/fuzz_loaders.rs), with many more inputs and a fresh
# proptest seed for every call.
#
#   scripts/fuzz.sh [MINUTES]        # default 10 (or $MAST_FUZZ_MINUTES)
#
# The time is shared equally among the targets (LIBSVM, IDX, digits CSV, sketch
# specs, the two TOML configs). Each target is called repeatedly with
# MAST_FUZZ_CASES inputs (adapted so that a call lasts about $MAST_FUZZ_CALL_S
# seconds, default 20) and MAST_FUZZ_SEED = base seed + call number; the base seed
# is $MAST_FUZZ_BASE_SEED (default: the current time) and is printed, so that any
# failure can be replayed:
#
#   MAST_FUZZ_SEED=<seed> MAST_FUZZ_CASES=<cases> cargo test -p <crate> --test <file> <target> -- --nocapture
#
# Other settings: MAST_FUZZ_PROFILE=release builds the test binaries optimised
# (default: the `test` profile, i.e. the binaries `cargo test` already built);
# MAST_FUZZ_OUT (default target/fuzz-campaign) receives one log per failing call.
#
# Prints, per target: inputs tried (including shrinking steps after a failure),
# calls, seconds and crashes (failed or panicking calls; the campaign passes only
# with 0); exits non-zero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes="${1:-${MAST_FUZZ_MINUTES:-10}}"
call_s="${MAST_FUZZ_CALL_S:-20}"
base_seed="${MAST_FUZZ_BASE_SEED:-$(date +%s)}"
out="${MAST_FUZZ_OUT:-target/fuzz-campaign}"
profile_flag=()
[[ "${MAST_FUZZ_PROFILE:-test}" == release ]] && profile_flag=(--release)
mkdir -p "$out"

now_ms() { date +%s%3N; }

# Builds the fuzz test binaries and prints their paths.
build() {
  local crate="$1"; shift
  local tests=()
  for t in "$@"; do tests+=(--test "$t"); done
  cargo test "${profile_flag[@]}" -p "$crate" "${tests[@]}" --no-run 2>&1 \
    | sed -n 's/^ *Executable .*(\(.*\))$/\1/p'
}

echo "fuzz campaign: ${minutes} min, base seed ${base_seed}, ~${call_s} s per call"
binaries=()
while read -r b; do binaries+=("$b"); done < <(
  build mast fuzz_libsvm fuzz_spec fuzz_train_config
  build mast-nn fuzz_loaders
)
[[ ${#binaries[@]} -eq 4 ]] || { echo "expected 4 fuzz test binaries, got: ${binaries[*]}" >&2; exit 2; }

# The regression tests first (quick), then the property targets (`fuzz_*`).
targets=()
for b in "${binaries[@]}"; do
  "$b" -q --skip fuzz_ >/dev/null 2>&1 || { echo "regression tests failed in $b" >&2; exit 1; }
  while read -r name; do targets+=("$b $name"); done < <("$b" --list --format terse 2>/dev/null | sed -n 's/^\(fuzz_[a-z0-9_]*\): test$/\1/p')
done
n=${#targets[@]}
slice_ms=$(( minutes * 60000 / n ))
echo "${n} targets, $(( slice_ms / 1000 )) s each"

declare -A inputs calls crashes elapsed
seed=$base_seed
total_crashes=0
start_all=$(now_ms)
for entry in "${targets[@]}"; do
  bin="${entry% *}"; test="${entry#* }"
  inputs[$test]=0; calls[$test]=0; crashes[$test]=0
  cases=500
  t0=$(now_ms)
  while (( $(now_ms) - t0 < slice_ms )); do
    seed=$(( seed + 1 ))
    log="$out/last.log"
    c0=$(now_ms)
    if MAST_FUZZ_SEED=$seed MAST_FUZZ_CASES=$cases "$bin" --exact "$test" --nocapture --test-threads=1 >"$log" 2>&1; then
      ok=1
    else
      ok=0
    fi
    took=$(( $(now_ms) - c0 ))
    tried=$(sed -n 's/.*fuzz-target [^:]*: \([0-9]*\) inputs.*/\1/p' "$log" | head -1)
    inputs[$test]=$(( ${inputs[$test]} + ${tried:-0} ))
    calls[$test]=$(( ${calls[$test]} + 1 ))
    if (( ok == 0 )); then
      crashes[$test]=$(( ${crashes[$test]} + 1 ))
      total_crashes=$(( total_crashes + 1 ))
      cp "$log" "$out/crash-$test-seed$seed-cases$cases.log"
      echo "CRASH in $test (MAST_FUZZ_SEED=$seed MAST_FUZZ_CASES=$cases): $out/crash-$test-seed$seed-cases$cases.log"
      grep -m1 -A3 "failed:" "$log" || true
    fi
    # Aim the next call at about call_s seconds, without running far past the slice.
    left=$(( slice_ms - ($(now_ms) - t0) ))
    aim=$(( call_s * 1000 < left ? call_s * 1000 : left ))
    (( aim < 500 )) && aim=500
    cases=$(( cases * aim / (took > 50 ? took : 50) ))
    (( cases < 50 )) && cases=50
    (( cases > 50000000 )) && cases=50000000
  done
  elapsed[$test]=$(( $(now_ms) - t0 ))
  printf '  %-36s %12d inputs %5d calls %5d.%01d s %3d crashes\n' "$test" "${inputs[$test]}" "${calls[$test]}" \
    $(( elapsed[$test] / 1000 )) $(( elapsed[$test] % 1000 / 100 )) "${crashes[$test]}"
done

total_inputs=0
for entry in "${targets[@]}"; do total_inputs=$(( total_inputs + ${inputs[${entry#* }]} )); done
total_s=$(( ($(now_ms) - start_all) / 1000 ))
echo "total: ${total_inputs} inputs in ${total_s} s over ${n} targets, ${total_crashes} crashes (base seed ${base_seed})"
(( total_crashes == 0 ))
