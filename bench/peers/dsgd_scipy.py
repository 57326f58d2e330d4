"""Algorithm 1 (II) of MAST — minibatch double-sketched SGD with Rand-K — in NumPy
with the design matrix in SciPy CSR form (the natural container for LIBSVM data),
one vectorised step per minibatch, v = 0, x⁰ = 0. The same algorithm as
dsgd_numpy.py: y = S x, g = S ∇f_B(y), x ← x − γ g."""

import numpy as np
import scipy.sparse as sp

from common import best_of, full_loss, load_libsvm, parse_args, report, theory_gamma


def train(a, labels, lam, gamma, k, batch, epochs, seed):
    n, d = a.shape
    rng = np.random.default_rng(seed)
    x = np.zeros(d)
    s = np.zeros(d)
    scale = d / k
    for _ in range(epochs):
        perm = rng.permutation(n)
        for t in range(n // batch):
            idx = perm[t * batch : (t + 1) * batch]
            s[:] = 0.0
            s[rng.permutation(d)[:k]] = scale  # Rand-K
            y = s * x
            ab, bb = a[idx], labels[idx]  # CSR row slice
            r = -bb / (1.0 + np.exp(bb * (ab @ y)))
            g = ab.T @ r / batch + lam * y
            x -= gamma * (s * g)
    return x


def main():
    args = parse_args(__doc__)
    indptr, indices, values, labels, d = load_libsvm(args.data)
    n = len(indptr) - 1
    a = sp.csr_matrix((values, indices, indptr), shape=(n, d))
    lam = args.lam if args.lam is not None else 1.0 / n
    gamma = args.gamma if args.gamma is not None else theory_gamma(a, lam, d, args.k)
    with np.errstate(over="ignore"):
        seconds, x = best_of(
            args.repeats,
            lambda: train(a, labels, lam, gamma, args.k, args.batch, args.epochs, args.seed),
        )
    report("scipy", args, n, d, lam, gamma, seconds, full_loss(a, labels, x, lam))


if __name__ == "__main__":
    main()
