"""mast.torch on a small MLP on scikit-learn's shipped digits data."""

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed: mast.torch is optional (pip install torch, or Debian's python3-torch)"
)

import mast  # noqa: E402
from mast.torch import MastSketch, prune_eval  # noqa: E402


def _digits():
    from sklearn.datasets import load_digits  # ships with scikit-learn: no download

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    return X[:1400], y[:1400], X[1400:], y[1400:]


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def _train(model, X, y, steps=300, lr=0.5):
    opt = torch.optim.SGD([p for p in model.parameters()], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
    return model


def _acc(model, X, y):
    model.eval()
    with torch.no_grad():
        return (model(X).argmax(1) == y).float().mean().item()


def test_sketch_is_unbiased_and_seeded():
    lin = torch.nn.Linear(50, 40, bias=False)
    for kind in ("bernoulli", "rand-k", "neuron"):
        ms = MastSketch(lin, kind=kind, keep_prob=0.25, seed=3)
        w = lin.weight.detach()
        mean = sum(ms.sketched_parameters()["weight"].detach() for _ in range(400)) / 400
        assert torch.allclose(mean, w, atol=0.35 * w.abs().max().item()), kind
        a = MastSketch(lin, kind=kind, keep_prob=0.25, seed=3).sketched_parameters()["weight"]
        b = MastSketch(lin, kind=kind, keep_prob=0.25, seed=3).sketched_parameters()["weight"]
        assert torch.equal(a, b)
    # Rand-K keeps exactly round(q · numel) weights, scaled by numel/K.
    s = MastSketch(lin, kind="rand-k", keep_prob=0.25).sketched_parameters()["weight"].detach()
    assert int((s != 0).sum()) == 500
    # Neuron level: whole rows are kept or dropped.
    s = MastSketch(lin, kind="neuron", keep_prob=0.5).sketched_parameters()["weight"].detach()
    rows = (s != 0).any(dim=1)
    assert torch.equal((s != 0).all(dim=1), rows)


def test_shift_and_gradient():
    lin = torch.nn.Linear(6, 1, bias=False)
    v = {"weight": torch.ones(1, 6)}
    ms = MastSketch(lin, kind="bernoulli", keep_prob=0.5, shift=v, seed=1)
    x_in = torch.randn(4, 6)
    out = ms(x_in).sum()
    out.backward()
    # f(v + S(x − v)) has gradient Sᵀ∇f: zero exactly off the kept coordinates.
    s = MastSketch(lin, kind="bernoulli", keep_prob=0.5, shift=v, seed=1)._masks.next("weight", lin.weight)
    assert torch.all(lin.weight.grad[s == 0] == 0)
    torch.testing.assert_close(lin.weight.grad, s * x_in.sum(0, keepdim=True))


def test_mast_mlp_on_digits_is_more_robust_to_pruning():
    X, y, Xt, yt = _digits()
    plain = _train(_mlp(), X, y)
    mast_model = _mlp()
    # The theory step scales with 1/L_S^max = p²: a smaller step for the sketched loss.
    _train(MastSketch(mast_model, kind="bernoulli", keep_prob=0.5, seed=1), X, y, steps=600, lr=0.15)
    assert _acc(plain, Xt, yt) > 0.85 and _acc(mast_model, Xt, yt) > 0.8
    r_plain = prune_eval(plain, Xt, yt, q=[0.3], masks=10, seed=5)
    r_mast = prune_eval(mast_model, Xt, yt, q=[0.3], masks=10, seed=5)
    assert np.array_equal(r_plain["kept"], r_mast["kept"])  # the same masks
    assert np.median(r_mast["metric"]) > np.median(r_plain["metric"])


def test_bad_arguments():
    lin = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="unknown sketch kind"):
        MastSketch(lin, kind="dropout")
    with pytest.raises(ValueError, match="no parameters named"):
        MastSketch(lin, targets=["nope"])
    with pytest.raises(ValueError):
        MastSketch(lin, keep_prob=0.0)
