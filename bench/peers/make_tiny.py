"""Writes a tiny LIBSVM file (600 rows, 40 sparse binary features, ±1 labels from a
planted linear model) for `run.sh --smoke` and quick checks of the peer scripts."""

import sys

import numpy as np

rng = np.random.default_rng(7)
n, d = 600, 40
w = rng.normal(size=d)
with open(sys.argv[1], "w") as fh:
    for _ in range(n):
        cols = np.sort(rng.choice(d, 6, replace=False))
        margin = w[cols].sum() + 0.5 * rng.normal()
        feats = " ".join(f"{j + 1}:1" for j in cols)
        fh.write(f"{1 if margin > 0 else -1} {feats} \n")
