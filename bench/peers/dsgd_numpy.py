"""Algorithm 1 (II) of MAST — minibatch double-sketched SGD with Rand-K — in NumPy
on a dense design matrix, written as a researcher would: one vectorised step per
minibatch, v = 0, x⁰ = 0.

    S = Diag(d/K on a uniform K-subset Ω, 0 elsewhere)
    y = S x                                   (the sketched model, v = 0)
    g = S ∇f_B(y),  f_B = minibatch logistic loss + (λ/2)‖·‖²
    x ← x − γ g

Each epoch reshuffles the samples and takes ⌊n/b⌋ batches without replacement."""

import numpy as np

from common import best_of, dense_matrix, full_loss, load_libsvm, parse_args, report, theory_gamma


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
            ab, bb = a[idx], labels[idx]
            r = -bb / (1.0 + np.exp(bb * (ab @ y)))  # ℓ'(a_iᵀy) per sample
            g = ab.T @ r / batch + lam * y
            x -= gamma * (s * g)
    return x


def main():
    args = parse_args(__doc__)
    indptr, indices, values, labels, d = load_libsvm(args.data)
    a = dense_matrix(indptr, indices, values, d)
    n = a.shape[0]
    lam = args.lam if args.lam is not None else 1.0 / n
    gamma = args.gamma if args.gamma is not None else theory_gamma(a, lam, d, args.k)
    with np.errstate(over="ignore"):
        seconds, x = best_of(
            args.repeats,
            lambda: train(a, labels, lam, gamma, args.k, args.batch, args.epochs, args.seed),
        )
    report("numpy", args, n, d, lam, gamma, seconds, full_loss(a, labels, x, lam))


if __name__ == "__main__":
    main()
