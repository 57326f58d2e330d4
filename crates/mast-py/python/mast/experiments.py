"""The paper's experiments from Python: :func:`prune`, :func:`curves`,
:func:`grid` — the CLI's ``mast experiment prune|curves|grid``.

Each writes the same output folder as the CLI (``config.toml``, run folders
under ``runs/``, CSV tables, figures, ``index.html``) and returns its tables as
dicts of NumPy arrays — or pandas DataFrames when pandas is installed.

Settings are the keys of the CLI's TOML configs (``examples/prune-a5a.toml``,
``curves-a5a.toml``, ``grid-a5a.toml``): pass ``config=`` (a TOML path or a dict)
and/or keyword overrides. Data paths may be relative to the current folder.
The GIL is released while an experiment runs.
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any, Optional, Union

import numpy as np

from . import _core

__all__ = ["prune", "curves", "grid", "read_table"]

_DATA_KEYS = ("train", "test", "val_fraction", "lambda")


def read_table(path: Union[str, os.PathLike]) -> Any:
    """A CSV file as a dict of NumPy arrays (numeric columns as float64, empty
    cells NaN; others as str), or a DataFrame when pandas is installed."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    cols = {}
    for k, name in enumerate(header):
        vals = [r[k] if k < len(r) else "" for r in body]
        try:
            cols[name] = np.array([float(v) if v != "" else np.nan for v in vals], dtype=np.float64)
        except ValueError:
            cols[name] = np.array(vals, dtype=str)
    try:
        import pandas as pd
    except ImportError:
        return cols
    return pd.DataFrame(cols)


def _config(kind: str, config: Union[None, str, os.PathLike, dict], overrides: dict) -> dict:
    if config is None:
        cfg: dict = {}
    elif isinstance(config, dict):
        cfg = json.loads(json.dumps(config))
    else:
        cfg = json.loads(_core.experiment_config(kind, os.fspath(config)))
    data = dict(cfg.get("data", {}))
    for k in list(overrides):
        key = "lambda" if k == "lambda_" else k
        if key in _DATA_KEYS:
            data[key] = overrides.pop(k)
    for k in ("train", "test"):
        if k in data:
            data[k] = os.path.abspath(os.fspath(data[k]))
    cfg["data"] = data
    cfg.update(overrides)
    return cfg


def _run(kind: str, config, out, threads, overrides) -> dict:
    cfg = _config(kind, config, overrides)
    out = os.path.abspath(os.fspath(out))
    files = _core.run_experiment(kind, json.dumps(cfg), out, threads)
    result = {"out": out, "files": {k: str(v) for k, v in files.items()}, "config": cfg}
    return result


def prune(
    train: Optional[str] = None,
    test: Optional[str] = None,
    *,
    config: Union[None, str, dict] = None,
    out: Union[str, os.PathLike] = "runs/prune",
    threads: Optional[int] = None,
    **settings: Any,
) -> dict:
    """Pruning robustness (the paper's Figure 1; ``mast experiment prune``).

    For each sparsity level q (fraction of weights KEPT), the exact ERM model
    and a MAST model (Algorithm 1 with Rand-K(q) or Bernoulli(q)) are pruned by
    the same ``masks`` random masks and their test accuracies recorded.

    Settings (the TOML keys): ``q`` (list), ``masks``, ``sketch`` (``"rand-k"`` or
    ``"bernoulli"``), ``rescale``, ``seed``, ``steps``, ``eval_every``,
    ``step_multiplier``, ``name``; data: ``train``, ``test``, ``val_fraction``,
    ``lambda_``.

    Returns a dict: ``prune`` (every pruned model: q, method, mask, kept,
    test_accuracy), ``summary`` (quartiles per q and method), ``models`` (the
    unpruned models), ``files``, ``out``, ``config``.
    """
    if train is not None:
        settings["train"] = train
    if test is not None:
        settings["test"] = test
    r = _run("prune", config, out, threads, settings)
    files = r["files"]
    for key, name in (("prune", "prune.csv"), ("summary", "prune_summary.csv"), ("models", "models.csv")):
        if name in files:
            r[key] = read_table(files[name])
    return r


def curves(
    config: Union[str, dict],
    *,
    out: Union[str, os.PathLike] = "runs/curves",
    threads: Optional[int] = None,
    **settings: Any,
) -> dict:
    """Training curves over seeds (``mast experiment curves``): every method of
    the config is run for every seed; the curves are summarised (mean and band).

    Returns a dict: ``curves`` (every metrics row of every run), ``summary``
    (per method and step), ``final`` (the final-values table), ``files``,
    ``out``, ``config``.
    """
    r = _run("curves", config, out, threads, settings)
    files = r["files"]
    for key, name in (("curves", "curves.csv"), ("summary", "curves_summary.csv"), ("final", "curves_final.csv")):
        r[key] = read_table(files[name])
    return r


def grid(
    config: Union[str, dict],
    *,
    out: Union[str, os.PathLike] = "runs/grid",
    threads: Optional[int] = None,
    **settings: Any,
) -> dict:
    """Step size × sparsity grids (``mast experiment grid``): one run per
    (panel, sparsity, γ); the largest stable γ per sparsity.

    Returns a dict: ``grid`` (every cell), ``stable`` (the stable-step table),
    ``files``, ``out``, ``config``.
    """
    r = _run("grid", config, out, threads, settings)
    files = r["files"]
    r["grid"] = read_table(files["grid.csv"])
    r["stable"] = read_table(files["grid_stable.csv"])
    return r
