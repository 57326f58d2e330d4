"""The MAST objective of a linear model over data: ``f``, ``∇f``, ``f_S``,
the Monte-Carlo ``f_D`` with its standard error, and — for least squares —
the exact quadratic forms of MAST.md §2."""

from __future__ import annotations

from typing import Any, NamedTuple, Optional, Union

import numpy as np

from . import _core
from ._data import as_data
from .sketch import Sketch, from_spec


class Estimate(NamedTuple):
    """A Monte-Carlo estimate: the sample mean and its standard error."""

    mean: float
    std_err: float


def _vec(x: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))


class Objective:
    """``f(x) = (1/n) Σ loss(a_iᵀx, b_i) + (λ/2)‖x‖²`` over a dataset
    (``loss`` = ``logistic`` with labels ±1, or ``least-squares``), evaluated by
    mast's Rust code. Make one with :func:`objective`.

    ``sketch`` arguments take a :class:`mast.sketch.Sketch` or a spec string;
    ``v`` is the shift (a pre-trained model; default 0).
    """

    def __init__(self, core: "_core.Objective", loss: str):
        self._core = core
        self.loss = loss

    @property
    def n_features(self) -> int:
        """The dimension d."""
        return self._core.n_features

    @property
    def lambda_(self) -> float:
        """λ, resolved (``"1/n"`` becomes a number)."""
        return self._core.lambda_

    @property
    def L_f(self) -> float:
        """The smoothness constant of f."""
        return self._core.smoothness

    @property
    def mu_f(self) -> float:
        """The strong-convexity constant of f (λ)."""
        return self._core.strong_convexity

    def _sketch(self, sketch: Union[Sketch, str]) -> "_core.Sketch":
        return from_spec(sketch).build(self.n_features)

    def f(self, x) -> float:
        """``f(x)``."""
        return self._core.value(_vec(x))

    def grad(self, x) -> np.ndarray:
        """``∇f(x)``."""
        return self._core.gradient(_vec(x))

    def sketched(self, x, sketch: Union[Sketch, str], seed: int = 42, index: int = 0, v=None):
        """``(f_S(x), ∇f_S(x))`` for the ``index``-th draw of mast's sketch stream
        for ``seed``: ``f(v + S(x − v))`` and ``Sᵀ∇f(v + S(x − v))``."""
        return self._core.sketched(_vec(x), self._sketch(sketch), seed, index, None if v is None else _vec(v))

    def fd(self, x, sketch: Union[Sketch, str], samples: int = 200, seed: int = 42, v=None) -> Estimate:
        """Monte-Carlo ``f_D(x) = E_S f(v + S(x − v))`` from ``samples`` draws
        (seeded as a run summary's ``fd_final``): an :class:`Estimate`."""
        mean, se = self._core.fd(_vec(x), self._sketch(sketch), samples, seed, None if v is None else _vec(v))
        return Estimate(mean, se)

    def quadratic(self, x, sketch: Union[Sketch, str], v=None) -> dict:
        """Exact MAST quantities (least squares only; MAST.md §2), as a dict:
        ``A``, ``b`` (``f(x) = ½xᵀAx − bᵀx + c``), ``expected_sas`` (``E[SᵀAS]``),
        ``f``, ``fd`` (exact ``f_D(x)``), ``grad_fd`` (``∇f_D(x)``), ``x_star``
        and ``x_d_star`` (the minimisers of f and f_D)."""
        return self._core.quadratic(_vec(x), self._sketch(sketch), None if v is None else _vec(v))

    def __repr__(self) -> str:
        return f"Objective(loss={self.loss!r}, n_features={self.n_features}, lambda_={self.lambda_!r})"


def objective(X, y, loss: str = "logistic", lambda_: Union[float, str] = "1/n") -> Objective:
    """The objective ``f`` of an ℓ2-regularised linear model on ``(X, y)``.

    ``X``: a NumPy array or SciPy sparse matrix (see :func:`mast.as_data` for
    what is copied). ``y``: labels ±1 for ``logistic`` (other two-valued labels
    are mapped, the smaller to −1), real targets for ``least-squares``.
    ``lambda_``: a number ≥ 0 or ``"1/n"``.
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if loss == "logistic":
        classes = np.unique(y)
        if len(classes) > 2:
            raise _core.MastError(f"logistic loss needs two classes, y has {len(classes)}: {classes[:10]}")
        if len(classes) == 2 and not np.array_equal(classes, [-1.0, 1.0]):
            y = np.where(y == classes[1], 1.0, -1.0)
    data = as_data(X, y)
    return Objective(_core.Objective(data, loss, str(lambda_)), loss)
