"""Driver of the scale benchmark (run.sh calls it after installing and building).

On news20-, rcv1-, url- and epsilon-shaped files from `mast data synth`, side by
side and as ratios: Algorithm 1 (II) at batch 32 and K = d/2, d/100 (mast, a numba
loop, SciPy), `mast erm` against LIBLINEAR, mast's loader against scikit-learn's,
and the cost of a step as n, d, nonzeros a row and K grow. Writes scale.md,
scale.csv, scale.json and scale.png into the results folder."""

import argparse
import csv
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import full_loss, load  # noqa: E402

SHAPES = ["news20", "rcv1", "url", "epsilon"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_json(cmd, env=None):
    """Runs cmd; returns the JSON objects it printed, one a line."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def run_measured(cmd, env=None, check=True, limit_s=None):
    """Runs cmd as a whole process: (wall seconds, peak resident MB, stdout, rc), the
    peak from GNU time's %M; killed after limit_s seconds if given (rc 137)."""
    if limit_s:
        cmd = ["timeout", "--signal=KILL", str(limit_s)] + cmd
    with tempfile.NamedTemporaryFile(suffix=".time") as tf:
        start = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name] + cmd,
                           capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        if check and p.returncode != 0:
            raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
        lines = [ln for ln in Path(tf.name).read_text().split() if ln.isdigit()]
        rss_mb = int(lines[-1]) / 1024 if lines else float("nan")
    return wall, rss_mb, p.stdout, p.returncode


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "nproc": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version(), "load_at_start": os.getloadavg()[0]}


def versions():
    import numba
    import scipy
    import sklearn

    v = {"numpy": np.__version__, "scipy": scipy.__version__, "numba": numba.__version__,
         "sklearn": sklearn.__version__}
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "liblinear-tools"],
                         capture_output=True, text=True)
    v["liblinear"] = out.stdout.strip() or "?"
    return v


# ---------------------------------------------------------------- data


def synth(args, shape, name, *flags):
    """`mast data synth SHAPE --name NAME FLAGS` into the data folder, unless there."""
    path = Path(args.data_dir) / name
    if not path.exists():
        cmd = [args.mast_bin, "data", "synth", shape, "--out", args.data_dir, "--name", name,
               "--test-rows", "0", *flags]
        log("data: " + " ".join(cmd[1:]))
        subprocess.run(cmd, check=True, capture_output=True)
    return path


def head(path, rows, name):
    """The first `rows` rows of path (row 1 holds the last column, so d is kept)."""
    out = path.parent / name
    if not out.exists():
        with open(path) as src, open(out.with_suffix(".tmp"), "w") as dst:
            for i, line in enumerate(src):
                if i == rows:
                    break
                dst.write(line)
        out.with_suffix(".tmp").rename(out)
    return out


def datasets(args):
    """Per shape: the file for loading and ERM, and its first rows for the step cells."""
    if args.smoke:
        full = {s: synth(args, s, f"{s}-smoke", "--scale", "0.01", "--rows", "400")
                for s in SHAPES}
    else:
        full = {
            "news20": synth(args, "news20", "news20-like"),
            "rcv1": synth(args, "rcv1", "rcv1-like"),
            "url": synth(args, "url", f"url-like-{args.url_rows // 1000}k", "--rows",
                         str(args.url_rows)),
            "epsilon": synth(args, "epsilon", f"epsilon-like-{args.epsilon_rows // 1000}k",
                             "--rows", str(args.epsilon_rows)),
        }
    steps = {s: head(p, args.step_rows, p.name + f".head{args.step_rows}")
             for s, p in full.items()}
    return full, steps


# ---------------------------------------------------------------- Algorithm 1 (II)


