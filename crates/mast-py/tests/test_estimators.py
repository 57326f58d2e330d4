"""The scikit-learn estimators: conventions, check_estimator, GridSearchCV,
equality with the CLI bit for bit, bad input, the GIL."""

import csv
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler
from sklearn.utils.estimator_checks import check_estimator

import mast
from mast import _core

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("est", [mast.MastLogisticRegression(), mast.MastLeastSquaresRegressor()],
                         ids=lambda e: type(e).__name__)
def test_check_estimator(est):
    results = check_estimator(est, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed, failed
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    # Only checks that need optional packages (pandas, array-api) may be skipped.
    assert skipped <= {"check_array_api_input", "check_classifier_data_not_an_array",
                       "check_regressor_data_not_an_array", "check_estimators_dtypes_pandas",
                       "check_dataframe_column_names_consistency", "check_n_features_in_after_fitting"}, skipped


def test_fit_on_a5a_and_attributes(a5a):
    X, y, Xt, yt = a5a
    m = mast.MastLogisticRegression(sketch="rand-k", keep_prob=0.5, steps=300, eval_every=50)
    assert m.fit(X, y, eval_set=(Xt, yt)) is m
    acc = m.score(Xt, yt)
    assert 0.8 < acc < 0.9
    h = m.history_
    assert list(np.asarray(h["step"])) == [0, 50, 100, 150, 200, 250, 300]
    # The run's test accuracy is the estimator's score (mast counts margin 0 as +1, as predict does).
    assert np.asarray(h["test_accuracy"])[-1] == acc
    assert m.n_iter_ == 300 and m.coef_.shape == (1, 123) and m.intercept_.shape == (1,)
    np.testing.assert_array_equal(m.classes_, [-1.0, 1.0])
    t = m.theory_
    assert t["l_d"] == pytest.approx(123 / 62) and t["theory_gamma"] == pytest.approx(1 / (t["l_f"] * t["l_s_max"]))
    assert m.sketch_ == "rand-k:q=0.5"
    proba = m.predict_proba(Xt[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(m.classes_[proba.argmax(axis=1)] == m.predict(Xt[:5]))


def test_labels_are_mapped_like_the_cli():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    y = (X[:, 0] > 0).astype(int)
    a = mast.MastLogisticRegression(steps=30).fit(X, np.where(y == 1, "yes", "no"))
    b = mast.MastLogisticRegression(steps=30).fit(X, 2 * y - 1)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert list(a.classes_) == ["no", "yes"]


@pytest.mark.parametrize("method", ["dsgd", "distributed", "lsvrdsg", "gd", "erm"])
def test_every_method(method):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 5))
    y = np.where(X @ np.arange(1, 6) > 0, 1, -1)
    kw = {"n_sketches": 10} if method == "lsvrdsg" else {}
    m = mast.MastLogisticRegression(method=method, steps=200, **kw).fit(X, y)
    assert m.score(X, y) > 0.85
    r = mast.MastLeastSquaresRegressor(method=method, steps=200, **kw).fit(X, X @ np.arange(1, 6))
    assert r.score(X, X @ np.arange(1, 6)) > 0.5


def test_gridsearch_over_keep_prob_in_a_pipeline(a5a):
    X, y, Xt, yt = a5a
    pipe = Pipeline([("scale", MaxAbsScaler()), ("mast", mast.MastLogisticRegression(sketch="bernoulli", steps=100))])
    gs = GridSearchCV(pipe, {"mast__keep_prob": [0.3, 0.6, 0.9]}, cv=3).fit(X[:3000], y[:3000])
    assert gs.best_params_["mast__keep_prob"] in (0.3, 0.6, 0.9)
    assert len(gs.cv_results_["mean_test_score"]) == 3
    assert gs.score(Xt, yt) > 0.8


def test_sketch_as_object_or_string():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 10))
    y = np.where(X[:, 0] > 0, 1, -1)
    a = mast.MastLogisticRegression(sketch=mast.sketch.RandK(k=5), keep_prob=None, steps=40).fit(X, y)
    b = mast.MastLogisticRegression(sketch="rand-k:k=5", keep_prob=None, steps=40).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    # keep_prob overrides a spec's parameter (so grid searches can vary it).
    c = mast.MastLogisticRegression(sketch="rand-k:0.9", keep_prob=0.5, steps=40).fit(X, y)
    d = mast.MastLogisticRegression(sketch=mast.sketch.RandK(q=0.5), keep_prob=None, steps=40).fit(X, y)
    np.testing.assert_array_equal(c.coef_, d.coef_)


