#!/usr/bin/env python3
"""Peer benchmark for networks: mast-nn against PyTorch (CPU) on the MNIST MLP
784-256-256-10, batch 128 — the training step of plain SGD, MAST Bernoulli 0.5, MAST
neuron-level 0.5 and Dropout 0.5, timed in one run in interleaved rounds, and the test
accuracy of both after the same number of epochs. See README.md beside this file.

  python3 peers_nn.py --bin MAST_DEVICE_STEP [--rounds 7] [--block 20] [--warmup 10]
                      [--epochs 5] [--threads 2] [--data ROOT] [--out DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_mlp  # noqa: E402

METHODS = ["erm", "bernoulli:0.5", "neuron:0.5", "dropout:0.5"]
LABELS = {"erm": "plain SGD", "bernoulli:0.5": "MAST Bernoulli 0.5",
          "neuron:0.5": "MAST neuron-level 0.5", "dropout:0.5": "Dropout 0.5"}


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class MastServer:
    """mast-nn's `device_step serve` child: one trainer per method, stepped on request."""

    def __init__(self, binary, methods, data, seed, lr, momentum, threads):
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        self.p = subprocess.Popen(
            [binary, "serve", "--methods", ",".join(methods), "--data", data, "--seed",
             str(seed), "--lr", str(lr), "--momentum", str(momentum)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = self.p.stdout.readline().strip()
        if line != "READY":
            raise RuntimeError(f"mast device_step serve did not start (said `{line}`)")

    def steps(self, method, n):
        self.p.stdin.write(f"{method} {n}\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().split()
        if not line or line[0] != "TIMES":
            raise RuntimeError(f"mast device_step serve answered `{' '.join(line)}`")
        return [float(t) for t in line[1:]]

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.close()
        self.p.wait(timeout=60)


def torch_steps(run, pool, cursor, n):
    out = []
    for i in range(n):
        x, y = pool[(cursor + i) % len(pool)]
        t0 = time.perf_counter()
        run.step(x, y)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def quartiles(v):
    q = np.percentile(v, [25, 50, 75])
    return float(q[0]), float(q[1]), float(q[2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="mast-nn's device_step bench binary")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--block", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    os.makedirs(a.out, exist_ok=True)
    started = time.time()
    load_start = os.getloadavg()[0]

    # 1. Step times, interleaved: per round and method, a block of mast steps and a block
    # of PyTorch steps (the order alternating between rounds), the other side idle.
    mast = MastServer(a.bin, METHODS, a.data, a.seed, a.lr, a.momentum, a.threads)
    xtr, ytr, _, _ = torch_mlp.load_mnist(a.data)
    pool = torch_mlp.batch_pool(xtr, ytr, a.seed, "cpu")
    runs = {m: torch_mlp.Run(m, a.lr, a.momentum, a.seed, "cpu") for m in METHODS}
    cursor = 0
    for m in METHODS:
        mast.steps(m, a.warmup)
        torch_steps(runs[m], pool, cursor, a.warmup)
        cursor += a.warmup
    block = {(impl, m): [] for impl in ("mast", "torch") for m in METHODS}
    for r in range(a.rounds):
        for m in METHODS:
            sides = ["mast", "torch"] if r % 2 == 0 else ["torch", "mast"]
            for side in sides:
                if side == "mast":
                    t = mast.steps(m, a.block)
                else:
                    t = torch_steps(runs[m], pool, cursor, a.block)
                    cursor += a.block
                block[(side, m)].append(float(np.median(t)))
        print(f"round {r + 1}/{a.rounds}: " + ", ".join(
            f"{m} {block[('mast', m)][-1]:.2f}/{block[('torch', m)][-1]:.2f} ms"
            for m in METHODS), flush=True)
    mast.close()
    timing = {}
    for m in METHODS:
        bm, bt = np.array(block[("mast", m)]), np.array(block[("torch", m)])
        timing[m] = {
            "mast_ms": float(np.median(bm)), "torch_ms": float(np.median(bt)),
            "ratio": quartiles(bm / bt),
            "mast_overhead": quartiles(bm / np.array(block[("mast", "erm")])),
            "torch_overhead": quartiles(bt / np.array(block[("torch", "erm")])),
            "mast_rounds": bm.tolist(), "torch_rounds": bt.tolist(),
        }

    # 2. Accuracy after the same epochs, same lr, momentum, batch and init scheme.
    acc = {m: {} for m in METHODS}
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    out = subprocess.run(
        [a.bin, "train", "--methods", ",".join(METHODS), "--epochs", str(a.epochs),
         "--data", a.data, "--seed", str(a.seed), "--lr", str(a.lr), "--momentum",
         str(a.momentum)], env=env, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("ACC\t"):
            _, m, e, v, s = line.split("\t")
            acc[m].setdefault("mast", []).append((int(e), float(v), float(s)))
    for m in METHODS:
        rows = acc[m].setdefault("torch", [])
        torch_mlp.train(m, a.epochs, a.data, a.lr, a.momentum, a.seed,
                        lambda e, v, s, rows=rows: rows.append((e, v, s)))
        print(f"accuracy {m}: mast {acc[m]['mast'][-1][1]:.4f}, torch {rows[-1][1]:.4f}",
              flush=True)

    # 3. Results.
    meta = {
        "threads": a.threads, "rounds": a.rounds, "block": a.block, "warmup": a.warmup,
        "epochs": a.epochs, "lr": a.lr, "momentum": a.momentum, "seed": a.seed,
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "cpu": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": round(time.time() - started, 1),
        "load_avg_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }
    write_atomic(os.path.join(a.out, "peers-nn.json"),
                 json.dumps({"meta": meta, "timing": timing, "accuracy": acc}, indent=1))
    csv = ["method,mast_ms,torch_ms,ratio_median,ratio_q25,ratio_q75,mast_overhead,"
           "torch_overhead,mast_acc,torch_acc"]
    md = [f"MLP 784-256-256-10, MNIST, batch {torch_mlp.BATCH}; {a.threads} threads each "
          f"(RAYON_NUM_THREADS={a.threads}, in which mast-nn runs this MLP's step on "
          f"one thread, its default for small MLPs; torch.set_num_threads({a.threads})), "
          f"{a.rounds} interleaved rounds of {a.block} steps per method and side "
          f"(after {a.warmup} warm-up steps); PyTorch {torch.__version__}; {meta['date']}; "
          f"1-min load average {meta['load_avg_1min'][0]} at the start, "
          f"{meta['load_avg_1min'][1]} at the end.",
          "",
          "| method | mast-nn ms/step | PyTorch ms/step | mast / PyTorch (IQR) "
          "| overhead vs plain: mast | PyTorch "
          f"| test acc. after {a.epochs} epochs: mast | PyTorch |",
          "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for m in METHODS:
        t = timing[m]
        am, at = acc[m]["mast"][-1][1], acc[m]["torch"][-1][1]
        csv.append(f"{m},{t['mast_ms']:.4f},{t['torch_ms']:.4f},{t['ratio'][1]:.4f},"
                   f"{t['ratio'][0]:.4f},{t['ratio'][2]:.4f},{t['mast_overhead'][1]:.4f},"
                   f"{t['torch_overhead'][1]:.4f},{am:.4f},{at:.4f}")
        md.append(f"| {LABELS[m]} | {t['mast_ms']:.2f} | {t['torch_ms']:.2f} | "
                  f"**{t['ratio'][1]:.2f}** [{t['ratio'][0]:.2f}, {t['ratio'][2]:.2f}] | "
                  f"{t['mast_overhead'][1]:.2f}× | {t['torch_overhead'][1]:.2f}× | "
                  f"{100 * am:.2f} % | {100 * at:.2f} % |")
    write_atomic(os.path.join(a.out, "peers-nn.csv"), "\n".join(csv) + "\n")
    write_atomic(os.path.join(a.out, "peers-nn.md"), "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
