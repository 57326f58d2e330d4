"""Sketch distributions: random matrices ``S`` with ``E[S] = I`` (diagonal masks,
Gaussian factors, randomized Hadamard rotations, importance sampling).

Each class names a distribution; its dimension ``d`` is fixed either when it is
made (``dim=...``) or per call (most methods take ``dim``). Spec strings are the
CLI's: ``identity``, ``bernoulli:P``, ``rand-k:Q`` (fraction kept) or
``rand-k:k=K``, ``perm-k:M``, ``gaussian:S2``, ``hadamard:INNER``,
``importance:file:PATH``, ``dropconnect:P``, or any registered sketch;
:func:`from_spec` parses one.

``keep_prob`` is the probability of KEEPING a coordinate (PyTorch's
``Dropout(p)`` takes the probability of dropping it).

Constants (MAST.md §1): ``L_S_max = sup λmax(SᵀS)``, ``L_D = λmax E[SᵀS]``,
``mu_D = λmin E[SᵀS]``, the diagonal of ``E[SᵀS]``, and ``E[SᵀAS]`` exactly.
Draws come from mast's seeded sketch stream: ``draw(seed)`` is the first draw a
stream seeded with ``seed`` makes, the same in every process and platform.
"""

from __future__ import annotations

import re
from typing import Optional

import numpy as np

from . import _core

__all__ = [
    "Sketch",
    "Identity",
    "Bernoulli",
    "RandK",
    "PermK",
    "DropConnect",
    "Gaussian",
    "Hadamard",
    "Registered",
    "from_spec",
]


class Sketch:
    """Base class of the sketch distributions (see the module docs)."""

    dim: Optional[int]

    @property
    def spec(self) -> str:
        """The CLI spec string of this distribution (dimension-free)."""
        raise NotImplementedError

    def _d(self, dim: Optional[int]) -> int:
        d = dim if dim is not None else self.dim
        if d is None:
            raise _core.MastError(
                f"{self!r} has no dimension: give dim=... here or when making the sketch"
            )
        return int(d)

    def build(self, dim: Optional[int] = None) -> "_core.Sketch":
        """The compiled sketch in dimension ``dim`` (validates the parameters)."""
        return _core.Sketch(self.spec, self._d(dim))

    def draw(self, rng_seed: int, dim: Optional[int] = None):
        """The first draw of mast's sketch stream for ``rng_seed``.

        Returns ``(indices, scales)``: the kept coordinates (increasing, uint64)
        and the diagonal entries of ``S`` on them.
        """
        return self.build(dim).draws(int(rng_seed), 1)[0]

    def draws(self, rng_seed: int, count: int, dim: Optional[int] = None):
        """The first ``count`` draws of mast's sketch stream for ``rng_seed``."""
        return self.build(dim).draws(int(rng_seed), int(count))

    def is_diagonal(self, dim: Optional[int] = None) -> bool:
        """Whether every draw is a diagonal matrix (False for :class:`Hadamard`,
        whose draws are rotations: use :meth:`apply`)."""
        return self.build(dim).is_diagonal

    def apply(self, z, rng_seed: int, count: int = 1) -> np.ndarray:
        """``S_i z`` for the first ``count`` draws of mast's sketch stream for
        ``rng_seed`` (any sketch, diagonal or not): shape (count, d)."""
        z = np.ascontiguousarray(z, dtype=np.float64)
        return self.build(z.shape[0]).apply(z, int(rng_seed), int(count))

    def draw_dense(self, rng_seed: int, dim: Optional[int] = None) -> np.ndarray:
        """:meth:`draw` as the dense diagonal of ``S`` (zeros off the kept set)."""
        d = self._d(dim)
        idx, scales = self.draw(rng_seed, d)
        out = np.zeros(d)
        out[idx.astype(np.intp)] = scales
        return out

    def L_S_max(self, dim: Optional[int] = None) -> float:
        """``sup λmax(SᵀS)``: the largest squared scale."""
        return self.build(dim).l_s_max

    def L_D(self, dim: Optional[int] = None) -> float:
        """``λmax E[SᵀS]``."""
        return self.build(dim).l_d

    def mu_D(self, dim: Optional[int] = None) -> float:
        """``λmin E[SᵀS]``."""
        return self.build(dim).mu_d

    def expected_sts_diag(self, dim: Optional[int] = None) -> np.ndarray:
        """The diagonal of ``E[SᵀS]`` (length d)."""
        return self.build(dim).expected_sts_diag()

    def expected_kept(self, dim: Optional[int] = None) -> float:
        """``E|Ω|``: the expected number of kept coordinates."""
        return self.build(dim).expected_kept

    def second_moment(self, j: int, l: int, dim: Optional[int] = None) -> float:
        """``E[s_j s_l]`` for the diagonal ``s`` of ``S``."""
        return self.build(dim).second_moment(j, l)

    def expected_sas(self, A) -> np.ndarray:
        """Exact ``E[SᵀAS]`` for a symmetric d×d matrix ``A`` (``A ∘ E[ssᵀ]`` for a
        diagonal sketch)."""
        A = np.ascontiguousarray(A, dtype=np.float64)
        return self.build(A.shape[0]).expected_sas(A)

    def is_unbiased(self) -> bool:
        """Whether ``E[S] = I`` (False only for :class:`DropConnect`)."""
        return True

    def enumerate(self, dim: Optional[int] = None):
        """Every draw with its probability, as ``[(prob, indices, scales)]``,
        where there are few enough to list (an exact oracle); else None."""
        return self.build(dim).enumerate()

    def _params(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items() if v is not None)
        if self.dim is not None:
            args = f"{args}, dim={self.dim}" if args else f"dim={self.dim}"
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.spec == other.spec and self.dim == other.dim

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.spec, self.dim))


