"""Driver of the peer benchmark (run.sh calls it after installing and building).

Runs every cell of Algorithm 1 (II) for mast and the three Python peers, the ERM
comparison with LIBLINEAR, and the step-scaling bench; writes peers.csv, peers.md
and peers.png into the results folder."""

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import dense_matrix, full_loss, load_libsvm  # noqa: E402

PEERS = ["numpy", "scipy", "torch"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_json(cmd):
    """Runs cmd and returns the JSON objects it printed, one a line."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "cpu": model,
        "nproc": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_at_start": load,
    }


def versions():
    v = {}
    import numpy
    import scipy

    v["numpy"] = numpy.__version__
    v["scipy"] = scipy.__version__
    try:
        import torch

        v["torch"] = torch.__version__
    except ImportError:
        v["torch"] = "missing"
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "liblinear-tools"],
            capture_output=True,
            text=True,
        )
        v["liblinear"] = out.stdout.strip() or "?"
    except OSError:
        v["liblinear"] = "?"
    return v


# ---------------------------------------------------------------- Algorithm 1 (II)


def torch_threads(args, data, k):
    """The faster of 1 thread and all cores for torch, probed on one short run:
    at d = 123 intra-op threads rarely pay, and on a busy machine they can stall."""
    n_all = os.cpu_count() or 1
    if n_all == 1 or args.torch_threads:
        return args.torch_threads or 1, {}
    rates = {}
    for th in sorted({1, n_all}):
        line = run_json(
            [args.python, str(HERE / "dsgd_torch.py"), "--data", data, "--batch", "256",
             "--k", str(k), "--epochs", "1", "--gamma", "1e-3", "--threads", str(th)]
        )[0]
        rates[th] = line["epochs_per_s"]
    best = max(rates, key=rates.get)
    log(f"torch threads probe (batch 256, 1 epoch): {rates} → {best}")
    return best, rates


def dsgd_cells(args, mast_bench, data, d):
    """Every cell for mast and each peer, in `args.rounds` interleaved rounds (mast,
    then each peer, then again): each implementation's best over the rounds, so that
    a slow phase of a shared machine (here epochs/s can halve for seconds at a time)
    hits all of them alike rather than whichever ran during it."""
    cells = [(32, max(d // 2, 1)), (32, max(d // 10, 1)), (256, max(d // 2, 1)),
             (256, max(d // 10, 1))]
    spec = ",".join(f"{b}:{k}" for b, k in cells)
    epochs = {32: args.epochs_b32, 256: args.epochs_b256}
    threads, probe = torch_threads(args, data, cells[0][1])
    best = {}  # (impl, batch, k) -> best result line over the rounds
    rates = {}  # (impl, batch, k) -> every round's epochs/s

    def keep(impl, b, k, line):
        rates.setdefault((impl, b, k), []).append(line["epochs_per_s"])
        old = best.get((impl, b, k))
        if old is None or line["epochs_per_s"] > old["epochs_per_s"]:
            best[(impl, b, k)] = line

    for rnd in range(args.rounds):
        for b in (32, 256):
            ks = ",".join(f"{b}:{k}" for bb, k in cells if bb == b)
            log(f"round {rnd + 1}/{args.rounds}: mast, cells {ks}, {epochs[b]} epochs")
            for line in run_json([mast_bench, "--data", data, "--cells", ks, "--epochs",
                                  str(epochs[b]), "--min-time", str(args.mast_min_time)]):
                keep("mast", line["batch"], line["k"], line)
        for b, k in cells:
            m = best[("mast", b, k)]
            for peer in PEERS:
                cmd = [args.python, str(HERE / f"dsgd_{peer}.py"), "--data", data, "--batch",
                       str(b), "--k", str(k), "--epochs", str(m["epochs"]), "--gamma",
                       repr(m["gamma"]), "--lam", repr(m["lambda"]), "--repeats",
                       str(args.peer_repeats)]
                if peer == "torch":
                    cmd += ["--threads", str(threads)]
                log(f"round {rnd + 1}/{args.rounds}: {peer}, batch {b}, K {k}, "
                    f"{m['epochs']} epochs")
                keep(peer, b, k, run_json(cmd)[0])
    rows = []
    for b, k in cells:
        m = best[("mast", b, k)]
        row = {"batch": b, "k": k, "d": d, "n": m["n"], "epochs": m["epochs"],
               "gamma": m["gamma"], "lambda": m["lambda"], "mast_eps": m["epochs_per_s"],
               "mast_loss": m["final_loss"], "torch_threads": threads,
               "mast_rounds": rates[("mast", b, k)]}
        for peer in PEERS:
            p = best[(peer, b, k)]
            row[f"{peer}_eps"] = p["epochs_per_s"]
            row[f"{peer}_loss"] = p["final_loss"]
            row[f"{peer}_rounds"] = rates[(peer, b, k)]
            row[f"ratio_{peer}"] = row["mast_eps"] / p["epochs_per_s"]
        losses = [row["mast_loss"]] + [row[f"{p}_loss"] for p in PEERS]
        row["loss_spread"] = (max(losses) - min(losses)) / min(losses)
        rows.append(row)
    return rows, spec, probe


# ---------------------------------------------------------------- ERM vs LIBLINEAR


def median_time(cmd, runs):
    """Median wall time of `runs` runs of cmd (after one warm-up), via hyperfine
    when installed, else timed here."""
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as tf:
            subprocess.run(
                ["hyperfine", "-N", "--warmup", "1", "--runs", str(runs), "--export-json",
                 tf.name, " ".join(cmd)],
                check=True, capture_output=True,
            )
            res = json.load(open(tf.name))["results"][0]
            return res["median"], "hyperfine"
    subprocess.run(cmd, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times), "perf_counter"


def liblinear_weights(model_path, d):
    lines = Path(model_path).read_text().split("\n")
    labels = None
    for line in lines:
        if line.startswith("label "):
            labels = line.split()[1:]
    w0 = lines.index("w") + 1
    w = np.array([float(t) for t in lines[w0:w0 + d]])
    # LIBLINEAR's w scores its first label; mast's scores the larger label.
    first, other = float(labels[0]), float(labels[1])
    return w if first > other else -w


def erm(args, mast_bin, data, a, labels):
    n, d = a.shape
    lam = 1.0 / n
    c = 1.0 / (lam * n)
    work = Path(tempfile.mkdtemp(prefix="peers-erm-"))
    mast_cmd = [mast_bin, "erm", "--train", data, "--out", str(work)]
    subprocess.run(mast_cmd, check=True, capture_output=True)
    x_mast = np.array(json.load(open(work / "erm.json"))["x"])
    f_mast = full_loss(a, labels, x_mast, lam)
    # The loosest LIBLINEAR tolerance whose optimum agrees with mast's to 1e-8.
    chosen = None
    scan = []
    for eps in ["1e-2", "1e-3", "1e-4", "1e-5", "1e-6", "1e-8", "1e-10"]:
        model = work / f"model.{eps}"
        cmd = ["liblinear-train", "-s", "0", "-c", repr(c), "-e", eps, "-B", "-1", "-q",
               data, str(model)]
        subprocess.run(cmd, check=True, capture_output=True)
        f_ll = full_loss(a, labels, liblinear_weights(model, d), lam)
        rel = abs(f_ll - f_mast) / abs(f_mast)
        scan.append((eps, f_ll, rel))
        log(f"liblinear -e {eps}: f = {f_ll!r}, relative difference {rel:.2e}")
        if rel <= 1e-8:
            chosen = (eps, cmd, f_ll, rel)
            break
    if chosen is None:
        raise SystemExit("LIBLINEAR did not reach mast's optimum to 1e-8 at -e 1e-10")
    eps, ll_cmd, f_ll, rel = chosen
    t_mast, tool = median_time(mast_cmd, args.erm_runs)
    t_ll, _ = median_time(ll_cmd, args.erm_runs)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "n": n, "d": d, "lambda": lam, "C": c, "eps": eps,
        "mast_s": t_mast, "liblinear_s": t_ll, "ratio": t_mast / t_ll,
        "f_mast": f_mast, "f_liblinear": f_ll, "rel_diff": rel, "timer": tool,
        "runs": args.erm_runs, "scan": scan,
        "mast_cmd": " ".join(["mast"] + mast_cmd[1:4]),
        "liblinear_cmd": " ".join(["liblinear-train"] + ll_cmd[1:-2] + ["FILE", "MODEL"]),
    }


# ---------------------------------------------------------------- step scaling


def step_scaling(args):
    cmd = ["cargo", "bench", "-q", "-p", "mast", "--bench", "step_scaling"]
    if args.smoke:
        cmd += ["--", "--small"]
    log("step scaling: " + " ".join(cmd))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    pat = re.compile(
        r"^(?P<data>.+?)\s+(?P<variant>\((?:I|II)\)[^K]*?)\s+K=d:\s+(?P<full>\S+) s/step\s+"
        r"K=(?P<k>\d+)\s*:\s+(?P<small>\S+) s/step\s+ratio (?P<ratio>\S+)\s+\(K/d = (?P<kd>\S+), "
        r"limit ≈ (?P<limit>[^)]+)\)"
    )
    threads = ""
    for line in out.splitlines():
        if line.startswith("threads:"):
            threads = line.split(":")[1].strip()
        mt = pat.match(line)
        if mt:
            rows.append({k: v.strip() for k, v in mt.groupdict().items()})
    return rows, out, threads


# ---------------------------------------------------------------- report


def fmt(x, digits=3):
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def write_csv(path, cells, erm_row, scaling):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["section", "batch", "K", "epochs", "impl", "epochs_per_s",
                    "ratio_mast_over_impl", "final_loss", "seconds", "objective", "note"])
        for r in cells:
            w.writerow(["dsgd", r["batch"], r["k"], r["epochs"], "mast", r["mast_eps"], 1.0,
                        r["mast_loss"], "", "", f"gamma={r['gamma']!r}"])
            for p in PEERS:
                note = f"threads={r['torch_threads']}" if p == "torch" else ""
                w.writerow(["dsgd", r["batch"], r["k"], r["epochs"], p, r[f"{p}_eps"],
                            r[f"ratio_{p}"], r[f"{p}_loss"], "", "", note])
        e = erm_row
        w.writerow(["erm", "", "", "", "mast erm", "", e["ratio"], "", e["mast_s"],
                    e["f_mast"], e["mast_cmd"]])
        w.writerow(["erm", "", "", "", "liblinear", "", 1.0, "", e["liblinear_s"],
                    e["f_liblinear"], f"{e['liblinear_cmd']} rel_diff={e['rel_diff']:.3e}"])
        for s in scaling:
            w.writerow(["step_scaling", "", s["k"], "", f"{s['data']} {s['variant']}", "",
                        s["ratio"], "", s["small"], "", f"K=d {s['full']} s/step; limit {s['limit']}"])


def write_md(path, args, info, vers, cells, probe, erm_row, scaling, scaling_threads, data, wall):
    L = []
    L.append(f"Data: `{data}` (n = {cells[0]['n']}, d = {cells[0]['d']}); λ = 1/n = "
             f"{cells[0]['lambda']:.6e}; v = 0, x⁰ = 0; step γ = 1/(L_f·L_S^max) (mast's theory "
             f"step, passed to every peer).")
    L.append(f"Machine: {info['cpu']}, nproc = {info['nproc']}, load average at start "
             f"{info['load_at_start']:.2f}; {info['os']}; Python {info['python']}, NumPy "
             f"{vers['numpy']}, SciPy {vers['scipy']}, PyTorch {vers['torch']} (CPU), "
             f"LIBLINEAR {vers['liblinear']}. Whole run: {wall:.0f} s.")
    L.append("")
    L.append("### Algorithm 1 (II): minibatch double-sketched SGD with Rand-K, epochs/s")
    L.append("")
    L.append("| batch | K | epochs | mast | NumPy (dense) | SciPy (CSR) | PyTorch | "
             "mast/NumPy | mast/SciPy | mast/PyTorch | f(x): mast | NumPy | SciPy | PyTorch "
             "| spread |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in cells:
        L.append(
            f"| {r['batch']} | {r['k']} | {r['epochs']} | {r['mast_eps']:.4g} | "
            f"{r['numpy_eps']:.4g} | {r['scipy_eps']:.4g} | {r['torch_eps']:.4g} | "
            f"**{r['ratio_numpy']:.1f}×** | {r['ratio_scipy']:.1f}× | **{r['ratio_torch']:.0f}×** | "
            f"{r['mast_loss']:.5f} | {r['numpy_loss']:.5f} | {r['scipy_loss']:.5f} | "
            f"{r['torch_loss']:.5f} | {100 * r['loss_spread']:.2f}% |")
    L.append("")
    thr = cells[0]["torch_threads"]
    probe_s = ", ".join(f"{k} thread(s): {v:.3g} epochs/s" for k, v in probe.items())
    L.append(
        "Epochs/s excludes loading and is the best of repeated runs from x⁰ = 0 with the same "
        f"seed over {args.rounds} interleaved rounds (each round: mast ≥ {args.mast_min_time:g} s "
        f"and ≥ 3 runs a cell, then each peer {args.peer_repeats} runs a cell), the least "
        "disturbed on a shared machine; every round's figure is in the table below. f(x) is "
        "the full training loss (with the ℓ2 term) after the same "
        "number of epochs; spread = (max − min)/min over the four. The implementations draw "
        "different random minibatches and masks (NumPy and SciPy share a generator, so they "
        f"follow the same path). PyTorch ran with {thr} intra-op thread(s)"
        + (f" (probe: {probe_s})" if probe_s else "") + ".")
    L.append("")
    L.append("Every round's epochs/s (the best of its runs), in the order they ran:")
    L.append("")
    L.append("| batch | K | mast | NumPy (dense) | SciPy (CSR) | PyTorch |")
    L.append("|---|---|---|---|---|---|")
    for r in cells:
        per = [", ".join(f"{v:.4g}" for v in r[f"{impl}_rounds"])
               for impl in ("mast",) + tuple(PEERS)]
        L.append(f"| {r['batch']} | {r['k']} | " + " | ".join(per) + " |")
    L.append("")
    e = erm_row
    L.append("### Exact ERM optimum: whole process, loading included")
    L.append("")
    L.append("| solver | command | median wall time | objective f(x) |")
    L.append("|---|---|---|---|")
    L.append(f"| mast | `{e['mast_cmd']}` | {e['mast_s'] * 1000:.1f} ms | {e['f_mast']:.15f} |")
    L.append(f"| LIBLINEAR | `{e['liblinear_cmd']}` | {e['liblinear_s'] * 1000:.1f} ms | "
             f"{e['f_liblinear']:.15f} |")
    L.append("")
    L.append(f"mast / LIBLINEAR = **{e['ratio']:.2f}×** the time; objectives agree to "
             f"{e['rel_diff']:.1e} relative (goal ≤ 1e-8). C = 1/(λn) = {e['C']:g}, no bias "
             f"(mast has none). LIBLINEAR's objective C·Σlog(1+e^(−y wᵀx)) + ½‖w‖² is C·n times "
             f"mast's; both f values above are evaluated by the same NumPy code from the saved "
             f"weights. -e {e['eps']} is the loosest of 1e-2, 1e-3, … that reaches mast's optimum "
             f"to 1e-8 (scan: "
             + ", ".join(f"{s[0]}: {s[2]:.1e}" for s in e["scan"])
             + f"). Median of {e['runs']} runs after a warm-up ({e['timer']}).")
    L.append("")
    L.append("### Step cost vs kept coordinates (cargo bench -p mast --bench step_scaling)")
    L.append("")
    L.append(f"Rayon threads: {scaling_threads}.")
    L.append("")
    L.append("| data | variant | K | s/step, K = d | s/step, K | ratio | K/d | limit |")
    L.append("|---|---|---|---|---|---|---|---|")
    for s in scaling:
        L.append(f"| {s['data']} | {s['variant']} | {s['k']} | {s['full']} | {s['small']} | "
                 f"{s['ratio']} | {s['kd']} | {s['limit']} |")
    Path(path).write_text("\n".join(L) + "\n")


def write_png(path, cells, erm_row):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no chart")
        return False
    fig, ax = plt.subplots(figsize=(8, 4.2))
    labels = [f"b={r['batch']}\nK={r['k']}" for r in cells]
    xs = np.arange(len(cells))
    width = 0.26
    for i, (p, name) in enumerate([("numpy", "NumPy (dense)"), ("scipy", "SciPy (CSR)"),
                                   ("torch", "PyTorch")]):
        vals = [r[f"ratio_{p}"] for r in cells]
        bars = ax.bar(xs + (i - 1) * width, vals, width, label=f"mast / {name}")
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(xs, labels)
    ax.set_ylabel("speed-up of mast (epochs/s ratio, log scale)")
    ax.axhline(1, color="black", lw=0.8)
    ax.set_title(f"Algorithm 1 (II), Rand-K, d = {cells[0]['d']}; ERM: mast takes "
                 f"{erm_row['ratio']:.2f}× LIBLINEAR's time", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--mast-bin", required=True, help="target/release/mast")
    p.add_argument("--mast-bench", required=True, help="the peers_dsgd bench binary")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--epochs-b32", type=int, default=10)
    p.add_argument("--epochs-b256", type=int, default=40)
    p.add_argument("--mast-min-time", type=float, default=0.5)
    p.add_argument("--peer-repeats", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved rounds of every implementation (best kept)")
    p.add_argument("--erm-runs", type=int, default=15)
    p.add_argument("--torch-threads", type=int, default=0)
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args()
    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info, vers = machine(), versions()
    indptr, indices, values, labels, d = load_libsvm(args.data)
    a = dense_matrix(indptr, indices, values, d)
    cells, _, probe = dsgd_cells(args, args.mast_bench, args.data, d)
    log("ERM: mast erm vs liblinear-train -s 0")
    erm_row = erm(args, args.mast_bin, args.data, a, labels)
    scaling, scaling_raw, scaling_threads = step_scaling(args)
    (out / "step_scaling.txt").write_text(scaling_raw)
    wall = time.perf_counter() - start
    write_csv(out / "peers.csv", cells, erm_row, scaling)
    write_md(out / "peers.md", args, info, vers, cells, probe, erm_row, scaling, scaling_threads,
             args.data, wall)
    drew = write_png(out / "peers.png", cells, erm_row)
    json.dump({"machine": info, "versions": vers, "cells": cells, "erm": erm_row,
               "step_scaling": scaling, "seconds": wall},
              open(out / "peers.json", "w"), indent=1)
    print((out / "peers.md").read_text())
    log(f"wrote {out}/peers.csv, peers.md{', peers.png' if drew else ''}, peers.json "
        f"in {wall:.0f} s")


if __name__ == "__main__":
    main()
