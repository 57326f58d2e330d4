"""Shared by the scale benchmark's peers: loading (scikit-learn's C parser, outside
the timed loop), the full training loss, flags and the JSON result line."""

import argparse
import json
import time

import numpy as np


def load(path):
    """(CSR matrix, labels in ±1) of a LIBSVM file; d is the largest index, as mast
    infers it, and the larger of the two labels maps to +1, as in mast."""
    from sklearn.datasets import load_svmlight_file

    a, raw = load_svmlight_file(str(path), dtype=np.float64)
    labels = np.where(raw == raw.max(), 1.0, -1.0)
    return a.tocsr(), labels


def full_loss(a, labels, x, lam):
    """f(x) = (1/n) Σ log(1 + exp(−b_i a_iᵀx)) + (λ/2)‖x‖²."""
    return float(np.mean(np.logaddexp(0.0, -labels * (a @ x))) + 0.5 * lam * x @ x)


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", required=True, help="LIBSVM training file")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--k", type=int, required=True, help="Rand-K: coordinates kept")
    p.add_argument("--epochs", type=int, default=1, help="epochs of ⌊n/batch⌋ steps")
    p.add_argument("--gamma", type=float, required=True, help="step size")
    p.add_argument("--lam", type=float, help="ℓ2 weight λ (default 1/n)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeats", type=int, default=2,
                   help="train this many times from x⁰ = 0 and report the fastest")
    return p.parse_args()


def best_of(repeats, train):
    """Runs train() `repeats` times (each from x⁰ = 0, same seed); returns the
    fastest wall time and the last result."""
    best, x = float("inf"), None
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        x = train()
        best = min(best, time.perf_counter() - start)
    return best, x


def report(name, args, n, d, lam, seconds, loss, **extra):
    """Prints the one JSON line the driver collects."""
    steps = args.epochs * (n // args.batch)
    line = {"impl": name, "batch": args.batch, "k": args.k, "n": n, "d": d, "lambda": lam,
            "gamma": args.gamma, "epochs": args.epochs, "steps": steps,
            "repeats": args.repeats, "ms_per_step": 1e3 * seconds / steps,
            "final_loss": loss}
    line.update(extra)
    print(json.dumps(line), flush=True)
