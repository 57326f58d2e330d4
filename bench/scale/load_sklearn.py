"""Times scikit-learn's `load_svmlight_file` (a C parser) on a LIBSVM file: the best
of `--repeats` loads in this process, plus the import time; one JSON line."""

import argparse
import json
import time

t0 = time.perf_counter()
from sklearn.datasets import load_svmlight_file  # noqa: E402

import_s = time.perf_counter() - t0
p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--data", required=True)
p.add_argument("--repeats", type=int, default=1)
args = p.parse_args()
best = float("inf")
for _ in range(args.repeats):
    start = time.perf_counter()
    a, y = load_svmlight_file(args.data)
    best = min(best, time.perf_counter() - start)
print(json.dumps({"impl": "sklearn", "seconds": best, "import_s": import_s, "n": a.shape[0],
                  "d": a.shape[1], "nnz": int(a.nnz)}), flush=True)
