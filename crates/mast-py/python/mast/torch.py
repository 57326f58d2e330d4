"""A PyTorch hook for MAST: train a model on ``f(v + S(x − v))`` and measure
how well it survives pruning. Pure Python on top of torch (an optional
dependency: ``pip install torch``); the masks come from mast's own sketches and
seeded streams (one independent stream per tensor).

- :class:`MastSketch` wraps a module: each call draws a fresh unbiased sketch
  ``S`` per weight tensor and runs the forward pass with the weights
  ``v + S(x − v)`` (``v``: the optional shift, e.g. a pre-trained model; 0 by
  default). Gradients flow back to ``x`` as ``Sᵀ∇f`` — the MAST gradient.
- :func:`prune_eval` prunes a model with random masks keeping a fraction q of
  each weight tensor and reports the metric for every mask (the pruning
  robustness experiment of ``mast experiment prune``, for torch models).

Sketch kinds: ``"bernoulli"`` (keep each weight with probability ``keep_prob``,
rescaled by 1/keep_prob: DropConnect made unbiased), ``"rand-k"`` (keep exactly
``round(keep_prob · numel)`` weights, rescaled by numel/K), and ``"neuron"``
(one Bernoulli per output unit: a whole row of a weight matrix, rescaled by
1/keep_prob). ``keep_prob`` is the probability of KEEPING (``torch.nn.Dropout(p)``
takes the probability of dropping).
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

try:
    import torch
except ImportError as e:  # pragma: no cover - exercised where torch is absent
    raise ImportError(
        "mast.torch needs PyTorch: pip install torch (or Debian's python3-torch)"
    ) from e

import numpy as np

from . import _core

try:
    from torch.func import functional_call as _functional_call
except ImportError:  # torch < 2.0
    from torch.nn.utils.stateless import functional_call as _functional_call

__all__ = ["MastSketch", "prune_eval", "default_targets"]

_KINDS = ("bernoulli", "rand-k", "neuron")


def default_targets(module: "torch.nn.Module") -> List[str]:
    """The names of the weight tensors MAST sparsifies by default: every
    parameter with at least two dimensions (Linear and Conv weights; biases and
    normalisation parameters are left dense)."""
    return [n for n, p in module.named_parameters() if p.dim() >= 2]


def _spec(kind: str, keep_prob: float) -> str:
    if kind == "rand-k":
        return f"rand-k:q={float(keep_prob)!r}"
    if kind in ("bernoulli", "neuron"):
        return f"bernoulli:{float(keep_prob)!r}"
    raise _core.MastError(f"unknown sketch kind {kind!r}: use one of {', '.join(_KINDS)}")


class _Masks:
    """One mast sampler per target tensor: dense diagonals of S shaped like it."""

    def __init__(self, params: Dict[str, "torch.Tensor"], kind: str, keep_prob: float,
                 seed: int, purpose: str):
        self.kind = kind
        self.samplers = {}
        self.shapes = {}
        spec = _spec(kind, keep_prob)
        for k, (name, p) in enumerate(params.items()):
            dim = p.shape[0] if kind == "neuron" else p.numel()
            self.samplers[name] = _core.SketchSampler(spec, int(dim), int(seed), k, purpose)
            self.shapes[name] = tuple(p.shape)

    def next(self, name: str, like: "torch.Tensor") -> "torch.Tensor":
        s = torch.from_numpy(self.samplers[name].next_dense()).to(dtype=like.dtype, device=like.device)
        shape = self.shapes[name]
        if self.kind == "neuron":
            return s.reshape((shape[0],) + (1,) * (len(shape) - 1))
        return s.reshape(shape)


class MastSketch(torch.nn.Module):
    """Runs ``module`` with sketched weights ``v + S(x − v)`` (MAST's ``f_S``).

    Parameters
    ----------
    module : torch.nn.Module
        The model; its parameters ``x`` are trained as usual (the optimiser sees
        ``module.parameters()``).
    kind : {"bernoulli", "rand-k", "neuron"}, default "bernoulli"
    keep_prob : float, default 0.5
        Probability of keeping a weight (rand-k: the fraction kept; neuron: a unit).
    shift : None, "init", or dict name → tensor
        ``v``: None for 0, ``"init"`` for a frozen copy of the current weights
        (sparsify around a pre-trained model), or explicit tensors.
    targets : list of str, optional
        Parameter names to sketch (default :func:`default_targets`).
    seed : int, default 42
        Master seed: tensor k uses mast's sketch stream for node k under it.

    In ``train()`` mode each forward call draws a new S; in ``eval()`` mode the
    module runs unsketched (``x`` itself), as dropout does.
    """

    def __init__(self, module: "torch.nn.Module", kind: str = "bernoulli", keep_prob: float = 0.5,
                 shift: Union[None, str, Dict[str, "torch.Tensor"]] = None,
                 targets: Optional[Sequence[str]] = None, seed: int = 42):
        super().__init__()
        if kind not in _KINDS:
            raise _core.MastError(f"unknown sketch kind {kind!r}: use one of {', '.join(_KINDS)}")
        self.module = module
        self.kind = kind
        self.keep_prob = keep_prob
        self.seed = seed
        params = dict(module.named_parameters())
        names = list(targets) if targets is not None else default_targets(module)
        missing = [n for n in names if n not in params]
        if missing:
            raise _core.MastError(f"no parameters named {missing} in the module")
        self.targets = names
        if shift is None:
            self._shift = {}
        elif isinstance(shift, str) and shift == "init":
            self._shift = {n: params[n].detach().clone() for n in names}
        elif isinstance(shift, dict):
            self._shift = {n: shift[n].detach() for n in names if n in shift}
            for n, v in self._shift.items():
                if v.shape != params[n].shape:
                    raise _core.MastError(f"shift {n} has shape {tuple(v.shape)}, the weight {tuple(params[n].shape)}")
        else:
            raise _core.MastError(f"shift must be None, 'init' or a dict of tensors, got {shift!r}")
        self._masks = _Masks({n: params[n] for n in names}, kind, keep_prob, seed, "sketch")

    def sketched_parameters(self) -> Dict[str, "torch.Tensor"]:
        """Draws S for every target and returns ``{name: v + S(x − v)}``
        (differentiable in x)."""
        params = dict(self.module.named_parameters())
        out = {}
        for n in self.targets:
            x = params[n]
            s = self._masks.next(n, x)
            v = self._shift.get(n)
            out[n] = s * x if v is None else v + s * (x - v)
        return out

    def forward(self, *args, **kwargs):
        if not self.training:
            return self.module(*args, **kwargs)
        return _functional_call(self.module, self.sketched_parameters(), args, kwargs)


def _accuracy(output: "torch.Tensor", target: "torch.Tensor") -> float:
    return (output.argmax(dim=1) == target).float().mean().item()


@torch.no_grad()
def prune_eval(model: "torch.nn.Module", inputs: "torch.Tensor", targets: "torch.Tensor",
               q: Iterable[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), masks: int = 20,
               kind: str = "rand-k", rescale: bool = False, seed: int = 42,
               metric: Callable[["torch.Tensor", "torch.Tensor"], float] = _accuracy,
               tensors: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
    """Pruning robustness of a torch model (``mast experiment prune`` for torch).

    For each level q (fraction of weights KEPT) and each of ``masks`` random
    masks (mast's sketch of ``kind`` at q, from its seeded ``prune`` stream —
    the same masks for every model given the same seed, shapes and q), the
    targeted weights are pruned (kept weights unchanged, or multiplied by the
    sketch's scale with ``rescale=True``) and ``metric(model(inputs), targets)``
    is recorded (default: accuracy of the argmax).

    Returns a dict of arrays: ``q``, ``mask``, ``kept`` (weights kept, all
    tensors together), ``metric``.
    """
    model.eval()
    params = dict(model.named_parameters())
    names = list(tensors) if tensors is not None else default_targets(model)
    rows = {"q": [], "mask": [], "kept": [], "metric": []}
    for level in q:
        sampler = _Masks({n: params[n] for n in names}, kind, float(level), seed, "prune")
        for m in range(masks):
            pruned = {}
            kept = 0
            for n in names:
                s = sampler.next(n, params[n])
                if not rescale:
                    s = (s != 0).to(params[n].dtype)
                kept += int((s != 0).expand_as(params[n]).sum().item())
                pruned[n] = params[n] * s
            out = _functional_call(model, pruned, (inputs,))
            rows["q"].append(float(level))
            rows["mask"].append(m)
            rows["kept"].append(kept)
            rows["metric"].append(float(metric(out, targets)))
    return {k: np.asarray(v) for k, v in rows.items()}
