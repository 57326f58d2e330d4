# %% [markdown]
# # Pruning robustness on a5a from Python (the paper's Figure 1)
#
# Notebook-style (cells marked `# %%`: open in Jupyter with jupytext, or run as a script):
#
#     pip install crates/mast-py matplotlib   # matplotlib is optional (the figure)
#     python examples/python/prune_a5a.py [--quick]
#
# For each sparsity level q (fraction of weights KEPT), the exact ERM model and a MAST model
# (Algorithm 1 (I), Rand-K(q)) are pruned by the same random masks, and their test accuracies
# compared. MAST models stay accurate; ERM models do not. The run writes the same folder as
# `mast experiment prune --config examples/prune-a5a.toml` (CSVs, figures, index.html).

# %%
import sys
from pathlib import Path

import numpy as np

import mast

root = Path(__file__).resolve().parents[2]
quick = "--quick" in sys.argv

# %% The experiment, through mast's Rust core (the CLI's settings file).
res = mast.experiments.prune(
    config=root / "examples" / "prune-a5a.toml",
    out=root / "runs" / "prune-a5a-python",
    **({"q": [0.1, 0.5, 0.9], "masks": 20, "steps": 500} if quick else {}),
)
print("report:", res["files"].get("index.html"))

# %% The medians per level (the figure's boxes).
summary = res["summary"]
cols = {k: np.asarray(summary[k]) for k in summary}
print(f"{'q':>5} {'method':>7} {'median':>8}")
for q, m, med in zip(cols["q"], cols["method"], cols["median"]):
    print(f"{q:5.2f} {m:>7} {med:8.4f}")

# %% The figure (matplotlib, if installed; the report has mast's own PNG/SVG).
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    rows = res["prune"]
    q_all, meth, acc = (np.asarray(rows[k]) for k in ("q", "method", "test_accuracy"))
    levels = np.unique(q_all)
    fig, ax = plt.subplots(figsize=(8, 4))
    for off, name in ((-0.012, "erm"), (0.012, "mast")):
        ax.boxplot([acc[(q_all == q) & (meth == name)] for q in levels], positions=levels + off,
                   widths=0.02, manage_ticks=False)
    ax.set_xlabel("q (fraction of weights kept)")
    ax.set_ylabel("test accuracy after pruning")
    ax.set_title("a5a: ERM (left) vs MAST (right) boxes")
    out = Path(res["out"]) / "prune_python.png"
    fig.savefig(out, dpi=120)
    print("figure:", out)
