"""Data: mast's parser from Python, conversions, zero-copy, bad input."""

import gzip
import shutil

import numpy as np
import pytest
import scipy.sparse as sp

import mast
from mast import _core


def test_load_svmlight_a5a(data_dir):
    X, y = mast.load_svmlight(data_dir / "a5a.gz")
    assert sp.isspmatrix_csr(X) and X.dtype == np.float64
    assert X.shape == (6414, 122)
    assert set(np.unique(y)) == {-1.0, 1.0}
    # Plain text and gzip give the same matrix.
    X2, y2 = mast.load_svmlight(data_dir / "a5a.gz", n_features=123)
    assert X2.shape == (6414, 123) and (X2[:, :122] != X).nnz == 0
    np.testing.assert_array_equal(y, y2)


def test_plain_and_gzip_agree(tmp_path, data_dir):
    plain = tmp_path / "a5a"
    with gzip.open(data_dir / "a5a.gz", "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    X1, y1 = mast.load_svmlight(plain)
    X2, y2 = mast.load_svmlight(data_dir / "a5a.gz")
    assert (X1 != X2).nnz == 0
    np.testing.assert_array_equal(y1, y2)


def test_parse_error_names_file_and_line(tmp_path):
    f = tmp_path / "bad.svm"
    f.write_text("1 1:0.5 2:1\n-1 3:x\n")
    with pytest.raises(ValueError, match=r"bad\.svm:2: .*") as e:
        mast.load_svmlight(f)
    assert isinstance(e.value, mast.MastError)
    f.write_text("1 2:0.5 1:1\n")
    with pytest.raises(mast.MastError, match=r"bad\.svm:1: "):
        mast.load_svmlight(f)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no-such-file"):
        mast.load_svmlight("no-such-file.svm")


def test_dense_is_zero_copy_by_memory():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 250))  # 8 MB, C-contiguous float64
    y = np.where(rng.normal(size=4000) > 0, 1.0, -1.0)
    live0, _ = _core.allocated_bytes()
    _core.reset_peak()
    data = mast.as_data(X, y)
    live1, peak = _core.allocated_bytes()
    # Rust allocated the labels (32 kB) and bookkeeping, not the 8 MB of X.
    assert peak - live0 < 0.01 * X.nbytes, (peak - live0, X.nbytes)
    assert data.values_address == X.ctypes.data
    # A Fortran-ordered array must be copied (mast stores rows): the address differs.
    F = np.asfortranarray(X)
    assert mast.as_data(F, y).values_address != F.ctypes.data


def test_csr_is_zero_copy_by_memory(a5a):
    X, y, _, _ = a5a
    X = X.copy()
    X.indptr = X.indptr.astype(np.int64)  # SciPy's int32 indptr is converted (n + 1 values)
    _core.reset_peak()
    live0, _ = _core.allocated_bytes()
    data = mast.as_data(X, y)
    _, peak = _core.allocated_bytes()
    nbytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    assert peak - live0 < 0.5 * len(y) * 8 + 0.05 * nbytes, (peak - live0, nbytes)
    assert data.values_address == X.data.ctypes.data
    assert data.is_sparse and data.n_samples == X.shape[0]


def test_csc_and_unsorted_inputs_match_csr():
    rng = np.random.default_rng(1)
    A = sp.random(60, 8, density=0.4, random_state=2, format="csr")
    y = np.where(rng.normal(size=60) > 0, 1, 0)
    ref = mast.MastLogisticRegression(steps=50).fit(A, y).coef_
    np.testing.assert_array_equal(mast.MastLogisticRegression(steps=50).fit(A.tocsc(), y).coef_, ref)
    # Dense data runs mast's dense kernels: the same model up to rounding.
    np.testing.assert_allclose(mast.MastLogisticRegression(steps=50).fit(A.toarray(), y).coef_, ref, rtol=1e-12)
    # Reverse the column order inside every row: unsorted CSR is canonicalised.
    B = A.copy()
    for i in range(B.shape[0]):
        a, b = B.indptr[i], B.indptr[i + 1]
        B.indices[a:b] = B.indices[a:b][::-1].copy()
        B.data[a:b] = B.data[a:b][::-1].copy()
    B.has_sorted_indices = False
    np.testing.assert_array_equal(mast.MastLogisticRegression(steps=50).fit(B, y).coef_, ref)


@pytest.mark.parametrize("sparse", [False, True])
def test_nan_and_inf_are_value_errors(sparse):
    X = np.ones((5, 3))
    X[1, 2] = np.nan
    y = np.array([1, -1, 1, -1, 1.0])
    Xin = sp.csr_matrix(X) if sparse else X
    with pytest.raises(ValueError, match=r"X contains NaN at row 1, column 2"):
        mast.as_data(Xin, y)
    with pytest.raises(ValueError, match=r"NaN at row 1, column 2"):
        mast.MastLogisticRegression().fit(Xin, y)
    X[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"X contains inf at row 1, column 2"):
        mast.as_data(sp.csr_matrix(X) if sparse else X, y)


def test_wrong_shapes_are_value_errors():
    X = np.ones((5, 3))
    with pytest.raises(ValueError, match="X has 5 rows but y has 4 values"):
        mast.as_data(X, np.ones(4))
    with pytest.raises(ValueError, match="2-dimensional"):
        mast.as_data(np.ones(5), np.ones(5))
    with pytest.raises(ValueError):
        mast.MastLogisticRegression().fit(X, np.array([1, -1, 1, -1]))
    with pytest.raises(ValueError, match=r"shape \(0, 3\)"):
        mast.as_data(np.ones((0, 3)), np.ones(0))
    m = mast.MastLogisticRegression(steps=5).fit(np.eye(4), [1, -1, 1, -1])
    with pytest.raises(ValueError, match="4 features"):
        m.predict(np.ones((2, 3)))
