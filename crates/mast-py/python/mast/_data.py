"""Data: LIBSVM files and the conversion of NumPy / SciPy arrays to mast's form."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _core


def load_svmlight(path: str | os.PathLike[str], n_features: int | None = None):
    """Read a LIBSVM file (plain or gzipped) with mast's parser.

    The same parser (and binary cache) as ``mast train``: a malformed file
    raises :class:`mast.MastError` (a ``ValueError``) naming the file, the line
    and what is wrong; a missing file raises ``FileNotFoundError``. The GIL is
    released while the file is read.

    Parameters
    ----------
    path:
        The file (``.gz`` or not: gzip is detected by its magic bytes).
    n_features:
        The feature count (default: the largest index in the file). Give it to
        match a test file that uses more features.

    Returns
    -------
    X : scipy.sparse.csr_matrix, float64, shape (n_samples, n_features)
        Column indices are 0-based (LIBSVM's are 1-based) and sorted.
    y : numpy.ndarray, float64, shape (n_samples,)
        The raw labels, as written in the file.
    """
    data, indices, indptr, labels, d = _core.load_svmlight(os.fspath(path), n_features)
    X = sp.csr_matrix((data, indices, indptr), shape=(len(labels), d))
    X.has_sorted_indices = True
    return X, labels


def as_data(X: Any, y: Any, name: str = "data") -> "_core.Data":
    """Convert features ``X`` and targets ``y`` to mast's dataset form.

    What is copied, and when:

    - a C-contiguous (row-major) float64 NumPy array: **not copied** — mast
      reads the array's own memory (keep it unchanged while a fit runs);
    - any other dense array (Fortran order, a strided view, another dtype):
      one C-contiguous float64 copy (mast stores samples as rows);
    - a SciPy CSR matrix with float64 values: the values are **not copied**,
      nor are int64 row pointers or int32 column indices (SciPy's usual
      types); other index types are converted. A matrix whose column indices are
      unsorted or repeated is canonicalised in a copy first;
    - a SciPy CSC (or COO, ...) matrix: converted to CSR (a copy);
    - ``y``: always copied (n values).

    NaN or infinite values, mismatched shapes and empty data raise
    :class:`mast.MastError` (a ``ValueError``).
    """
    y = np.ascontiguousarray(np.asarray(y, dtype=np.float64).reshape(-1))
    if sp.issparse(X):
        if X.format != "csr":
            X = X.tocsr()
        if X.dtype != np.float64:
            X = X.astype(np.float64)
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        n, d = X.shape
        return _core.Data.csr(
            n,
            d,
            np.ascontiguousarray(X.indptr),
            np.ascontiguousarray(X.indices),
            np.ascontiguousarray(X.data),
            y,
            name,
        )
    X = np.asarray(X)
    if X.ndim != 2:
        raise _core.MastError(
            f"X must be 2-dimensional (samples × features), got an array of shape {X.shape}"
        )
    if np.iscomplexobj(X):
        raise _core.MastError("X holds complex numbers: mast needs real features")
    if X.dtype != np.float64 or not X.flags.c_contiguous or not X.flags.aligned:
        X = np.ascontiguousarray(X, dtype=np.float64)
    return _core.Data.dense(X, y, name)


def load_svmlight_pair(train: str | os.PathLike[str], test: str | os.PathLike[str]):
    """Read a training and a test LIBSVM file as ``mast train`` does: both get
    the larger of the two files' feature counts.

    Returns ``(X_train, y_train, X_test, y_test)`` (see :func:`load_svmlight`).
    """
    X, y = load_svmlight(train)
    Xt, yt = load_svmlight(test)
    d = max(X.shape[1], Xt.shape[1])
    X.resize((X.shape[0], d))
    Xt.resize((Xt.shape[0], d))
    return X, y, Xt, yt
