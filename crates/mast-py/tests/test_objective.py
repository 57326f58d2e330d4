"""The objective: f, ∇f, f_S, Monte-Carlo f_D, exact quadratic forms."""

import numpy as np
import pytest

import mast


@pytest.fixture()
def problem():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 6))
    w = rng.normal(size=6)
    return X, np.where(X @ w > 0, 1.0, -1.0), X @ w + 0.1 * rng.normal(size=80)


def test_logistic_value_and_gradient(problem):
    X, y, _ = problem
    f = mast.objective(X, y, "logistic", 0.1)
    x = np.linspace(-1, 1, 6)
    m = y * (X @ x)
    ref = np.mean(np.logaddexp(0, -m)) + 0.05 * x @ x
    assert abs(f.f(x) - ref) < 1e-12
    g = -(X.T @ (y / (1 + np.exp(m)))) / len(y) + 0.1 * x
    np.testing.assert_allclose(f.grad(x), g, rtol=1e-10, atol=1e-12)
    assert f.lambda_ == 0.1 and f.mu_f == 0.1 and f.L_f > 0


def test_sketched_is_f_at_the_sketched_model(problem):
    X, y, _ = problem
    f = mast.objective(X, y)
    x = np.ones(6)
    s = mast.sketch.RandK(k=2)
    fs, gs = f.sketched(x, s, seed=5)
    idx, sc = s.draw(5, dim=6)
    d = np.zeros(6)
    d[idx.astype(int)] = sc
    assert abs(fs - f.f(d * x)) < 1e-12
    np.testing.assert_allclose(gs, d * f.grad(d * x), atol=1e-12)


def test_monte_carlo_fd_matches_the_exact_quadratic(problem):
    X, _, t = problem
    f = mast.objective(X, t, "least-squares", 0.01)
    x = np.full(6, 0.3)
    q = f.quadratic(x, "bernoulli:0.5")
    est = f.fd(x, "bernoulli:0.5", samples=4000, seed=1)
    assert abs(est.mean - q["fd"]) < 4 * est.std_err
    assert q["fd"] >= q["f"] - 1e-12  # f ≤ f_D (convex f, E[S] = I)
    assert abs(q["f"] - f.f(x)) < 1e-10
    # ∇f_D vanishes at x_D*.
    assert np.linalg.norm(f.quadratic(q["x_d_star"], "bernoulli:0.5")["grad_fd"]) < 1e-8
    with pytest.raises(ValueError, match="least-squares only"):
        mast.objective(X, np.sign(t)).quadratic(x, "identity")


def test_bad_vectors(problem):
    X, y, _ = problem
    f = mast.objective(X, y)
    with pytest.raises(ValueError, match="x has 5 entries, the data has 6 features"):
        f.f(np.ones(5))
    with pytest.raises(ValueError, match="NaN"):
        f.grad(np.full(6, np.nan))
