"""Algorithm 1 (II) of MAST — minibatch double-sketched SGD with Rand-K, v = 0,
x⁰ = 0 — as the strongest plain-Python loop: CSR arrays, a partial Fisher–Yates
draw of Ω (K swaps on a persistent index array, which gives a uniform K-subset
whatever the array's order) with a mark array for the membership test, and one
pass over the batch's nonzeros; compiled with numba's @njit. A step costs
O(K + nonzeros of the batch), not O(d):

    y = S x  (S = (d/K)·I_Ω),  r_i = −b_i / (1 + exp(b_i a_iᵀy)),
    x_Ω ← x_Ω (1 − γ λ (d/K)²) − γ (d/K) (A_Bᵀ r / b)_Ω."""

import numpy as np
from numba import njit

from common import best_of, full_loss, load, parse_args, report


@njit(cache=True)
def _train(indptr, indices, values, labels, lam, gamma, k, batch, epochs, d):
    n = labels.shape[0]
    x = np.zeros(d)
    pool = np.arange(d)
    mark = np.zeros(d, np.bool_)
    r = np.zeros(batch)
    scale = d / k
    shrink = 1.0 - gamma * lam * scale * scale
    for _ in range(epochs):
        order = np.random.permutation(n)
        for t in range(n // batch):
            # Ω: a partial Fisher–Yates draw of K of the d coordinates.
            for i in range(k):
                j = i + np.random.randint(d - i)
                pool[i], pool[j] = pool[j], pool[i]
                mark[pool[i]] = True
            # Residuals of the batch at y = S x.
            for s in range(batch):
                row = order[t * batch + s]
                m = 0.0
                for p in range(indptr[row], indptr[row + 1]):
                    j = indices[p]
                    if mark[j]:
                        m += values[p] * x[j]
                m *= scale
                b = labels[row]
                r[s] = -b / (1.0 + np.exp(b * m)) / batch
            # x_Ω ← x_Ω (1 − γλ(d/K)²) − γ (d/K) (A_Bᵀ r)_Ω.
            for i in range(k):
                x[pool[i]] *= shrink
            for s in range(batch):
                row = order[t * batch + s]
                c = gamma * scale * r[s]
                for p in range(indptr[row], indptr[row + 1]):
                    j = indices[p]
                    if mark[j]:
                        x[j] -= c * values[p]
            for i in range(k):
                mark[pool[i]] = False
    return x


def main():
    args = parse_args(__doc__)
    a, labels = load(args.data)
    n, d = a.shape
    lam = args.lam if args.lam is not None else 1.0 / n
    ip, ix, vals = a.indptr.astype(np.int64), a.indices.astype(np.int64), a.data
    # Compile (or load numba's cache) outside the timed runs.
    _train(ip[:3], ix[: ip[2]], vals[: ip[2]], labels[:2], lam, args.gamma, 1, 1, 1, d)

    def run():
        np.random.seed(args.seed)
        return _train(ip, ix, vals, labels, lam, args.gamma, args.k, args.batch, args.epochs, d)

    seconds, x = best_of(args.repeats, run)
    report("numba", args, n, d, lam, seconds, full_loss(a, labels, x, lam))


if __name__ == "__main__":
    main()
