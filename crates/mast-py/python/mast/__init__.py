"""mast — Model-Agnostic Sparsified Training, with a Rust core.

MAST trains ``x`` to minimise ``f_D(x) = E_S f(v + S(x − v))``: the loss of a
randomly sparsified model, so that the trained model stays accurate when it is
pruned. This package exposes mast's Rust implementation to Python:

- :func:`load_svmlight` — LIBSVM files (plain or gzipped) as SciPy CSR + labels;
- :mod:`mast.sketch` — the sketch distributions (Bernoulli, Rand-K, Perm-K, ...);
- :func:`objective` — ``f``, ``∇f``, ``f_S``, the Monte-Carlo ``f_D`` and the exact
  quadratic forms;
- :class:`MastLogisticRegression`, :class:`MastLeastSquaresRegressor` —
  scikit-learn estimators running mast's training job (``mast train``);
- :mod:`mast.experiments` — the pruning, curves and grid experiments;
- :mod:`mast.torch` — a PyTorch hook (``MastSketch``) and pruning evaluation
  (import it explicitly; torch is optional).

``keep_prob`` is always the probability of KEEPING a weight (PyTorch's
``Dropout(p)`` takes the probability of dropping it).
"""

from ._core import MastError, __version__
from ._data import as_data, load_svmlight, load_svmlight_pair
from . import sketch
from .objective import Objective, objective
from .estimators import MastLeastSquaresRegressor, MastLogisticRegression
from . import experiments

__all__ = [
    "MastError",
    "__version__",
    "as_data",
    "load_svmlight",
    "load_svmlight_pair",
    "sketch",
    "Objective",
    "objective",
    "MastLogisticRegression",
    "MastLeastSquaresRegressor",
    "experiments",
]
