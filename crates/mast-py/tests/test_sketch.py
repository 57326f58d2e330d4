"""Sketches: constants, spec strings, seeded draws, exact moments."""

import numpy as np
import pytest

import mast
from mast.sketch import Bernoulli, DropConnect, Identity, PermK, RandK, from_spec


def test_constants():
    b = Bernoulli(0.5, dim=10)
    assert (b.L_D(), b.mu_D(), b.L_S_max(), b.expected_kept()) == (2.0, 2.0, 4.0, 5.0)
    np.testing.assert_array_equal(b.expected_sts_diag(), np.full(10, 2.0))
    r = RandK(q=0.5)
    assert (r.L_D(10), r.L_S_max(10), r.expected_kept(10)) == (2.0, 4.0, 5.0)
    assert RandK(k=2).L_S_max(10) == 25.0
    p = PermK(4, dim=8)
    assert (p.L_D(), p.L_S_max()) == (4.0, 16.0)
    i = Identity(dim=3)
    assert (i.L_D(), i.mu_D(), i.L_S_max()) == (1.0, 1.0, 1.0)
    assert not DropConnect(0.5).is_unbiased() and b.is_unbiased()


@pytest.mark.parametrize(
    "spec,cls",
    [("identity", Identity), ("bernoulli:0.25", Bernoulli), ("rand-k:0.3", RandK), ("rand-k:k=12", RandK),
     ("rand-k:7", RandK), ("perm-k:4", PermK), ("dropconnect:0.5", DropConnect)],
)
def test_spec_strings_round_trip(spec, cls):
    s = from_spec(spec)
    assert isinstance(s, cls)
    assert from_spec(s.spec).spec == s.spec
    assert s.build(40).spec == mast._core.Sketch(spec, 40).spec


def test_bad_specs_raise_mast_messages():
    with pytest.raises(ValueError, match="unknown sketch `foo`"):
        from_spec("foo")
    with pytest.raises(ValueError, match="ambiguous"):
        from_spec("dropout:0.5")
    with pytest.raises(ValueError, match="keep_prob|p"):
        Bernoulli(0.0).build(5)
    with pytest.raises(ValueError, match="no dimension"):
        Bernoulli(0.5).L_D()


def test_draws_are_seeded_and_unbiased():
    s = RandK(k=3, dim=10)
    a = s.draw(7)
    b = s.draw(7)
    np.testing.assert_array_equal(a[0], b[0])
    assert len(a[0]) == 3 and np.all(a[1] == 10 / 3)
    assert not np.array_equal(s.draw(8)[0], a[0]) or not np.array_equal(s.draws(8, 2)[1][0], a[0])
    # E[S] = I over many draws of a Bernoulli sketch.
    dense = np.array([Bernoulli(0.3).draw_dense(k, dim=5) for k in range(4000)])
    assert np.allclose(dense.mean(axis=0), 1.0, atol=0.12)


def test_exact_moments_by_enumeration():
    s = RandK(k=2, dim=4)
    draws = s.enumerate()
    assert draws is not None and abs(sum(p for p, _, _ in draws) - 1) < 1e-12
    ES = np.zeros(4)
    ESS = np.zeros((4, 4))
    for p, idx, sc in draws:
        d = np.zeros(4)
        d[idx.astype(int)] = sc
        ES += p * d
        ESS += p * np.outer(d, d)
    np.testing.assert_allclose(ES, 1.0)
    A = np.arange(16.0).reshape(4, 4)
    A = A + A.T
    np.testing.assert_allclose(s.expected_sas(A), A * ESS)
    np.testing.assert_allclose(s.expected_sts_diag(), np.diag(ESS))


def test_sketches_beyond_masks():
    from mast.sketch import Gaussian, Hadamard, from_spec

    g = from_spec("gaussian:p=0.5", dim=6)
    assert isinstance(g, Gaussian) and g.sigma2 == 1.0 and g.L_D() == 2.0
    assert g.is_diagonal()
    h = Hadamard("bernoulli:0.5", dim=6)
    assert h.spec == "hadamard:bernoulli:0.5" and not h.is_diagonal()
    # E[SᵀS] = (a + (c − a) d/m) I with a = 1, c = 2, d/m = 6/8.
    assert abs(h.L_D() - 1.75) < 1e-12
    z = np.arange(6.0) - 2.5
    ys = h.apply(z, rng_seed=3, count=2000)
    assert ys.shape == (2000, 6)
    # E[S z] = z (standard error about √(0.75·|z|²/2000) ≈ 0.08).
    assert np.abs(ys.mean(axis=0) - z).max() < 0.4
    with pytest.raises(mast.MastError, match="not diagonal"):
        h.draw(1)
    A = np.eye(6)
    np.testing.assert_allclose(h.expected_sas(A), 1.75 * A)
