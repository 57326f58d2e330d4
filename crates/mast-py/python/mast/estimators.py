"""scikit-learn estimators that train with mast (``mast train``'s job).

:class:`MastLogisticRegression` (binary classification, logistic loss) and
:class:`MastLeastSquaresRegressor` (least squares) minimise the MAST objective
``f_D(x) = E_S f(S x)`` of an ℓ2-regularised linear model (no intercept, as in
mast) with Algorithm 1 (``dsgd``), Algorithm 2 (``distributed``), Algorithm 3
(``lsvrdsg``), plain gradient descent on f (``gd``) or the exact ERM solver
(``erm``). A fit runs ``mast.run.train_on`` — the code path of ``mast train`` —
so the same data, configuration and seed give the same metrics, bit for bit.
"""

from __future__ import annotations

import json
import numbers
import shutil
import tempfile
from typing import Any, Optional, Union

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

try:  # scikit-learn ≥ 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(est, X="no_validation", y="no_validation", reset=True, **kw):
        return est._validate_data(X, y, reset=reset, **kw)

from . import _core
from ._data import as_data
from .sketch import Sketch, from_spec

_KINDS_WITH_P = {"bernoulli": "bernoulli:{}", "dropconnect": "dropconnect:{}", "rand-k": "rand-k:q={}"}
_METHODS = ("dsgd", "distributed", "lsvrdsg", "gd", "erm")
_HISTORY = (
    "step", "epoch", "loss", "sketched_loss", "grad_norm", "train_accuracy", "val_accuracy",
    "test_accuracy", "coords_touched", "gamma", "dist_to_ref", "wall_time_s",
)


def _table(columns: dict) -> Any:
    """A dict of NumPy arrays, or a pandas DataFrame when pandas is installed."""
    try:
        import pandas as pd
    except ImportError:
        return columns
    return pd.DataFrame(columns)


def history_table(rows: list) -> dict:
    """Rows of ``metrics.csv`` (as dicts) as a dict of NumPy arrays (missing → NaN)."""
    cols = {}
    for k in _HISTORY:
        vals = [r.get(k) for r in rows]
        if k in ("step", "coords_touched"):
            cols[k] = np.array(vals, dtype=np.int64)
        else:
            cols[k] = np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
    return cols


