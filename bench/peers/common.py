"""Shared by the peer implementations: a LIBSVM reader, the full training loss,
the theory step size, command-line flags and the JSON result line.

Everything here is outside the timed loop (loading, set-up, the final loss)."""

import argparse
import gzip
import json
import time

import numpy as np


def load_libsvm(path):
    """(indptr, indices, values, labels, d) of a LIBSVM file, plain or .gz.

    Indices are 0-based; labels are mapped to -1 (the smaller value) and +1, and
    d is the largest feature index, as mast does."""
    opener = gzip.open if str(path).endswith(".gz") else open
    raw, indptr, indices, values = [], [0], [], []
    with opener(path, "rt") as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            raw.append(float(parts[0]))
            for tok in parts[1:]:
                j, v = tok.split(":")
                indices.append(int(j) - 1)
                values.append(float(v))
            indptr.append(len(indices))
    raw = np.array(raw)
    lo, hi = np.unique(raw)[[0, -1]]
    labels = np.where(raw == hi, 1.0, -1.0)
    d = max(indices) + 1
    return (np.array(indptr), np.array(indices), np.array(values), labels, d)


def dense_matrix(indptr, indices, values, d):
    """The n×d dense float64 design matrix."""
    n = len(indptr) - 1
    a = np.zeros((n, d))
    rows = np.repeat(np.arange(n), np.diff(indptr))
    a[rows, indices] = values
    return a


def full_loss(a, labels, x, lam):
    """f(x) = (1/n) Σ log(1 + exp(−b_i a_iᵀx)) + (λ/2)‖x‖² (a: dense or CSR)."""
    return float(np.mean(np.logaddexp(0.0, -labels * (a @ x))) + 0.5 * lam * x @ x)


def theory_gamma(a, lam, d, k):
    """γ = 1/(L_f L_S^max): L_f = λmax(AᵀA)/(4n) + λ, L_S^max = (d/K)² for Rand-K."""
    n = a.shape[0]
    ata = np.asarray(a.T @ a)
    if hasattr(ata, "toarray"):
        ata = ata.toarray()
    l_f = 0.25 * np.linalg.eigvalsh(ata)[-1] / n + lam
    return 1.0 / (l_f * (d / k) ** 2)


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", required=True, help="LIBSVM training file")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--k", type=int, required=True, help="Rand-K: coordinates kept")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--gamma", type=float, help="step size (default: the theory step)")
    p.add_argument("--lam", type=float, help="ℓ2 weight λ (default 1/n)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, help="torch: intra-op threads (default: all cores)")
    p.add_argument("--repeats", type=int, default=1,
                   help="train this many times from x⁰ = 0 and report the fastest")
    return p.parse_args()


def best_of(repeats, train):
    """Runs train() `repeats` times (each from scratch, same seed); returns the
    fastest wall time and the last result. Best-of-N damps a busy machine's noise."""
    best, x = float("inf"), None
    for _ in range(max(repeats, 1)):
        with Timer() as tm:
            x = train()
        best = min(best, tm.seconds)
    return best, x


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def report(name, args, n, d, lam, gamma, seconds, loss, **extra):
    """Prints the one JSON line the runner collects (the same fields as mast's)."""
    line = {
        "impl": name,
        "batch": args.batch,
        "k": args.k,
        "n": n,
        "d": d,
        "lambda": lam,
        "gamma": gamma,
        "epochs": args.epochs,
        "steps": args.epochs * (n // args.batch),
        "repeats": args.repeats,
        "epochs_per_s": args.epochs / seconds,
        "final_loss": loss,
    }
    line.update(extra)
    print(json.dumps(line), flush=True)