class Identity(Sketch):
    """``S = I``: no sparsification (MAST reduces to plain training)."""

    def __init__(self, dim: Optional[int] = None):
        self.dim = dim

    @property
    def spec(self) -> str:
        return "identity"


class Bernoulli(Sketch):
    """Keep each coordinate independently with probability ``keep_prob``,
    rescaled by ``1/keep_prob`` (dropout on weights, unbiased).

    ``E[SᵀS] = I/p``, ``L_S_max = 1/p²``.
    """

    def __init__(self, keep_prob: float, dim: Optional[int] = None):
        self.keep_prob = keep_prob
        self.dim = dim

    @property
    def spec(self) -> str:
        return f"bernoulli:{float(self.keep_prob)!r}"

    def _params(self) -> dict:
        return {"keep_prob": self.keep_prob}


class DropConnect(Sketch):
    """The biased baseline: keep with probability ``keep_prob``, NO rescaling
    (``E[S] = pI``; the MAST theory does not apply)."""

    def __init__(self, keep_prob: float, dim: Optional[int] = None):
        self.keep_prob = keep_prob
        self.dim = dim

    @property
    def spec(self) -> str:
        return f"dropconnect:{float(self.keep_prob)!r}"

    def is_unbiased(self) -> bool:
        return False

    def _params(self) -> dict:
        return {"keep_prob": self.keep_prob}


class RandK(Sketch):
    """Keep a uniform random set of exactly ``K`` coordinates, scaled by ``d/K``.

    Give ``k`` (a count) or ``q`` (the fraction kept, ``K = round(q·d)``).
    ``E[SᵀS] = (d/K) I``, ``L_S_max = d²/K²``.
    """

    def __init__(self, k: Optional[int] = None, q: Optional[float] = None, dim: Optional[int] = None):
        if (k is None) == (q is None):
            raise _core.MastError("RandK needs exactly one of k (a count) or q (a fraction kept)")
        self.k = k
        self.q = q
        self.dim = dim

    @property
    def spec(self) -> str:
        if self.k is not None:
            return f"rand-k:k={int(self.k)}"
        return f"rand-k:q={float(self.q)!r}"

    def _params(self) -> dict:
        return {"k": self.k, "q": self.q}


class PermK(Sketch):
    """Perm-K over ``nodes`` = M nodes: one random permutation cut into M blocks,
    node i keeps block i scaled by M (for Algorithm 1: one node's block).
    ``E[SᵀS] = M I``."""

    def __init__(self, nodes: int, dim: Optional[int] = None):
        self.nodes = nodes
        self.dim = dim

    @property
    def spec(self) -> str:
        return f"perm-k:{int(self.nodes)}"

    def _params(self) -> dict:
        return {"nodes": self.nodes}