class _MastLinear(BaseEstimator):
    """Shared machinery of the two estimators (not public)."""

    _loss = "logistic"

    def __init__(
        self,
        *,
        sketch: Union[str, Sketch] = "bernoulli",
        keep_prob: Optional[float] = 0.5,
        method: str = "dsgd",
        variant: str = "exact",
        batch: int = 64,
        steps: Optional[int] = 1000,
        epochs: Optional[float] = None,
        step_size: Union[str, float] = "theory",
        step_multiplier: float = 1.0,
        decay_t0: float = 1000.0,
        alpha: Union[str, float] = "1/n",
        val_fraction: float = 0.0,
        eval_every: int = 10,
        nodes: int = 4,
        sharding: str = "iid",
        n_sketches: Optional[int] = None,
        ref_batch: Optional[int] = None,
        rho: Optional[float] = None,
        fd_samples: int = 200,
        tol: float = 1e-10,
        random_state: Any = None,
        threads: Optional[int] = None,
        output_dir: Optional[str] = None,
    ):
        self.sketch = sketch
        self.keep_prob = keep_prob
        self.method = method
        self.variant = variant
        self.batch = batch
        self.steps = steps
        self.epochs = epochs
        self.step_size = step_size
        self.step_multiplier = step_multiplier
        self.decay_t0 = decay_t0
        self.alpha = alpha
        self.val_fraction = val_fraction
        self.eval_every = eval_every
        self.nodes = nodes
        self.sharding = sharding
        self.n_sketches = n_sketches
        self.ref_batch = ref_batch
        self.rho = rho
        self.fd_samples = fd_samples
        self.tol = tol
        self.random_state = random_state
        self.threads = threads
        self.output_dir = output_dir

    # -- configuration -----------------------------------------------------

    def sketch_spec(self) -> str:
        """The sketch this estimator trains with, as a CLI spec string.

        ``sketch`` is a :class:`mast.sketch.Sketch`, a spec string, or a bare kind
        (``bernoulli``, ``rand-k``, ``dropconnect``) completed by ``keep_prob``.
        A ``keep_prob`` that is not None replaces the parameter of a Bernoulli,
        DropConnect or Rand-K sketch (for Rand-K it is the fraction kept q), so
        that ``GridSearchCV`` can search over it.
        """
        s = self.sketch
        p = self.keep_prob
        if isinstance(s, str) and s.strip().lower() in _KINDS_WITH_P:
            if p is None:
                raise _core.MastError(f"sketch = {s!r} needs keep_prob (the probability of KEEPING a weight)")
            return _KINDS_WITH_P[s.strip().lower()].format(_num(p, "keep_prob"))
        sk = from_spec(s)
        if p is None:
            return sk.spec
        kind = sk.spec.split(":")[0]
        if kind not in _KINDS_WITH_P:
            raise _core.MastError(
                f"keep_prob = {p!r} does not apply to the sketch {sk.spec!r}: set keep_prob=None"
            )
        return _KINDS_WITH_P[kind].format(_num(p, "keep_prob"))

    def _seed(self) -> int:
        rs = self.random_state
        if rs is None:
            return 42  # mast's default seed: fits are reproducible by default
        if isinstance(rs, numbers.Integral):
            if rs < 0:
                raise _core.MastError(f"random_state must be ≥ 0, got {rs}")
            return int(rs)
        return int(check_random_state(rs).randint(0, 2**31 - 1))

    def train_config(self, output_dir: str) -> dict:
        """The training configuration (``TrainConfig`` of ``mast train``, as a
        dict) that :meth:`fit` runs; ``config.toml`` in the run folder holds it."""
        if self.method not in _METHODS:
            raise _core.MastError(
                f"invalid parameter `method`: unknown method {self.method!r}: use one of {', '.join(_METHODS)}"
            )
        alg = {
            "method": self.method,
            "variant": self.variant,
            "batch": _int(self.batch, "batch"),
            "steps": None if self.steps is None else _int(self.steps, "steps"),
            "epochs": None if self.epochs is None else _num(self.epochs, "epochs"),
            "step_size": self.step_size if isinstance(self.step_size, str) else _num(self.step_size, "step_size"),
            "step_multiplier": _num(self.step_multiplier, "step_multiplier"),
            "decay_t0": _num(self.decay_t0, "decay_t0"),
            "eval_every": _int(self.eval_every, "eval_every"),
        }
        for k in ("n_sketches", "ref_batch"):
            if getattr(self, k) is not None:
                alg[k] = _int(getattr(self, k), k)
        if self.rho is not None:
            alg["rho"] = _num(self.rho, "rho")
        cfg = {
            "name": "python",
            "seed": self._seed(),
            "sketch": self.sketch_spec(),
            "data": {"train": "<in-memory>", "val_fraction": _num(self.val_fraction, "val_fraction")},
            "objective": {
                "loss": self._loss,
                "lambda": self.alpha if isinstance(self.alpha, str) else _num(self.alpha, "alpha"),
            },
            "algorithm": alg,
            "distributed": {"nodes": _int(self.nodes, "nodes"), "sharding": str(self.sharding)},
            "output": {"dir": output_dir, "fd_samples": _int(self.fd_samples, "fd_samples")},
        }
        if self.threads is not None:
            cfg["threads"] = _int(self.threads, "threads")
        return cfg

    # -- fitting -----------------------------------------------------------

    def _fit_targets(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit(self, X, y, eval_set=None):
        """Train on ``(X, y)``; returns ``self``.

        ``X``: a NumPy array or SciPy sparse matrix (CSR and C-contiguous float64
        are used without copying the features; see :func:`mast.as_data`).
        ``eval_set``: an optional ``(X_test, y_test)`` whose accuracy (or loss)
        is tracked in ``history_`` (the run's ``test_accuracy`` column).

        The GIL is released while mast trains. Bad input (NaN or inf in X,
        mismatched shapes, labels of more than two classes, ``keep_prob = 0``)
        raises :class:`mast.MastError`, a ``ValueError``, with mast's message.
        """
        X, y = _validate_data(
            self, X, y, accept_sparse=("csr", "csc"), dtype=np.float64,
            ensure_all_finite=False, y_numeric=self._loss != "logistic",
        )
        targets = self._fit_targets(y)
        data = as_data(X, targets, "train")
        test = None
        if eval_set is not None:
            Xt, yt = eval_set
            Xt = _validate_data(self, Xt, accept_sparse=("csr", "csc"), dtype=np.float64,
                                ensure_all_finite=False, reset=False)
            test = as_data(Xt, self._fit_targets(np.asarray(yt), test=True), "test")
        if self.method == "erm":
            return self._fit_erm(data)
        out = self.output_dir
        tmp = None
        if out is None:
            tmp = tempfile.mkdtemp(prefix="mast-fit-")
            out = tmp
        try:
            cfg = self.train_config(str(out))
            res = _core.train(json.dumps(cfg), data, test, "overwrite")
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        summary = json.loads(res["summary"])
        rows = json.loads(res["metrics"])
        self._set_coef(np.asarray(res["x"]))
        self.best_coef_ = None if res["best_x"] is None else np.asarray(res["best_x"])
        self.best_step_ = res["best_step"]
        self.n_iter_ = int(summary["steps"])
        self.history_ = _table(history_table(rows))
        self.theory_ = dict(summary["theory"])
        if summary.get("distributed") is not None:
            self.theory_["distributed"] = summary["distributed"]
        self.summary_ = summary
        self.run_dir_ = None if tmp is not None else str(res["dir"])
        self.sketch_ = self.sketch_spec()
        self.fd_ = (summary["fd_final"]["mean"], summary["fd_final"]["std_err"])
        return self

    def _fit_erm(self, data):
        res = _core.erm(data, self._loss, str(self.alpha), _num(self.tol, "tol"), 100)
        self._set_coef(np.asarray(res["x"]))
        self.best_coef_ = None
        self.best_step_ = None
        self.n_iter_ = int(res["iterations"])
        self.history_ = _table({
            "step": np.array([res["iterations"]], dtype=np.int64),
            "loss": np.array([res["loss"]]),
            "grad_norm": np.array([res["grad_norm"]]),
        })
        self.theory_ = {"f_star": res["loss"], "lambda": res["lambda"], "solver": res["method"],
                        "converged": res["converged"]}
        self.summary_ = dict(res, x=None)
        self.run_dir_ = None
        self.sketch_ = "identity"
        self.fd_ = None
        return self

    def _set_coef(self, x: np.ndarray) -> None:
        raise NotImplementedError

    def _margins(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_")
        X = _validate_data(self, X, accept_sparse=("csr", "csc"), dtype=np.float64, reset=False)
        return np.asarray(X @ self.coef_.reshape(-1)).reshape(-1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MastLogisticRegression(ClassifierMixin, _MastLinear):
    """Binary logistic regression trained with MAST (mast's Rust core).

    Minimises ``f_D(x) = E_S f(S x)`` for ``f`` the ℓ2-regularised logistic loss
    (no intercept): the model it finds stays accurate when its weights are
    randomly pruned by the sketch ``S``.

    Parameters
    ----------
    sketch : str or mast.sketch.Sketch, default "bernoulli"
        The sketch distribution: a :mod:`mast.sketch` object, a CLI spec string
        (``"rand-k:0.5"``, ``"perm-k:4"``, ``"identity"``...), or a bare kind
        (``"bernoulli"``, ``"rand-k"``, ``"dropconnect"``) completed by ``keep_prob``.
    keep_prob : float or None, default 0.5
        Probability of KEEPING a weight (Rand-K: the fraction kept). Replaces the
        parameter of a Bernoulli / Rand-K / DropConnect sketch; None keeps the
        sketch as given. ``keep_prob = 0`` is an error.
    method : {"dsgd", "distributed", "lsvrdsg", "gd", "erm"}, default "dsgd"
        Algorithm 1, Algorithm 2 (``nodes`` nodes), Algorithm 3, gradient descent
        on f (no sketch), or the exact ERM optimum (Newton / trust-region).
    variant : {"exact", "minibatch"}, default "exact"
        Full-data gradients (I) or minibatches of ``batch`` samples (II).
    batch : int, default 64
    steps : int or None, default 1000
        Iterations (or give ``epochs`` and set ``steps=None``).
    epochs : float or None, default None
    step_size : "theory", "decreasing", "nonconvex" or float, default "theory"
        ``theory`` is γ = step_multiplier / (L_f · L_S^max).
    step_multiplier : float, default 1.0
    decay_t0 : float, default 1000.0
        Decay time of ``decreasing``: γ_t = γ_0 / (1 + t/t0).
    alpha : float or "1/n", default "1/n"
        λ of the ℓ2 term (n: training samples after the validation hold-out).
    val_fraction : float, default 0.0
        Fraction of the training data held out (seeded) to track the best
        iterate (``best_coef_``).
    eval_every : int, default 10
        Rows of ``history_``: one every this many steps.
    nodes, sharding : int, str
        Algorithm 2's node count and data split (``iid``, ``by-label``, ``dirichlet:A``).
    n_sketches, ref_batch, rho : Algorithm 3's N, b and ρ (defaults: 100, N, 1/N).
    fd_samples : int, default 200
        Draws of the final Monte-Carlo estimate of f_D (``fd_``).
    tol : float, default 1e-10
        Gradient-norm tolerance of ``method="erm"``.
    random_state : None, int or RandomState, default None
        The master seed (None: mast's default seed 42, so fits are reproducible).
    threads : int or None
        Worker threads (results do not depend on it).
    output_dir : str or None
        Where to write the run folder (config.toml, metrics.csv, summary.json,
        models); None writes it to a temporary folder that is removed.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The labels; ``classes_[0]`` is mast's −1, ``classes_[1]`` its +1.
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)  (always 0: mast's models have no intercept)
    n_iter_ : int
    history_ : DataFrame or dict of ndarrays
        The run's metrics table (``metrics.csv``): step, epoch, loss, sketched_loss,
        grad_norm, train/val/test accuracy, coords_touched, gamma, dist_to_ref, wall_time_s.
    theory_ : dict
        The theory report: L_f, μ_f, L_D, μ_D, L_S^max, the step rules (theory and
        non-convex γ), the predicted contraction and the bounds.
    summary_ : dict
        The run's ``summary.json``.
    best_coef_ : ndarray or None
        The best-validation iterate (with ``val_fraction > 0``).
    fd_ : (float, float)
        Monte-Carlo ``f_D`` at the final iterate and its standard error.
    n_features_in_ : int
    """

    _loss = "logistic"

    def _fit_targets(self, y, test: bool = False) -> np.ndarray:
        if test:
            y = np.asarray(y).reshape(-1)
            bad = ~np.isin(y, self.classes_)
            if bad.any():
                raise _core.MastError(f"eval_set labels {np.unique(y[bad])[:5]} are not among classes_ {self.classes_}")
            return np.where(y == self.classes_[1], 1.0, -1.0)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise _core.MastError(
                f"MastLogisticRegression needs samples of 2 classes, got 1 class: {classes[0]!r}"
            )
        if len(classes) > 2:
            raise _core.MastError(
                f"Only binary classification is supported: MastLogisticRegression got y with {len(classes)} classes "
                f"({', '.join(map(repr, classes[:5].tolist()))}{', ...' if len(classes) > 5 else ''})"
            )
        self.classes_ = classes
        return np.where(y == classes[1], 1.0, -1.0)

    def _set_coef(self, x):
        self.coef_ = x.reshape(1, -1)
        self.intercept_ = np.zeros(1)

    def decision_function(self, X) -> np.ndarray:
        """The margins ``Xᵀcoef``; positive (or 0, as in mast) means ``classes_[1]``."""
        return self._margins(X)

    def predict(self, X) -> np.ndarray:
        """The predicted labels (from ``classes_``)."""
        margins = self.decision_function(X)
        return self.classes_[(margins >= 0).astype(int)]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``[1 − σ(m), σ(m)]`` for the margins m."""
        m = self.decision_function(X)
        p = np.empty_like(m)
        pos = m >= 0
        p[pos] = 1.0 / (1.0 + np.exp(-m[pos]))
        e = np.exp(m[~pos])
        p[~pos] = e / (1.0 + e)
        return np.column_stack([1.0 - p, p])

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        m = self.decision_function(X)
        return np.column_stack([-np.logaddexp(0, m), -np.logaddexp(0, -m)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


class MastLeastSquaresRegressor(RegressorMixin, _MastLinear):
    """Least-squares regression trained with MAST (mast's Rust core).

    Minimises ``f_D(x) = E_S f(S x)`` for ``f(x) = (1/2n)‖Ax − b‖² + (λ/2)‖x‖²``
    (no intercept: centre y, or add a column of ones). With a Bernoulli sketch
    this is ridge regression toward 0 weighted by the column norms (MAST.md §2).

    Takes the parameters of :class:`MastLogisticRegression`, and has its
    attributes except ``classes_``; ``coef_`` has shape (n_features,) and
    ``intercept_`` is 0.0.
    """

    _loss = "least-squares"

    def _fit_targets(self, y, test: bool = False) -> np.ndarray:
        return np.asarray(y, dtype=np.float64).reshape(-1)

    def _set_coef(self, x):
        self.coef_ = x
        self.intercept_ = 0.0

    def predict(self, X) -> np.ndarray:
        """``X coef``."""
        return self._margins(X)


def _num(v, name: str) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise _core.MastError(f"invalid parameter `{name}`: expected a number, got {v!r}")
    return float(v)


def _int(v, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise _core.MastError(f"invalid parameter `{name}`: expected a whole number, got {v!r}")
    if v < 0:
        raise _core.MastError(f"invalid parameter `{name}`: must be ≥ 0, got {v}")
    return int(v)
