"""Overhead of fitting from Python against the same run through mast's Rust API.

Both sides run the a5a job of examples/a5a.toml (Algorithm 1 (I), Rand-K q=0.5,
λ = 1/n, 10% validation, a run folder written), in one process, alternating:

- Rust: ``mast._core.train_config_file`` — pure Rust, GIL released, timed inside
  Rust: ``TrainConfig::load`` + ``mast::run::train`` (loading the LIBSVM file
  included), exactly what ``mast train --config`` runs;
- Python: ``mast.load_svmlight`` + ``MastLogisticRegression(...).fit`` timed by
  ``time.perf_counter`` around the Python calls (argument checks, conversion,
  the same training job, building ``history_``/``theory_``).

    python bench/python/overhead.py [--steps 3000] [--repeats 7]

Prints the medians and their ratio (target ≤ 1.05); both runs give the same
metrics (checked).
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import mast
from mast import _core

ROOT = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--data", default=str(ROOT / "data" / "a5a.gz"))
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mast-bench-"))
    cfg = tmp / "a5a.toml"
    cfg.write_text(f"""seed = 42
sketch = "rand-k:0.5"
[data]
train = "{a.data}"
val_fraction = 0.1
[objective]
loss = "logistic"
lambda = "1/n"
[algorithm]
method = "dsgd"
variant = "exact"
steps = {a.steps}
eval_every = 25
[output]
dir = "{tmp / 'rust'}"
""")
    rust, py = [], []
    for _ in range(a.repeats):
        secs, rust_metrics = _core.train_config_file(str(cfg))
        rust.append(secs)
        t = time.perf_counter()
        X, y = mast.load_svmlight(a.data)
        m = mast.MastLogisticRegression(sketch="rand-k:0.5", keep_prob=None, steps=a.steps, eval_every=25,
                                        val_fraction=0.1, random_state=42, output_dir=str(tmp / "py")).fit(X, y)
        py.append(time.perf_counter() - t)
        r = [row["loss"] for row in json.loads(rust_metrics)]
        assert list(m.history_["loss"]) == r, "Python and Rust runs differ"
    mr, mp = statistics.median(rust), statistics.median(py)
    print(f"a5a, {a.steps} steps, {a.repeats} runs each (median):")
    print(f"  Rust API  (mast::run::train)           {mr:.3f} s   runs {', '.join(f'{s:.3f}' for s in rust)}")
    print(f"  Python    (load_svmlight + fit)        {mp:.3f} s   runs {', '.join(f'{s:.3f}' for s in py)}")
    print(f"  ratio Python / Rust                    {mp / mr:.3f}")


if __name__ == "__main__":
    main()