def test_bad_input_raises_value_errors():
    X = np.random.default_rng(0).normal(size=(30, 3))
    y3 = np.arange(30) % 3
    with pytest.raises(ValueError, match="Only binary classification is supported.*3 classes"):
        mast.MastLogisticRegression().fit(X, y3)
    y = np.where(X[:, 0] > 0, 1, -1)
    with pytest.raises(mast.MastError, match="bernoulli.*0|keep"):
        mast.MastLogisticRegression(keep_prob=0.0).fit(X, y)
    with pytest.raises(mast.MastError, match="unknown method"):
        mast.MastLogisticRegression(method="adam").fit(X, y)
    with pytest.raises(mast.MastError, match="does not apply"):
        mast.MastLogisticRegression(sketch="perm-k:4", keep_prob=0.5).fit(X, y)
    with pytest.raises(mast.MastError, match="step_multiplier|step"):
        mast.MastLogisticRegression(step_size=-1.0).fit(X, y)
    with pytest.raises(mast.MastError, match="diverged"):
        mast.MastLogisticRegression(step_size=1e6, steps=50).fit(X * 100, y)


def test_random_state():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 8))
    y = np.where(X[:, 0] > 0, 1, -1)
    a = mast.MastLogisticRegression(random_state=5, steps=30).fit(X, y).coef_
    b = mast.MastLogisticRegression(random_state=5, steps=30).fit(X, y).coef_
    c = mast.MastLogisticRegression(random_state=6, steps=30).fit(X, y).coef_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gil_is_released_while_training(a5a):
    X, y, _, _ = a5a
    m = mast.MastLogisticRegression(steps=1500, threads=1)
    done = threading.Event()
    ticks = []

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    start = time.perf_counter()
    m.fit(X, y)
    end = time.perf_counter()
    done.set()
    t.join()
    inside = [s for s in ticks if start < s < end]
    # A thread that held the GIL for the whole fit would let the counter run ~never.
    assert len(inside) > 0.25 * (end - start) / 0.001 * 0.5, (len(inside), end - start)


# --- Python against the CLI, bit for bit ------------------------------------

def _cli():
    exe = os.environ.get("MAST_CLI")
    if exe:
        return exe
    for p in (REPO / "target" / "release" / "mast", REPO / "target" / "debug" / "mast"):
        if p.exists():
            return str(p)
    return None


def _metrics(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r.pop("wall_time_s")  # the only column that differs between identical runs
    return rows


CASES = {
    "dsgd-exact": ({"sketch": "rand-k:0.5"}, {}),
    "dsgd-minibatch": ({"sketch": "bernoulli:0.3"}, {"variant": "minibatch", "batch": 32}),
    "distributed": ({"sketch": "perm-k:4"}, {"method": "distributed"}),
    "lsvrdsg": ({"sketch": "rand-k:0.5"}, {"method": "lsvrdsg", "n_sketches": 8}),
    "gd": ({"sketch": "identity"}, {"method": "gd"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_python_equals_cli_bit_for_bit(case, tmp_path, data_dir):
    top, alg = CASES[case]
    algorithm = {"method": "dsgd", "variant": "exact", "steps": 120, "eval_every": 10, **alg}
    lines = [f'seed = 7', f'sketch = "{top["sketch"]}"', "[data]", f'train = "{data_dir / "a5a.gz"}"',
             "val_fraction = 0.1", "[objective]", 'loss = "logistic"', 'lambda = "1/n"', "[algorithm]"]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in algorithm.items()]
    lines += ["[distributed]", "nodes = 4", "[output]", f'dir = "{tmp_path / "cli"}"']
    cfg = tmp_path / "run.toml"
    cfg.write_text("\n".join(lines) + "\n")
    exe = _cli()
    if exe:
        subprocess.run([exe, "train", "--config", str(cfg), "--force", "--quiet"], check=True,
                       capture_output=True)
    else:  # the library path the CLI runs (mast::run::train on the config file)
        _core.train_config_file(str(cfg))
    X, y = mast.load_svmlight(data_dir / "a5a.gz")
    m = mast.MastLogisticRegression(sketch=top["sketch"], keep_prob=None, random_state=7, val_fraction=0.1,
                                    output_dir=str(tmp_path / "py"), **{k: v for k, v in algorithm.items()
                                                                         if k != "method"},
                                    method=algorithm["method"])
    m.fit(X, y)
    cli_rows = _metrics(tmp_path / "cli" / "metrics.csv")
    py_rows = _metrics(tmp_path / "py" / "metrics.csv")
    assert len(cli_rows) == 13 and py_rows == cli_rows
    # And the in-memory history is the same table.
    assert [repr(float(v)) for v in np.asarray(m.history_["loss"])] == \
        [repr(float(r["loss"])) for r in cli_rows]
    import json
    cli_final = json.loads((tmp_path / "cli" / "model_final.json").read_text())["x"]
    np.testing.assert_array_equal(m.coef_.ravel(), np.array(cli_final))
