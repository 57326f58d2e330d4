#!/usr/bin/env python3
"""The PyTorch peer of mast-nn's MNIST MLP 784-256-256-10: the step a practitioner writes.

`torch.nn.Linear` layers, `torch.nn.functional.cross_entropy`, `torch.optim.SGD`
(same lr and heavy-ball momentum as mast: v <- mom*v + g, v = g on the first step),
PyTorch's default Linear initialisation (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
and biases, as mast's). Methods, with masks drawn by `torch.bernoulli` every step:

  erm            plain training
  bernoulli:P    MAST Bernoulli: every weight matrix (not the biases) times m/P, m ~ B(P)
  neuron:P       MAST neuron-level: each hidden unit's weight row and bias times u/P, u ~ B(P)
  dropout:P      nn.Dropout(P) (P the DROP probability) after each hidden ReLU

Usable as a module (bench/peers-nn/peers_nn.py) or alone:

  python3 torch_mlp.py time  --device cpu|cuda --methods erm,bernoulli:0.5 --steps 100 [--data ROOT]
  python3 torch_mlp.py train --epochs 5 --methods erm [--data ROOT]

`time` prints `RESULT <TAB> torch-DEVICE <TAB> mlp <TAB> method <TAB> median ms/step <TAB> steps`
(the lines of mast-nn's `device_step` bench); `train` prints
`ACC <TAB> method <TAB> epoch <TAB> test accuracy <TAB> train seconds`.
"""

import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

BATCH = 128
POOL = 32


def read_idx(path):
    """An IDX file (gzipped) as a uint8 array of its declared shape."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_mnist(root):
    """Train and test sets, pixels in [0, 1] normalised by the training set's mean and
    standard deviation (as mast-nn's loader does)."""
    d = os.path.join(root, "images", "mnist")
    xs = [read_idx(os.path.join(d, f"{p}-images-idx3-ubyte.gz")) for p in ("train", "t10k")]
    ys = [read_idx(os.path.join(d, f"{p}-labels-idx1-ubyte.gz")) for p in ("train", "t10k")]
    xtr = xs[0].reshape(len(xs[0]), -1).astype(np.float32) / 255.0
    xte = xs[1].reshape(len(xs[1]), -1).astype(np.float32) / 255.0
    mean, std = float(xtr.mean()), float(xtr.std())
    xtr = (xtr - mean) / std
    xte = (xte - mean) / std
    return (torch.from_numpy(xtr), torch.from_numpy(ys[0].astype(np.int64)),
            torch.from_numpy(xte), torch.from_numpy(ys[1].astype(np.int64)))


def parse_method(spec):
    """`erm` or `NAME:P` as (name, p)."""
    if spec in ("erm", "plain"):
        return ("erm", None)
    name, _, p = spec.partition(":")
    if name not in ("bernoulli", "neuron", "dropout") or not p:
        raise ValueError(f"unknown method `{spec}`: expected erm, bernoulli:P, neuron:P, dropout:P")
    return (name, float(p))


class MaskedMlp(torch.nn.Module):
    """784-256-256-10 with ReLU; the forward takes the method's masks."""

    def __init__(self, sizes=(784, 256, 256, 10)):
        super().__init__()
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x, method):
        name, p = method
        h = x
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            w, b = layer.weight, layer.bias
            if name == "bernoulli":
                m = torch.bernoulli(torch.full_like(w, p)) / p
                w = w * m
            elif name == "neuron" and i < last:
                u = torch.bernoulli(torch.full((w.shape[0],), p, device=w.device)) / p
                w = w * u[:, None]
                b = b * u
            h = F.linear(h, w, b)
            if i < last:
                h = F.relu(h)
                if name == "dropout":
                    h = F.dropout(h, p, training=True)
        return h


class Run:
    """One model, its optimiser and its method."""

    def __init__(self, method, lr, momentum, seed, device):
        torch.manual_seed(seed)
        self.method = parse_method(method)
        self.model = MaskedMlp().to(device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=momentum)

    def step(self, x, y):
        self.opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(x, self.method), y)
        loss.backward()
        self.opt.step()
        # Read back, as mast's step does: a GPU step has finished here.
        return loss.item()

    @torch.no_grad()
    def accuracy(self, x, y):
        logits = self.model(x, ("erm", None))
        return (logits.argmax(1) == y).float().mean().item()


def batch_pool(xtr, ytr, seed, device):
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(xtr), generator=g)[:POOL * BATCH]
    return [(xtr[idx].to(device), ytr[idx].to(device)) for idx in order.split(BATCH)]


def time_methods(methods, steps, warmup, block, device, data, lr=0.02, momentum=0.9, seed=1):
    """Median ms/step per method, interleaved blocks (as mast-nn's `device_step time`)."""
    xtr, ytr, _, _ = load_mnist(data)
    pool = batch_pool(xtr, ytr, seed, device)
    runs = [Run(m, lr, momentum, seed, device) for m in methods]
    k = 0
    for r in runs:
        for _ in range(warmup):
            r.step(*pool[k % POOL])
            k += 1
    times = [[] for _ in runs]
    while len(times[0]) < steps:
        n = min(block, steps - len(times[0]))
        for r, t in zip(runs, times):
            for _ in range(n):
                x, y = pool[k % POOL]
                k += 1
                t0 = time.perf_counter()
                r.step(x, y)
                t.append((time.perf_counter() - t0) * 1e3)
    return [float(np.median(t)) for t in times]


def train(method, epochs, data, lr=0.02, momentum=0.9, seed=1, on_epoch=print):
    """Trains for `epochs` epochs (reshuffled, batches of 128, the last one partial, as
    mast); calls on_epoch(epoch, test accuracy, train seconds) after each and before."""
    xtr, ytr, xte, yte = load_mnist(data)
    r = Run(method, lr, momentum, seed, "cpu")
    g = torch.Generator().manual_seed(seed)
    on_epoch(0, r.accuracy(xte, yte), 0.0)
    train_s = 0.0
    for e in range(1, epochs + 1):
        t0 = time.perf_counter()
        for idx in torch.randperm(len(xtr), generator=g).split(BATCH):
            r.step(xtr[idx], ytr[idx])
        train_s += time.perf_counter() - t0
        on_epoch(e, r.accuracy(xte, yte), train_s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["time", "train"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--methods", default="erm")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--block", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: PyTorch's default)")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                                   "shared", "data"))
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    methods = a.methods.split(",")
    if a.mode == "time":
        ms = time_methods(methods, a.steps, a.warmup, a.block, a.device, a.data, a.lr,
                          a.momentum, a.seed)
        for m, t in zip(methods, ms):
            print(f"RESULT\ttorch-{a.device}\tmlp\t{m}\t{t:.4f}\t{a.steps}", flush=True)
    else:
        for m in methods:
            train(m, a.epochs, a.data, a.lr, a.momentum, a.seed,
                  lambda e, acc, s, m=m: print(f"ACC\t{m}\t{e}\t{acc:.4f}\t{s:.2f}", flush=True))


if __name__ == "__main__":
    main()
