"""The experiments from Python write the CLI's folders and return their tables."""

from pathlib import Path

import numpy as np
import pytest

import mast

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _col(table, name):
    return np.asarray(table[name])


def test_prune(tmp_path, data_dir):
    r = mast.experiments.prune(data_dir / "a5a.gz", data_dir / "a5a.t.gz", out=tmp_path / "prune",
                               q=[0.3, 0.8], masks=4, steps=40, eval_every=10, threads=1)
    assert (tmp_path / "prune" / "index.html").exists()
    assert (tmp_path / "prune" / "prune.csv").exists()
    assert len(_col(r["prune"], "test_accuracy")) == 2 * 2 * 4  # q × {erm, mast} × masks
    assert set(_col(r["summary"], "method")) == {"erm", "mast"}
    # The same settings from the CLI's TOML (paths relative to it) with overrides.
    r2 = mast.experiments.prune(config=EXAMPLES / "prune-a5a.toml", out=tmp_path / "prune2",
                                q=[0.3, 0.8], masks=4, steps=40, eval_every=10, seed=42, threads=1)
    np.testing.assert_array_equal(_col(r2["prune"], "test_accuracy"), _col(r["prune"], "test_accuracy"))


def test_curves_and_grid(tmp_path):
    c = mast.experiments.curves(EXAMPLES / "curves-a5a.toml", out=tmp_path / "curves", seeds=[1],
                                steps=20, eval_every=10)
    assert (tmp_path / "curves" / "index.html").exists() and len(_col(c["final"], _first(c["final"]))) == 5
    g = mast.experiments.grid(EXAMPLES / "grid-a5a.toml", out=tmp_path / "grid", steps=20, eval_every=10,
                              gammas=[0.1, 1.0])
    assert (tmp_path / "grid" / "grid.csv").exists() and len(_col(g["grid"], _first(g["grid"]))) > 0


def test_bad_settings():
    with pytest.raises(ValueError, match="q|not in"):
        mast.experiments.prune("data/a5a.gz", "data/a5a.t.gz", q=[1.5], out="/tmp/never")
    with pytest.raises(ValueError, match="unknown field|invalid"):
        mast.experiments.prune("data/a5a.gz", "data/a5a.t.gz", qq=[0.5], out="/tmp/never")


def _first(table):
    return list(table.keys())[0] if isinstance(table, dict) else table.columns[0]