def step_cells(args, steps):
    """Every (shape, K) cell for mast, numba and SciPy in `args.rounds` interleaved rounds;
    each implementation's best (least ms a step) over the rounds."""
    best, every = {}, {}

    def keep(impl, shape, k, line):
        every.setdefault((impl, shape, k), []).append(line["ms_per_step"])
        old = best.get((impl, shape, k))
        if old is None or line["ms_per_step"] < old["ms_per_step"]:
            best[(impl, shape, k)] = line

    cells = {}
    for rnd in range(args.rounds):
        for shape, path in steps.items():
            log(f"round {rnd + 1}/{args.rounds}: {shape}: mast")
            d = int(open(path).readline().split()[-1].split(":")[0])
            ks = [max(d // 2, 1), max(d // 100, 1)]
            cells[shape] = ks
            spec = ",".join(f"32:{k}" for k in ks)
            for line in run_json([args.mast_bench, "--data", str(path), "--cells", spec,
                                  "--epochs", str(args.epochs), "--min-time",
                                  str(args.mast_min_time)]):
                steps_per_epoch = line["n"] // line["batch"]
                line["ms_per_step"] = 1e3 / (line["epochs_per_s"] * steps_per_epoch)
                keep("mast", shape, line["k"], line)
            if args.scale_step:
                for frac, us in scale_step(args, path):
                    k = ks[0] if frac == "0.5" else ks[1]
                    keep("mast scale_step", shape, k, {"ms_per_step": us / 1e3})
            for k in ks:
                m = best[("mast", shape, k)]
                for peer in ("numba", "scipy"):
                    log(f"round {rnd + 1}/{args.rounds}: {shape}: {peer}, K {k}")
                    cmd = [args.python, str(HERE / f"step_{peer}.py"), "--data", str(path),
                           "--k", str(k), "--gamma", repr(m["gamma"]), "--lam",
                           repr(m["lambda"]), "--repeats", str(args.peer_repeats),
                           "--epochs", str(args.epochs)]
                    keep(peer, shape, k, run_json(cmd)[0])
    rows = []
    for shape, ks in cells.items():
        for k in ks:
            m = best[("mast", shape, k)]
            row = {"shape": shape, "n": m["n"], "d": m["d"], "k": k, "batch": 32,
                   "gamma": m["gamma"], "lambda": m["lambda"], "mast_ms": m["ms_per_step"],
                   "mast_loss": m["final_loss"], "mast_rounds": every[("mast", shape, k)]}
            if ("mast scale_step", shape, k) in best:
                row["scale_step_ms"] = best[("mast scale_step", shape, k)]["ms_per_step"]
            for peer in ("numba", "scipy"):
                p = best[(peer, shape, k)]
                row[f"{peer}_ms"] = p["ms_per_step"]
                row[f"{peer}_loss"] = p["final_loss"]
                row[f"{peer}_rounds"] = every[(peer, shape, k)]
                row[f"{peer}_over_mast"] = p["ms_per_step"] / m["ms_per_step"]
            rows.append(row)
    return rows


def scale_step(args, path):
    """(Rand-K fraction, µs a step) from the scale_step bench binary on path."""
    env = dict(os.environ, MAST_SCALE_DATA=str(path))
    out = subprocess.run([args.scale_step, "--min-time", str(args.scale_step_min_time),
                          "--only", "news20"], check=True, capture_output=True, text=True,
                         env=env).stdout
    pat = re.compile(r"batch 32\s+rand-k:(\S+)\s+([\d.]+) µs/step")
    return [(mt.group(1), float(mt.group(2))) for mt in map(pat.search, out.splitlines()) if mt]


# ---------------------------------------------------------------- loaders


def loaders(args, full):
    """mast's loader (a whole `mast erm` process that stops at x⁰, run twice: parse,
    then what a second run pays) against sklearn's load_svmlight_file, on a fresh copy
    of each file (so a cache beside it starts cold and goes with it)."""
    help_text = subprocess.run([args.mast_bin, "erm", "--help"], capture_output=True,
                               text=True).stdout
    only_load = ["--tol", "1e300"] + (["--lbfgs"] if "--lbfgs" in help_text else [])
    rows = []
    for shape, path in full.items():
        work = Path(tempfile.mkdtemp(prefix="scale-load-", dir=args.data_dir))
        try:
            copy = work / path.name
            shutil.copyfile(path, copy)
            env = dict(os.environ, MAST_CACHE_DIR=str(work / "cache"))
            cmd = [args.mast_bin, "erm", "--train", str(copy)] + only_load
            log(f"loader: {shape}: mast (first, second), sklearn")
            first, rss, _, _ = run_measured(cmd, env=env)
            second, rss2, _, _ = run_measured(cmd, env=env)
            sk = run_json([args.python, str(HERE / "load_sklearn.py"), "--data", str(copy)])[0]
            rows.append({"shape": shape, "file": path.name, "mb": path.stat().st_size / 1e6,
                         "n": sk["n"], "d": sk["d"], "nnz": sk["nnz"], "mast_first_s": first,
                         "mast_second_s": second, "mast_rss_mb": max(rss, rss2),
                         "sklearn_s": sk["seconds"], "first_ratio": first / sk["seconds"],
                         "second_ratio": second / sk["seconds"]})
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return rows, " ".join(["mast", "erm", "--train", "FILE"] + only_load)


# ---------------------------------------------------------------- ERM vs LIBLINEAR


def liblinear_weights(model_path, d):
    """LIBLINEAR's w, signed to score the larger label (as mast's x does)."""
    lines = Path(model_path).read_text().split("\n")
    labels = next(ln.split()[1:] for ln in lines if ln.startswith("label "))
    w0 = lines.index("w") + 1
    w = np.array([float(t) for t in lines[w0:w0 + d]])
    return w if float(labels[0]) > float(labels[1]) else -w


def erm(args, full):
    rows = []
    for shape, path in full.items():
        log(f"erm: {shape}: mast erm")
        work = Path(tempfile.mkdtemp(prefix="scale-erm-", dir=args.data_dir))
        try:
            m_s, m_rss, out, rc = run_measured([args.mast_bin, "erm", "--train", str(path)],
                                               check=False, limit_s=args.erm_limit)
            fm = re.search(r"f\*\s+=\s+(\S+)", out)
            head_line = re.search(r"ERM optimum \((\S+), (\d+) iterations", out)
            log(f"erm: {shape}: liblinear")
            model = work / "model"
            ll_cmd = ["liblinear-train", "-s", "0", "-c", "1", "-e", "1e-10", "-q", str(path),
                      str(model)]
            l_s, l_rss, _, l_rc = run_measured(ll_cmd, check=False, limit_s=args.erm_limit)
            a, labels = load(path)
            n, d = a.shape
            f_ll = (full_loss(a, labels, liblinear_weights(model, d), 1.0 / n) if l_rc == 0
                    else float("nan"))
            f_mast = float(fm.group(1)) if fm else float("nan")
            rows.append({"shape": shape, "file": path.name, "n": n, "d": d,
                         "mast_s": m_s, "mast_rss_mb": m_rss, "mast_rc": rc,
                         "mast_method": head_line.group(1) if head_line else "?",
                         "mast_iterations": int(head_line.group(2)) if head_line else -1,
                         "liblinear_s": l_s, "liblinear_rss_mb": l_rss, "liblinear_rc": l_rc,
                         "f_mast": f_mast,
                         "f_liblinear": f_ll, "rel_diff": abs(f_mast - f_ll) / abs(f_ll),
                         "ratio": m_s / l_s})
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return rows


# ---------------------------------------------------------------- step cost sweep


def sweep_points(args):
    """(axis, value, synth flags, rows, K) of each point: K, d, nonzeros a row and n
    varied one at a time around a base point, batch 32."""
    if args.smoke:
        base_d, nnz, n = 10_000, 20, 64
        pts = [("K/d", f, (base_d, nnz, n), max(int(base_d * f), 1)) for f in (0.01, 0.5)]
        pts += [("d", 1_000, (1_000, nnz, n), 500), ("nnz", 40, (base_d, 40, n), base_d // 100),
                ("n", 256, (base_d, nnz, 256), base_d // 100)]
        return pts
    base_d, nnz, n = 1_000_000, 100, 320
    pts = [("K/d", f, (base_d, nnz, n), int(base_d * f)) for f in (0.001, 0.01, 0.1, 0.5, 1.0)]
    pts += [("d", d, (d, nnz, n), d // 2) for d in (10_000, 100_000, 1_000_000, 10_000_000)]
    pts += [("nnz", z, (base_d, z, n), base_d // 100) for z in (10, 100, 1_000)]
    pts += [("n", m, (base_d, nnz, m), base_d // 100) for m in (320, 3_200, 32_000)]
    return pts


def sweep(args):
    rows = []
    for axis, value, (d, nnz, n), k in sweep_points(args):
        path = synth(args, "news20", f"sweep-d{d}-z{nnz}-n{n}", "--cols", str(d), "--nnz",
                     str(nnz), "--rows", str(n))
        log(f"sweep: {axis} = {value}: d {d}, nnz {nnz}, n {n}, K {k}")
        m = run_json([args.mast_bench, "--data", str(path), "--cells", f"32:{k}", "--epochs",
                      "1", "--min-time", str(args.mast_min_time)])[0]
        m_ms = 1e3 / (m["epochs_per_s"] * (m["n"] // 32))
        nb = run_json([args.python, str(HERE / "step_numba.py"), "--data", str(path), "--k",
                       str(k), "--gamma", repr(m["gamma"]), "--repeats",
                       str(args.peer_repeats)])[0]
        rows.append({"axis": axis, "value": value, "n": n, "d": d, "nnz_per_row": nnz,
                     "k": k, "mast_ms": m_ms, "numba_ms": nb["ms_per_step"],
                     "numba_over_mast": nb["ms_per_step"] / m_ms})
    return rows


def plot(path, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = ["K/d", "d", "nnz", "n"]
    titles = {"K/d": "K/d (d = {d:,}, {z} nnz a row, n = {n:,})",
              "d": "d (K = d/2, {z} nnz a row, n = {n:,})",
              "nnz": "nonzeros a row (d = {d:,}, K = d/100)",
              "n": "n (d = {d:,}, K = d/100, {z} nnz a row)"}
    fig, panels = plt.subplots(2, 2, figsize=(10, 7.5))
    for ax, name in zip(panels.flat, axes):
        pts = [r for r in rows if r["axis"] == name]
        if not pts:
            continue
        xs = [r["value"] for r in pts]
        ax.loglog(xs, [r["mast_ms"] for r in pts], "o-", label="mast")
        ax.loglog(xs, [r["numba_ms"] for r in pts], "s--", label="numba loop")
        r0 = pts[0]
        ax.set_xlabel(titles[name].format(d=r0["d"], z=r0["nnz_per_row"], n=r0["n"]),
                      fontsize=8)
        ax.set_ylabel("ms per step (batch 32)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Algorithm 1 (II), Rand-K: cost of a step (log-log)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------- report


def write_csv(path, res):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["section", "shape", "n", "d", "K", "impl", "value", "unit",
                    "ratio_to_mast", "note"])
        for r in res["steps"]:
            base = ["step", r["shape"], r["n"], r["d"], r["k"]]
            w.writerow(base + ["mast", r["mast_ms"], "ms/step", 1.0, f"loss={r['mast_loss']!r}"])
            if "scale_step_ms" in r:
                w.writerow(base + ["mast scale_step", r["scale_step_ms"], "ms/step",
                                   r["scale_step_ms"] / r["mast_ms"], ""])
            for p in ("numba", "scipy"):
                w.writerow(base + [p, r[f"{p}_ms"], "ms/step", r[f"{p}_over_mast"],
                                   f"loss={r[f'{p}_loss']!r}"])
        for r in res["loaders"]:
            base = ["load", r["shape"], r["n"], r["d"], ""]
            w.writerow(base + ["sklearn", r["sklearn_s"], "s", r["sklearn_s"] / r["mast_first_s"],
                               f"{r['mb']:.0f} MB"])
            w.writerow(base + ["mast first", r["mast_first_s"], "s", 1.0,
                               f"rss={r['mast_rss_mb']:.0f}MB"])
            w.writerow(base + ["mast second", r["mast_second_s"], "s",
                               r["mast_second_s"] / r["mast_first_s"], ""])
        for r in res["erm"]:
            base = ["erm", r["shape"], r["n"], r["d"], ""]
            w.writerow(base + ["mast erm", r["mast_s"], "s", 1.0,
                               f"f={r['f_mast']!r} {r['mast_method']} {r['mast_iterations']} it "
                               f"rss={r['mast_rss_mb']:.0f}MB"])
            w.writerow(base + ["liblinear", r["liblinear_s"], "s", r["liblinear_s"] / r["mast_s"],
                               f"f={r['f_liblinear']!r} rel_diff={r['rel_diff']:.2e} "
                               f"rss={r['liblinear_rss_mb']:.0f}MB"])
        for r in res["sweep"]:
            base = ["sweep " + r["axis"], "news20", r["n"], r["d"], r["k"]]
            w.writerow(base + ["mast", r["mast_ms"], "ms/step", 1.0,
                               f"nnz/row={r['nnz_per_row']}"])
            w.writerow(base + ["numba", r["numba_ms"], "ms/step", r["numba_over_mast"], ""])


def g(x, digits=3):
    return f"{x:.{digits}g}"


def write_md(path, args, res):
    info, v = res["machine"], res["versions"]
    L = [f"Machine: {info['cpu']}, nproc = {info['nproc']}, load average at start "
         f"{info['load_at_start']:.2f}; {info['os']}; Python {info['python']}, NumPy "
         f"{v['numpy']}, SciPy {v['scipy']}, numba {v['numba']}, scikit-learn {v['sklearn']}, "
         f"LIBLINEAR {v['liblinear']}. mast {res['mast_commit']}. Whole run: "
         f"{res['wall_s']:.0f} s{' (--smoke)' if args.smoke else ''}.", ""]
    L += ["### Algorithm 1 (II), batch 32, Rand-K: ms per step (less is better)", ""]
    has_ss = any("scale_step_ms" in r for r in res["steps"])
    L.append("| shape | n | d | K | mast | " + ("mast (scale_step) | " if has_ss else "")
             + "numba loop | SciPy | numba/mast | SciPy/mast | f(x): mast | numba | SciPy |")
    L.append("|---" * (12 + has_ss) + "|")
    for r in res["steps"]:
        ss = f"{g(r['scale_step_ms'])} | " if has_ss and "scale_step_ms" in r else (
            "– | " if has_ss else "")
        L.append(f"| {r['shape']} | {r['n']} | {r['d']:,} | {r['k']:,} | {g(r['mast_ms'])} | "
                 f"{ss}{g(r['numba_ms'])} | {g(r['scipy_ms'])} | **{r['numba_over_mast']:.2f}×** | "
                 f"{r['scipy_over_mast']:.2f}× | {r['mast_loss']:.6f} | {r['numba_loss']:.6f} | "
                 f"{r['scipy_loss']:.6f} |")
    L += ["", f"n: the first {args.step_rows} rows of each file ({args.step_rows // 32} steps an "
          "epoch; a step's cost does not depend on n in (II)); λ = 1/n, v = 0, x⁰ = 0, the "
          "theory step γ = 1/(L_f·L_S^max) (mast's, passed to the peers). Each figure is the "
          f"best over {args.rounds} interleaved rounds; a timed run is {args.epochs} epochs from "
          "x⁰ = 0, set-up included, for all three (mast: `peers_dsgd`, ≥ 3 timed runs after "
          f"a warm-up epoch and ≥ {args.mast_min_time:g} s; peers: best of "
          f"{args.peer_repeats} runs in-process, after loading and numba's compilation). "
          "f(x): full training loss after the run (the three draw different Ω and batches).",
          ""]
    L += ["### Loading: seconds (less is better)", ""]
    L.append("| shape | file | MB | n | d | nonzeros | scikit-learn | mast, first | "
             "mast, second | first/sklearn | second/sklearn | mast peak RSS |")
    L.append("|---" * 12 + "|")
    for r in res["loaders"]:
        L.append(f"| {r['shape']} | {r['file']} | {r['mb']:.0f} | {r['n']:,} | {r['d']:,} | "
                 f"{r['nnz']:,} | {g(r['sklearn_s'])} | {g(r['mast_first_s'])} | "
                 f"{g(r['mast_second_s'])} | **{r['first_ratio']:.2f}×** | "
                 f"**{r['second_ratio']:.2f}×** | {r['mast_rss_mb']:.0f} MB |")
    L += ["", f"mast: the whole process `{res['load_cmd']}` (load, then one gradient at x⁰ = 0, "
          "where the tolerance stops it), run twice on a fresh copy of the file: the second run "
          "shows what a repeated run pays (a cached reload where mast caches parsed files). "
          "scikit-learn: `load_svmlight_file` in-process (its import not counted).", ""]
    L += ["### ERM: `mast erm` against `liblinear-train -s 0 -c 1 -e 1e-10` (whole processes)",
          ""]
    L.append("| shape | file | n | d | mast erm | LIBLINEAR | mast/LIBLINEAR | mast method, "
             "iterations | f: mast | f: LIBLINEAR | rel. diff | peak RSS: mast | LIBLINEAR |")
    L.append("|---" * 13 + "|")
    for r in res["erm"]:
        def ratio(r):
            killed = (r["mast_rc"] == 137, r.get("liblinear_rc", 0) == 137)
            if killed == (True, True):
                return "–"
            return ("≥ " if killed[0] else "≤ " if killed[1] else "") + f"**{r['ratio']:.2f}×**"

        def rss(mb, rc):
            # A killed process's peak is not reported to GNU time through `timeout`.
            return "–" if rc == 137 else f"{mb:.0f} MB"

        def status(rc):
            return {0: "", 137: " (killed at the limit)"}.get(rc, f" (exit {rc})")

        L.append(f"| {r['shape']} | {r['file']} | {r['n']:,} | {r['d']:,} | "
                 f"{g(r['mast_s'])} s{status(r['mast_rc'])} | {g(r['liblinear_s'])} s"
                 f"{status(r.get('liblinear_rc', 0))} | {ratio(r)} | "
                 f"{r['mast_method']}, {r['mast_iterations']} | {r['f_mast']:.12g} | "
                 f"{r['f_liblinear']:.12g} | {r['rel_diff']:.1e} | "
                 f"{rss(r['mast_rss_mb'], r['mast_rc'])} | "
                 f"{rss(r['liblinear_rss_mb'], r.get('liblinear_rc', 0))} |")
    L += ["", "λ = 1/n for mast, C = 1/(λn) = 1 for LIBLINEAR (no bias): the same minimiser. "
          "f: the objective (mean logistic loss + λ/2‖x‖²); mast's is the f* it prints, "
          "LIBLINEAR's is evaluated with NumPy from its model file. One run each, killed "
          f"after {args.erm_limit} s.", ""]
    L += ["### Cost of a step as K, d, nonzeros a row and n grow (mast, numba loop)", ""]
    L.append("| varied | value | n | d | nnz/row | K | mast ms | numba ms | numba/mast |")
    L.append("|---" * 9 + "|")
    for r in res["sweep"]:
        L.append(f"| {r['axis']} | {r['value']:,} | {r['n']:,} | {r['d']:,} | "
                 f"{r['nnz_per_row']} | {r['k']:,} | {g(r['mast_ms'])} | {g(r['numba_ms'])} | "
                 f"{r['numba_over_mast']:.2f}× |")
    L += ["", "![step cost](scale.png)", ""]
    Path(path).write_text("\n".join(L))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mast-bin", required=True)
    p.add_argument("--mast-bench", required=True, help="the peers_dsgd bench binary")
    p.add_argument("--scale-step", help="the scale_step bench binary, where it exists")
    p.add_argument("--python", default="/usr/bin/python3")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=5,
                   help="epochs (of 10 steps on the first 320 rows) each timed run makes, "
                        "for mast and the peers alike: set-up (a d-vector's page faults) "
                        "spread over that many steps")
    p.add_argument("--peer-repeats", type=int, default=2)
    p.add_argument("--mast-min-time", type=float, default=0.3)
    p.add_argument("--scale-step-min-time", type=float, default=1.0)
    p.add_argument("--step-rows", type=int, default=320)
    p.add_argument("--url-rows", type=int, default=50_000)
    p.add_argument("--epsilon-rows", type=int, default=5_000)
    p.add_argument("--sections", default="steps,loaders,erm,sweep")
    p.add_argument("--erm-limit", type=int, default=180,
                   help="seconds after which an ERM process is killed (and marked so)")
    args = p.parse_args()
    if args.smoke:
        args.rounds, args.peer_repeats, args.mast_min_time = 1, 1, 0.02
        args.step_rows, args.scale_step_min_time = 64, 0.05
    start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    res = {"machine": machine(), "versions": versions(), "mast_commit": commit,
           "steps": [], "loaders": [], "erm": [], "sweep": [], "load_cmd": ""}
    sections = args.sections.split(",")
    full, steps = datasets(args)
    res["files"] = {s: str(p) for s, p in full.items()}

    def save():
        """Writes every result so far (after each section: a cut-off run keeps them)."""
        res["wall_s"] = time.time() - start
        write_csv(out / "scale.csv", res)
        write_md(out / "scale.md", args, res)
        (out / "scale.json").write_text(json.dumps(res, indent=1) + "\n")

    if "steps" in sections:
        res["steps"] = step_cells(args, steps)
        save()
    if "loaders" in sections:
        res["loaders"], res["load_cmd"] = loaders(args, full)
        save()
    if "erm" in sections:
        res["erm"] = erm(args, full)
        save()
    if "sweep" in sections:
        res["sweep"] = sweep(args)
        plot(out / "scale.png", res["sweep"])
    save()
    log(f"wrote {out}/scale.{{md,csv,json,png}} in {res['wall_s']:.0f} s")
    print((out / "scale.md").read_text())


if __name__ == "__main__":
    main()