class Gaussian(Sketch):
    """``S = Diag(ξ)`` with ``ξ_j ~ N(1, σ²)`` (Gaussian dropout): give ``sigma2``,
    or ``keep_prob`` for the variance of Bernoulli(keep_prob), ``σ² = (1−p)/p``.

    ``E[SᵀS] = (1 + σ²) I``; ``L_S_max = ∞`` (train with a constant step).
    """

    def __init__(self, sigma2: Optional[float] = None, dim: Optional[int] = None, *, keep_prob: Optional[float] = None):
        if (sigma2 is None) == (keep_prob is None):
            raise _core.MastError("Gaussian takes one of sigma2 or keep_prob")
        self.sigma2 = float(sigma2) if sigma2 is not None else (1.0 - keep_prob) / keep_prob
        self.dim = dim
        _core.Sketch(self.spec, 1)  # validates

    @property
    def spec(self) -> str:
        return f"gaussian:{self.sigma2!r}"

    def _params(self) -> dict:
        return {"sigma2": self.sigma2}


class Hadamard(Sketch):
    """A randomized Hadamard rotation around a diagonal sketch ``inner``:
    ``S = Rᵀ B R``, ``R = H D/√m`` (fresh random signs D each draw, d padded to a
    power of two m). Not diagonal: draws are applied with :meth:`apply`.
    """

    def __init__(self, inner: "str | Sketch", dim: Optional[int] = None):
        self.inner = from_spec(inner)
        self.dim = dim
        _core.Sketch(self.spec, 1)  # validates

    @property
    def spec(self) -> str:
        return f"hadamard:{self.inner.spec}"

    def _params(self) -> dict:
        return {"inner": self.inner}


class Registered(Sketch):
    """Any sketch registered with mast (``mast sketches`` lists them), by its spec
    string: ``Registered("importance:file:p.txt", dim=123)``."""

    def __init__(self, spec: str, dim: Optional[int] = None):
        # Parsed here; built (and so fully checked) when used: some need the data
        # (importance:sqrt-l).
        self._spec = _core.sketch_spec(spec)
        self.dim = dim

    @property
    def spec(self) -> str:
        return self._spec

    def _params(self) -> dict:
        return {"spec": self._spec}


def from_spec(spec: "str | Sketch", dim: Optional[int] = None) -> Sketch:
    """The sketch a CLI spec string names (``bernoulli:0.5``, ``rand-k:0.3``,
    ``rand-k:k=12``, ``perm-k:4``, ``identity``, ``dropconnect:0.5``).

    The string is checked by mast's own parser: a bad one raises
    :class:`mast.MastError` with its message.
    """
    if isinstance(spec, Sketch):
        return spec
    if not isinstance(spec, str):
        raise _core.MastError(f"a sketch is a mast.sketch.Sketch or a spec string, got {spec!r}")
    # mast's parser decides what is valid (any dimension works for the syntax).
    try:
        return _from_text(spec, dim)
    except (TypeError, ValueError):
        _core.Sketch(spec, 1_000_000)  # raises mast's own message
        raise


def _from_text(text: str, dim: Optional[int]) -> Sketch:
    kind, _, arg = text.partition(":")
    kind = kind.strip().lower()
    if kind in ("identity", "none"):
        return Identity(dim)
    if kind == "bernoulli":
        return Bernoulli(float(_strip(arg, "p=", "keep_prob=")), dim)
    if kind in ("dropconnect", "drop-connect"):
        return DropConnect(float(_strip(arg, "p=", "keep_prob=")), dim)
    if kind in ("rand-k", "randk", "rand_k"):
        a = arg.strip()
        if a.startswith("k="):
            return RandK(k=int(a[2:]), dim=dim)
        if a.startswith("q="):
            return RandK(q=float(a[2:]), dim=dim)
        if re.search(r"[.eE]", a):
            return RandK(q=float(a), dim=dim)
        return RandK(k=int(a), dim=dim)
    if kind in ("perm-k", "permk", "perm_k"):
        return PermK(int(_strip(arg, "m=")), dim)
    if kind == "gaussian":
        a = arg.strip()
        if a.startswith(("p=", "keep_prob=")):
            return Gaussian(keep_prob=float(_strip(a, "p=", "keep_prob=")), dim=dim)
        return Gaussian(float(_strip(a, "sigma2=", "var=")), dim)
    if kind == "hadamard":
        return Hadamard(arg, dim)
    # Any other registered sketch (mast's parser checks it).
    return Registered(text, dim)


def _strip(a: str, *prefixes: str) -> str:
    a = a.strip()
    for p in prefixes:
        if a.startswith(p):
            return a[len(p):]
    return a
