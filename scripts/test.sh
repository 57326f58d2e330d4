#!/usr/bin/env bash
# The project's test command: the Rust workspace, then the Python package
# (crates/mast-py) built into a fresh virtual environment and tested by pytest.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --python   # only the Python part (builds the package)
#
# The Python part needs python3 (≥ 3.10) with venv, and PyPI for maturin, numpy,
# scipy, scikit-learn, pandas and pytest. Where Debian's /usr/bin/python3 has
# PyTorch (apt python3-torch), the venv is made from it with its system
# packages, so the mast.torch tests run; elsewhere they are skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "${1:-}" != "--python" ]; then
  echo "== cargo test --workspace"
  cargo test --workspace
fi

echo "== Python: build crates/mast-py into a fresh virtual environment"
venv="${MAST_PY_VENV:-$root/target/py-venv}"
rm -rf "$venv"
py=python3
venv_flags=""
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch, venv, ensurepip" >/dev/null 2>&1; then
  py=/usr/bin/python3
  venv_flags="--system-site-packages"
  echo "   (with PyTorch from $py)"
fi
"$py" -m venv $venv_flags "$venv"
# numpy < 2 keeps a system PyTorch built against NumPy 1.x working.
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "numpy<2" "scipy>=1.8" "scikit-learn>=1.6" pandas pytest
# The README's install command, into the fresh environment.
# A dev-profile build reuses what `cargo test --workspace` just compiled (CI: minutes
# saved); set MATURIN_PEP517_ARGS="" for the release build that `pip install` makes by default.
export MATURIN_PEP517_ARGS="${MATURIN_PEP517_ARGS---profile dev}"
"$venv/bin/pip" install -q "$root/crates/mast-py"

echo "== pytest crates/mast-py/tests"
cli="$root/target/debug/mast"
[ -x "$cli" ] && export MAST_CLI="$cli"
cd "$root/crates/mast-py"
"$venv/bin/python" -m pytest -q -rs -p no:cacheprovider tests
