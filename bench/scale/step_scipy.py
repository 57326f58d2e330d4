"""Algorithm 1 (II) of MAST — minibatch double-sketched SGD with Rand-K, v = 0,
x⁰ = 0 — as a researcher writes it with NumPy and SciPy: the design in SciPy CSR
form, Ω from `Generator.choice(d, K, replace=False)`, one vectorised step per
minibatch (dense d-vectors for y and the gradient, as `A_Bᵀ r` returns):

    y = S x,  g = A_Bᵀ r / b + λ y,  x_Ω ← x_Ω − γ (d/K) g_Ω."""

import numpy as np

from common import best_of, full_loss, load, parse_args, report


def train(a, labels, lam, gamma, k, batch, epochs, seed):
    n, d = a.shape
    rng = np.random.default_rng(seed)
    x = np.zeros(d)
    y = np.zeros(d)
    scale = d / k
    for _ in range(epochs):
        perm = rng.permutation(n)
        for t in range(n // batch):
            idx = perm[t * batch : (t + 1) * batch]
            omega = rng.choice(d, k, replace=False)  # Rand-K
            y[:] = 0.0
            y[omega] = scale * x[omega]
            ab, bb = a[idx], labels[idx]
            r = -bb / (1.0 + np.exp(bb * (ab @ y)))
            g = ab.T @ r / batch
            x[omega] -= gamma * scale * (g[omega] + lam * y[omega])
    return x


def main():
    args = parse_args(__doc__)
    a, labels = load(args.data)
    n, d = a.shape
    lam = args.lam if args.lam is not None else 1.0 / n
    with np.errstate(over="ignore"):
        seconds, x = best_of(
            args.repeats,
            lambda: train(a, labels, lam, args.gamma, args.k, args.batch, args.epochs, args.seed),
        )
    report("scipy", args, n, d, lam, seconds, full_loss(a, labels, x, lam))


if __name__ == "__main__":
    main()
