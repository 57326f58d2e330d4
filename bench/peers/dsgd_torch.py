"""Algorithm 1 (II) of MAST — minibatch double-sketched SGD with Rand-K — in
PyTorch on the CPU, written as a researcher would: dense float64 tensors, the
sketched model y = S w built inside the graph, autograd for ∇_w f_B(S w) = S ∇f_B(y),
and torch.optim.SGD for w ← w − γ S ∇f_B(y). v = 0, w⁰ = 0.

float64 keeps the final loss comparable with the other implementations to many
digits; at d = 123 the step is dominated by per-operation overhead, not arithmetic."""

import os

import numpy as np
import torch
import torch.nn.functional as F

from common import best_of, dense_matrix, full_loss, load_libsvm, parse_args, report, theory_gamma


def train(a, labels, lam, gamma, k, batch, epochs, seed):
    n, d = a.shape
    gen = torch.Generator().manual_seed(seed)
    w = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=gamma)
    s = torch.zeros(d, dtype=torch.float64)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for t in range(n // batch):
            idx = perm[t * batch : (t + 1) * batch]
            s.zero_()
            s[torch.randperm(d, generator=gen)[:k]] = d / k  # Rand-K
            y = s * w
            # soft_margin_loss(m, b) = mean log(1 + exp(−b m)): the logistic loss.
            loss = F.soft_margin_loss(a[idx] @ y, labels[idx]) + 0.5 * lam * y.dot(y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.detach().numpy()


def main():
    args = parse_args(__doc__)
    torch.set_num_threads(args.threads or os.cpu_count())
    indptr, indices, values, labels, d = load_libsvm(args.data)
    a = dense_matrix(indptr, indices, values, d)
    n = a.shape[0]
    lam = args.lam if args.lam is not None else 1.0 / n
    gamma = args.gamma if args.gamma is not None else theory_gamma(a, lam, d, args.k)
    at, bt = torch.from_numpy(a), torch.from_numpy(labels)
    seconds, x = best_of(
        args.repeats, lambda: train(at, bt, lam, gamma, args.k, args.batch, args.epochs, args.seed)
    )
    loss = full_loss(a, labels, np.asarray(x, dtype=np.float64), lam)
    report("torch", args, n, d, lam, gamma, seconds, loss, threads=torch.get_num_threads())


if __name__ == "__main__":
    main()
