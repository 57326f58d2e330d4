//! `mast._core`: the compiled half of the `mast` Python package.
//!
//! Everything here is a thin layer over the `mast` and `mast-experiments`
//! crates: data from NumPy/SciPy arrays (without a copy where the layout
//! allows), the configured training job (`mast::run::train_on`, the path of
//! `mast train`), the exact ERM solver, sketches, the objective and the
//! experiments. Errors become Python exceptions (`mast.MastError`, a
//! `ValueError`; `FileNotFoundError` for a missing file); the GIL is released
//! while data loads and models train.
//!
//! The public Python API lives in `python/mast/`; this module is private
//! (`mast._core`) and its signatures are described in `_core.pyi`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mast::data::{Buffer, CsrMatrix, Dataset, DenseMatrix, Design, LibsvmFile};
use mast::objective::{LeastSquares, LogisticRegression, Objective as _, Quadratic, Rows, Shift};
use mast::rng::{stream, Stream};
use mast::run::config::{Lambda, TrainConfig};
use mast::run::FolderMode;
use mast::sketch::{SketchDraw, SketchSpec};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

pyo3::create_exception!(
    _core,
    MastError,
    PyValueError,
    "An error reported by mast (bad data, a bad parameter, a diverged run): the message names the file, line or parameter and what is wrong."
);

/// A mast error as a Python exception: a missing file is `FileNotFoundError`,
/// everything else `mast.MastError` (a `ValueError`) with mast's message.
fn py_err(e: mast::MastError) -> PyErr {
    match &e {
        mast::MastError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(e.to_string())
        }
        _ => MastError::new_err(e.to_string()),
    }
}

fn exp_err(e: mast_experiments::ExpError) -> PyErr {
    match e {
        mast_experiments::ExpError::Mast(m) => py_err(m),
        other => MastError::new_err(other.to_string()),
    }
}

fn bad(message: impl Into<String>) -> PyErr {
    MastError::new_err(message.into())
}

// ---------------------------------------------------------------------------
// Memory accounting: the tests assert zero-copy by measuring what Rust allocates.

/// The system allocator, counting live and peak bytes (two relaxed atomics per
/// allocation).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call forwards to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded; `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded; `ptr` came from this allocator with `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `(live, peak)` bytes allocated by mast's Rust code (not NumPy's), for tests.
#[pyfunction]
fn allocated_bytes() -> (usize, usize) {
    (LIVE.load(Ordering::Relaxed), PEAK.load(Ordering::Relaxed))
}

/// Resets the peak of [`allocated_bytes`] to the live count.
#[pyfunction]
fn reset_peak() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// The canonical text of a sketch spec (parsed by mast's registry, not built):
/// raises `MastError` with mast's message for a bad one.
#[pyfunction]
fn sketch_spec(text: &str) -> PyResult<String> {
    text.parse::<SketchSpec>()
        .map(|s| s.to_string())
        .map_err(py_err)
}

// ---------------------------------------------------------------------------
// Data.

/// Where a Python array's memory goes: its owner, kept alive by the buffer.
struct Owner(#[allow(dead_code)] Py<PyAny>);

/// A `Buffer` over the values of a contiguous NumPy array, without a copy
/// (a copy only for a misaligned or empty array).
fn shared_buffer<T: numpy::Element + mast::data::Plain>(
    array: &Bound<'_, PyArray1<T>>,
) -> PyResult<Buffer<T>> {
    let ro = array.readonly();
    let slice = ro.as_slice().map_err(|e| bad(e.to_string()))?;
    let ptr = slice.as_ptr();
    if slice.is_empty() || !(ptr as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Ok(Buffer::Owned(slice.to_vec()));
    }
    let owner: Arc<dyn std::any::Any + Send + Sync> =
        Arc::new(Owner(array.clone().into_any().unbind()));
    // SAFETY: `ptr` is non-null, aligned (checked) and holds `slice.len()`
    // initialised values; `owner` keeps the array (hence its memory) alive. The
    // array must not be written while mast reads it: the Python API documents it.
    Ok(unsafe { Buffer::shared(owner, ptr, slice.len()) })
}

fn first_non_finite(values: &[f64]) -> Option<usize> {
    values.iter().position(|v| !v.is_finite())
}

fn what(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else {
        "inf"
    }
}

fn labels_of(y: &[f64], n_rows: usize) -> PyResult<Vec<f64>> {
    if y.len() != n_rows {
        return Err(py_err(mast::MastError::Dimension(format!(
            "X has {n_rows} rows but y has {} values",
            y.len()
        ))));
    }
    if let Some(i) = first_non_finite(y) {
        return Err(bad(format!("y contains {} at row {i}", what(y[i]))));
    }
    Ok(y.to_vec())
}

/// A dataset in mast's form (features and targets), made from NumPy or SciPy
/// arrays. Contiguous float64 features are shared with NumPy, not copied.
#[pyclass(module = "mast._core", frozen)]
struct Data {
    inner: Arc<Dataset>,
}

#[pymethods]
impl Data {
    /// Dense row-major features `x` (C-contiguous float64, shared without a copy)
    /// and targets `y` (±1 for classification; copied).
    #[staticmethod]
    #[pyo3(signature = (x, y, name = "data".to_string()))]
    fn dense(
        x: &Bound<'_, PyArray2<f64>>,
        y: PyReadonlyArray1<'_, f64>,
        name: String,
    ) -> PyResult<Self> {
        let shape = x.shape();
        let (n, d) = (shape[0], shape[1]);
        if !x.is_c_contiguous() {
            return Err(bad(
                "X must be C-contiguous (row-major): mast.validate makes a copy where it is not",
            ));
        }
        if n == 0 || d == 0 {
            return Err(bad(format!(
                "X has shape ({n}, {d}): mast needs at least one sample and one feature"
            )));
        }
        let flat = x.reshape([n * d])?;
        let buffer = shared_buffer(&flat)?;
        if let Some(k) = first_non_finite(&buffer) {
            return Err(bad(format!(
                "X contains {} at row {}, column {}",
                what(buffer[k]),
                k / d,
                k % d
            )));
        }
        let labels = labels_of(y.as_slice().map_err(|e| bad(e.to_string()))?, n)?;
        Ok(Data {
            inner: Arc::new(Dataset::new(
                name,
                Design::Dense(DenseMatrix::from_buffer(n, d, buffer)),
                labels,
            )),
        })
    }

    /// CSR features from SciPy's arrays (`indptr` int32/int64, `indices`
    /// int32/int64 sorted within each row, `data` float64) and targets `y`.
    /// `data` is shared without a copy, so are int64 `indptr` and int32
    /// `indices`; the other index types are converted (a copy of that array).
    #[staticmethod]
    #[pyo3(signature = (n_rows, n_cols, indptr, indices, data, y, name = "data".to_string()))]
    #[allow(clippy::too_many_arguments)]
    fn csr(
        n_rows: usize,
        n_cols: usize,
        indptr: &Bound<'_, PyAny>,
        indices: &Bound<'_, PyAny>,
        data: &Bound<'_, PyArray1<f64>>,
        y: PyReadonlyArray1<'_, f64>,
        name: String,
    ) -> PyResult<Self> {
        if n_rows == 0 || n_cols == 0 {
            return Err(bad(format!(
                "X has shape ({n_rows}, {n_cols}): mast needs at least one sample and one feature"
            )));
        }
        if n_cols > u32::MAX as usize {
            return Err(bad(format!(
                "X has {n_cols} columns: mast indexes columns with 32 bits"
            )));
        }
        let indptr: Buffer<usize> = if let Ok(a) = indptr.downcast::<PyArray1<i64>>() {
            let b = shared_buffer(a)?;
            if b.iter().any(|&v| v < 0) {
                return Err(bad("X.indptr has a negative entry"));
            }
            // SAFETY-free reinterpretation is not possible for a shared buffer, so
            // check and re-wrap: i64 and usize have the same size and alignment here.
            reinterpret_i64(b)
        } else if let Ok(a) = indptr.downcast::<PyArray1<i32>>() {
            let ro = a.readonly();
            let s = ro.as_slice().map_err(|e| bad(e.to_string()))?;
            if s.iter().any(|&v| v < 0) {
                return Err(bad("X.indptr has a negative entry"));
            }
            Buffer::Owned(s.iter().map(|&v| v as usize).collect())
        } else {
            return Err(bad("X.indptr must be an int32 or int64 array"));
        };
        let indices: Buffer<u32> = if let Ok(a) = indices.downcast::<PyArray1<i32>>() {
            let b = shared_buffer(a)?;
            if let Some(v) = b.iter().find(|&&v| v < 0) {
                return Err(bad(format!("X.indices has a negative column index {v}")));
            }
            reinterpret_i32(b)
        } else if let Ok(a) = indices.downcast::<PyArray1<i64>>() {
            let ro = a.readonly();
            let s = ro.as_slice().map_err(|e| bad(e.to_string()))?;
            let mut out = Vec::with_capacity(s.len());
            for &v in s {
                if v < 0 || v as u64 >= n_cols as u64 {
                    return Err(bad(format!(
                        "X.indices has column index {v}, outside 0..{n_cols}"
                    )));
                }
                out.push(v as u32);
            }
            Buffer::Owned(out)
        } else {
            return Err(bad("X.indices must be an int32 or int64 array"));
        };
        let values = shared_buffer(data)?;
        // The structure, checked before mast's constructor (which panics on it).
        if indptr.len() != n_rows + 1 {
            return Err(bad(format!(
                "X.indptr has {} entries, expected n_rows + 1 = {}",
                indptr.len(),
                n_rows + 1
            )));
        }
        if indices.len() != values.len() || indptr[n_rows] != values.len() || indptr[0] != 0 {
            return Err(bad(format!(
                "X's CSR arrays disagree: indptr ends at {} (starts at {}), {} indices, {} values",
                indptr[n_rows],
                indptr[0],
                indices.len(),
                values.len()
            )));
        }
        for i in 0..n_rows {
            let (a, b) = (indptr[i], indptr[i + 1]);
            if b < a {
                return Err(bad(format!("X.indptr decreases at row {i}")));
            }
            let row = &indices[a..b];
            for (k, &j) in row.iter().enumerate() {
                if j as usize >= n_cols {
                    return Err(bad(format!(
                        "X has column index {j} in row {i}, outside 0..{n_cols}"
                    )));
                }
                if k > 0 && row[k - 1] >= j {
                    return Err(bad(format!(
                        "X's column indices are not sorted (or repeat) in row {i}: call X.sum_duplicates() (mast.validate does)"
                    )));
                }
            }
            if let Some(k) = first_non_finite(&values[a..b]) {
                return Err(bad(format!(
                    "X contains {} at row {i}, column {}",
                    what(values[a + k]),
                    row[k]
                )));
            }
        }
        let labels = labels_of(y.as_slice().map_err(|e| bad(e.to_string()))?, n_rows)?;
        let csr = CsrMatrix::from_buffers(n_rows, n_cols, indptr, indices, values);
        Ok(Data {
            inner: Arc::new(Dataset::new(name, Design::Sparse(csr), labels)),
        })
    }

    /// Number of samples.
    #[getter]
    fn n_samples(&self) -> usize {
        self.inner.n_samples()
    }

    /// Number of features.
    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }

    /// Whether the features are sparse (CSR).
    #[getter]
    fn is_sparse(&self) -> bool {
        matches!(self.inner.features, Design::Sparse(_))
    }

    /// The address of the first stored feature value (dense: `X[0, 0]`; sparse:
    /// `X.data[0]`), to check that mast reads the caller's memory. Sparse data
    /// with no stored value gives 0.
    #[getter]
    fn values_address(&self) -> usize {
        match &self.inner.features {
            Design::Dense(m) => m.as_slice().as_ptr() as usize,
            Design::Sparse(m) => (0..m.n_rows())
                .map(|i| m.row(i))
                .find(|r| !r.1.is_empty())
                .map_or(0, |r| r.1.as_ptr() as usize),
        }
    }

    /// Fraction of samples with `sign(a_iᵀx) = y_i` (margin 0 counts as +1).
    fn accuracy(&self, x: PyReadonlyArray1<'_, f64>) -> PyResult<f64> {
        let x = x.as_slice().map_err(|e| bad(e.to_string()))?;
        check_len(x.len(), self.inner.n_features(), "x")?;
        Ok(self.inner.accuracy(x))
    }
}

fn reinterpret_i64(b: Buffer<i64>) -> Buffer<usize> {
    const _: () = assert!(std::mem::size_of::<i64>() == std::mem::size_of::<usize>());
    match b {
        Buffer::Shared { owner, ptr, len } => {
            let p = ptr_of(ptr).cast::<usize>();
            // SAFETY: same memory and owner; i64 and usize have the same size and
            // alignment, every entry was checked to be ≥ 0.
            unsafe { Buffer::shared(owner, p, len) }
        }
        other => Buffer::Owned(other.iter().map(|&v| v as usize).collect()),
    }
}

fn reinterpret_i32(b: Buffer<i32>) -> Buffer<u32> {
    match b {
        Buffer::Shared { owner, ptr, len } => {
            let p = ptr_of(ptr).cast::<u32>();
            // SAFETY: same memory and owner; i32 and u32 have the same layout and
            // every entry was checked to be ≥ 0.
            unsafe { Buffer::shared(owner, p, len) }
        }
        other => Buffer::Owned(other.iter().map(|&v| v as u32).collect()),
    }
}

fn ptr_of<T>(p: mast::data::SharedPtr<T>) -> *const T {
    p.as_ptr()
}

fn check_len(got: usize, want: usize, name: &str) -> PyResult<()> {
    if got != want {
        return Err(py_err(mast::MastError::Dimension(format!(
            "{name} has {got} entries, the data has {want} features"
        ))));
    }
    Ok(())
}

/// Reads a LIBSVM file (plain or gzipped) with mast's parser (through its binary
/// cache, as `mast train` does). Returns `(data, indices, indptr, labels,
/// n_features)`: CSR arrays (0-based int32 column indices where they fit, else
/// int64) and the raw labels. `n_features` defaults to the largest index.
#[pyfunction]
#[pyo3(signature = (path, n_features = None))]
#[allow(clippy::type_complexity)]
fn load_svmlight<'py>(
    py: Python<'py>,
    path: PathBuf,
    n_features: Option<usize>,
) -> PyResult<(
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
    usize,
)> {
    let file = py
        .allow_threads(|| LibsvmFile::read(&path))
        .map_err(py_err)?;
    let d = n_features.unwrap_or(file.max_index);
    if file.max_index > d {
        return Err(py_err(mast::MastError::Data {
            path: file.path.clone(),
            message: format!(
                "uses feature index {} but the feature count is {d}",
                file.max_index
            ),
        }));
    }
    let (indptr, indices, values) = file.csr_arrays();
    let indices: Bound<'py, PyAny> = if d <= i32::MAX as usize {
        indices
            .iter()
            .map(|&j| j as i32)
            .collect::<Vec<_>>()
            .into_pyarray(py)
            .into_any()
    } else {
        indices
            .iter()
            .map(|&j| j as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py)
            .into_any()
    };
    Ok((
        values.to_vec().into_pyarray(py),
        indices,
        indptr
            .iter()
            .map(|&p| p as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
        file.raw_labels.clone().into_pyarray(py),
        d,
    ))
}

// ---------------------------------------------------------------------------
// Training.

fn parse_config(config_json: &str) -> PyResult<TrainConfig> {
    serde_json::from_str(config_json)
        .map_err(|e| bad(format!("invalid training configuration: {e}")))
}

fn folder_mode(mode: &str) -> PyResult<FolderMode> {
    match mode {
        "fresh" => Ok(FolderMode::Fresh),
        "overwrite" => Ok(FolderMode::Overwrite),
        "resume" => Ok(FolderMode::Resume),
        other => Err(bad(format!(
            "unknown folder mode `{other}`: use fresh, overwrite or resume"
        ))),
    }
}

/// Runs a training configuration (JSON of `mast::run::config::TrainConfig`;
/// its `data.train`/`data.test` paths are not read) on `train` (and `test`),
/// through `mast::run::train_on`: the job `mast train` runs, writing the same
/// run folder. Returns a dict: `x` (final iterate), `best_x`, `best_step`,
/// `metrics` (JSON rows of metrics.csv), `summary` (JSON of summary.json), `dir`.
#[pyfunction]
#[pyo3(signature = (config_json, train, test = None, mode = "overwrite"))]
fn train<'py>(
    py: Python<'py>,
    config_json: &str,
    train: &Data,
    test: Option<&Data>,
    mode: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let checked = parse_config(config_json)?.check().map_err(py_err)?;
    let mode = folder_mode(mode)?;
    let (train_set, test_set) = ((*train.inner).clone(), test.map(|t| (*t.inner).clone()));
    let report = py
        .allow_threads(move || {
            mast::run::train_on(&checked, train_set, test_set, &mut [], mode)
                .and_then(|r| r.into_result())
        })
        .map_err(py_err)?;
    let out = PyDict::new(py);
    let metrics = serde_json::to_string(&report.outcome.rows).map_err(|e| bad(e.to_string()))?;
    let summary = serde_json::to_string(&report.summary).map_err(|e| bad(e.to_string()))?;
    out.set_item("x", report.outcome.state.x.clone().into_pyarray(py))?;
    match &report.outcome.best {
        Some(b) => {
            out.set_item("best_x", b.x.clone().into_pyarray(py))?;
            out.set_item("best_step", b.step)?;
        }
        None => {
            out.set_item("best_x", py.None())?;
            out.set_item("best_step", py.None())?;
        }
    }
    out.set_item("metrics", metrics)?;
    out.set_item("summary", summary)?;
    out.set_item("dir", report.dir)?;
    Ok(out)
}

/// Runs a TOML config file exactly as `mast train --config FILE --force` does
/// (loading its data files), with the GIL released. Returns `(seconds,
/// metrics_json)`: the wall time of the whole job, loading included. Used by the
/// overhead benchmark and the CLI-equality test.
#[pyfunction]
fn train_config_file(py: Python<'_>, path: PathBuf) -> PyResult<(f64, String)> {
    let (secs, report) = py
        .allow_threads(|| {
            let start = Instant::now();
            let checked = TrainConfig::load(&path)?.check()?;
            let report =
                mast::run::train(&checked, &mut [], FolderMode::Overwrite)?.into_result()?;
            Ok::<_, mast::MastError>((start.elapsed().as_secs_f64(), report))
        })
        .map_err(py_err)?;
    let metrics = serde_json::to_string(&report.outcome.rows).map_err(|e| bad(e.to_string()))?;
    Ok((secs, metrics))
}

fn lambda_for(lambda: &str, n: usize) -> PyResult<f64> {
    lambda
        .parse::<Lambda>()
        .and_then(|l| l.resolve(n))
        .map_err(py_err)
}

/// The exact ERM optimum (`mast erm`): Newton or trust-region Newton–CG.
/// Returns a dict: `x`, `loss`, `grad_norm`, `iterations`, `method`, `converged`, `lambda`.
#[pyfunction]
#[pyo3(signature = (train, loss = "logistic", lambda_ = "1/n", tol = 1e-10, max_iter = 100))]
fn erm<'py>(
    py: Python<'py>,
    train: &Data,
    loss: &str,
    lambda_: &str,
    tol: f64,
    max_iter: usize,
) -> PyResult<Bound<'py, PyDict>> {
    use mast::algorithm::erm::{solve_erm, ErmOptions};
    let lambda = lambda_for(lambda_, train.inner.n_samples())?;
    if tol.is_nan() || tol <= 0.0 {
        return Err(py_err(mast::MastError::param(
            "tol",
            format!("must be > 0, got {tol}"),
        )));
    }
    let opts = ErmOptions {
        tol,
        max_iter,
        ..ErmOptions::default()
    };
    let data = train.inner.clone();
    let kind = LossKind::parse(loss)?;
    let sol = py
        .allow_threads(move || match kind {
            LossKind::Logistic => solve_erm(&LogisticRegression::new(data, lambda)?, &opts),
            LossKind::LeastSquares => solve_erm(&LeastSquares::new(data, lambda)?, &opts),
        })
        .map_err(py_err)?;
    let out = PyDict::new(py);
    out.set_item("x", sol.x.into_pyarray(py))?;
    out.set_item("loss", sol.loss)?;
    out.set_item("grad_norm", sol.grad_norm)?;
    out.set_item("iterations", sol.iterations)?;
    out.set_item("method", sol.method)?;
    out.set_item("converged", sol.converged)?;
    out.set_item("lambda", lambda)?;
    Ok(out)
}

#[derive(Clone, Copy)]
enum LossKind {
    Logistic,
    LeastSquares,
}

impl LossKind {
    fn parse(s: &str) -> PyResult<Self> {
        match s {
            "logistic" => Ok(LossKind::Logistic),
            "least-squares" | "least_squares" | "ls" => Ok(LossKind::LeastSquares),
            other => Err(py_err(mast::MastError::param(
                "loss",
                format!("unknown loss `{other}`: use logistic or least-squares"),
            ))),
        }
    }
}

// ---------------------------------------------------------------------------
// Sketches.

/// A sketch distribution in dimension `dim`, from its spec string (as in the
/// CLI: `identity`, `bernoulli:P`, `rand-k:Q`, `rand-k:k=K`, `perm-k:M`,
/// `gaussian:S2`, `hadamard:INNER`, `importance:file:PATH`, `dropconnect:P`;
/// any registered sketch).
#[pyclass(module = "mast._core", frozen)]
struct Sketch {
    inner: Box<dyn mast::sketch::Sketch>,
}

impl Sketch {
    /// An error for what only a diagonal sketch has.
    fn diagonal_only(&self, what: &str) -> PyResult<()> {
        if self.inner.is_diagonal() {
            Ok(())
        } else {
            Err(bad(format!(
                "`{}` is not diagonal: its draws are not (indices, scales); `{what}` is for \
                 diagonal sketches, use `apply(z, seed)`",
                self.inner.spec()
            )))
        }
    }

    fn draw_from(&self, seed: u64, count: usize) -> Vec<SketchDraw> {
        let mut rng = stream(seed, Stream::Sketch);
        (0..count)
            .map(|_| {
                let mut d = SketchDraw::new();
                self.inner.draw(&mut rng, &mut d);
                d
            })
            .collect()
    }
}

#[pymethods]
impl Sketch {
    #[new]
    fn new(spec: &str, dim: usize) -> PyResult<Self> {
        let spec: SketchSpec = spec.parse().map_err(py_err)?;
        if dim == 0 {
            return Err(py_err(mast::MastError::param("dim", "must be at least 1")));
        }
        Ok(Sketch {
            inner: spec.build(dim).map_err(py_err)?,
        })
    }

    /// The spec string (parses back to the same sketch).
    #[getter]
    fn spec(&self) -> String {
        self.inner.spec()
    }

    /// The dimension d.
    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// `L_S^max = sup λmax(SᵀS)`.
    #[getter]
    fn l_s_max(&self) -> f64 {
        self.inner.l_s_max()
    }

    /// `L_D = λmax E[SᵀS]`.
    #[getter]
    fn l_d(&self) -> f64 {
        self.inner.l_d()
    }

    /// `μ_D = λmin E[SᵀS]`.
    #[getter]
    fn mu_d(&self) -> f64 {
        self.inner.mu_d()
    }

    /// `E|Ω|`, the expected number of kept coordinates.
    #[getter]
    fn expected_kept(&self) -> f64 {
        self.inner.expected_kept()
    }

    /// Whether `E[S] = I`.
    #[getter]
    fn is_unbiased(&self) -> bool {
        self.inner.is_unbiased()
    }

    /// Whether every draw is a diagonal matrix (False for `hadamard:...`, whose
    /// draws are rotations: use `apply`).
    #[getter]
    fn is_diagonal(&self) -> bool {
        self.inner.is_diagonal()
    }

    /// `S_i z` for the first `count` draws of mast's sketch stream for `seed`
    /// (any sketch, diagonal or not): an array of shape (count, d).
    #[pyo3(signature = (z, seed, count = 1))]
    fn apply<'py>(
        &self,
        py: Python<'py>,
        z: PyReadonlyArray1<'py, f64>,
        seed: u64,
        count: usize,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let d = self.inner.dim();
        let z = z.as_array();
        if z.len() != d {
            return Err(py_err(mast::MastError::Dimension(format!(
                "z has {} entries, the sketch has d = {d}",
                z.len()
            ))));
        }
        let z: Vec<f64> = z.iter().copied().collect();
        let mut out = numpy::ndarray::Array2::<f64>::zeros((count, d));
        let mut y = vec![0.0; d];
        for (i, draw) in self.draw_from(seed, count).iter().enumerate() {
            self.inner.apply(draw, &z, &mut y);
            for (j, &t) in y.iter().enumerate() {
                out[[i, j]] = t;
            }
        }
        Ok(out.into_pyarray(py))
    }

    /// The diagonal of `E[SᵀS]`.
    fn expected_sts_diag<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.expected_sts_diag().into_pyarray(py)
    }

    /// `E[s_j s_l]`.
    fn second_moment(&self, j: usize, l: usize) -> PyResult<f64> {
        let d = self.inner.dim();
        if j >= d || l >= d {
            return Err(bad(format!("index ({j}, {l}) outside 0..{d}")));
        }
        Ok(self.inner.second_moment(j, l))
    }

    /// Exact `E[SᵀAS]` for a symmetric d×d `a` (`A ∘ E[ssᵀ]` for a diagonal sketch).
    fn expected_sas<'py>(
        &self,
        py: Python<'py>,
        a: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let d = self.inner.dim();
        let a = a.as_array();
        if a.shape() != [d, d] {
            return Err(py_err(mast::MastError::Dimension(format!(
                "A has shape {:?}, the sketch has d = {d}",
                a.shape()
            ))));
        }
        // Symmetrised, as the sketch's formula takes a symmetric A.
        let sym = mast::linalg::SymMatrix::from_fn(d, |j, l| 0.5 * (a[[j, l]] + a[[l, j]]));
        let m = self.inner.expected_sas(&sym);
        let out = numpy::ndarray::Array2::from_shape_fn((d, d), |(j, l)| m.get(j, l));
        Ok(out.into_pyarray(py))
    }

    #[allow(clippy::type_complexity)]
    /// The first `count` draws of mast's sketch stream for `seed`: a list of
    /// `(indices, scales)` (kept coordinates, increasing, and their diagonal entries).
    #[pyo3(signature = (seed, count = 1))]
    fn draws<'py>(
        &self,
        py: Python<'py>,
        seed: u64,
        count: usize,
    ) -> PyResult<Vec<(Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<f64>>)>> {
        self.diagonal_only("draws")?;
        Ok(self
            .draw_from(seed, count)
            .into_iter()
            .map(|d| {
                let (indices, scales): (Vec<u64>, Vec<f64>) =
                    d.iter().map(|(j, c)| (j as u64, c)).unzip();
                (indices.into_pyarray(py), scales.into_pyarray(py))
            })
            .collect())
    }

    /// Every possible draw with its probability, where there are few enough
    /// (an exact oracle); `None` otherwise.
    #[allow(clippy::type_complexity)]
    fn enumerate<'py>(
        &self,
        py: Python<'py>,
    ) -> Option<Vec<(f64, Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<f64>>)>> {
        if !self.inner.is_diagonal() {
            return None;
        }
        self.inner.enumerate().map(|all| {
            all.into_iter()
                .map(|(p, d)| {
                    (
                        p,
                        d.indices
                            .iter()
                            .map(|&j| j as u64)
                            .collect::<Vec<_>>()
                            .into_pyarray(py),
                        d.scales.into_pyarray(py),
                    )
                })
                .collect()
        })
    }
}

/// A stream of draws of one sketch: node `index`'s generator of mast's
/// `sketch` (or `prune`) stream under `seed` (`mast::rng::node_stream`), so
/// that every tensor of a model gets its own independent, reproducible masks.
#[pyclass(module = "mast._core")]
struct SketchSampler {
    inner: Box<dyn mast::sketch::Sketch>,
    rng: mast::rng::MastRng,
    draw: SketchDraw,
}

#[pymethods]
impl SketchSampler {
    #[new]
    #[pyo3(signature = (spec, dim, seed, index = 0, purpose = "sketch"))]
    fn new(spec: &str, dim: usize, seed: u64, index: usize, purpose: &str) -> PyResult<Self> {
        let spec: SketchSpec = spec.parse().map_err(py_err)?;
        if dim == 0 {
            return Err(py_err(mast::MastError::param("dim", "must be at least 1")));
        }
        let which = match purpose {
            "sketch" => Stream::Sketch,
            "prune" => Stream::Prune,
            other => {
                return Err(bad(format!(
                    "unknown stream `{other}`: use sketch or prune"
                )))
            }
        };
        Ok(SketchSampler {
            inner: spec.build(dim).map_err(py_err)?,
            rng: mast::rng::node_stream(seed, which, index),
            draw: SketchDraw::new(),
        })
    }

    /// The next draw as the dense diagonal of `S` (length d: the scale on kept
    /// coordinates, 0 elsewhere).
    fn next_dense<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.draw(&mut self.rng, &mut self.draw);
        self.draw.to_dense(self.inner.dim()).into_pyarray(py)
    }
}

// ---------------------------------------------------------------------------
// The objective.

enum Model {
    Logistic(LogisticRegression),
    LeastSquares(LeastSquares),
}

macro_rules! with_model {
    ($m:expr, $f:ident => $body:expr) => {
        match $m {
            Model::Logistic($f) => $body,
            Model::LeastSquares($f) => $body,
        }
    };
}

/// `f` (ℓ2-regularised logistic or least squares over a dataset) and its MAST
/// quantities.
#[pyclass(module = "mast._core", frozen)]
struct Objective {
    model: Model,
    lambda: f64,
}

impl Objective {
    fn dim(&self) -> usize {
        with_model!(&self.model, f => f.dim())
    }

    fn vec(&self, x: &PyReadonlyArray1<'_, f64>, name: &str) -> PyResult<Vec<f64>> {
        let s = x.as_slice().map_err(|e| bad(e.to_string()))?;
        check_len(s.len(), self.dim(), name)?;
        if let Some(i) = first_non_finite(s) {
            return Err(bad(format!("{name} contains {} at index {i}", what(s[i]))));
        }
        Ok(s.to_vec())
    }

    fn shift(&self, v: Option<PyReadonlyArray1<'_, f64>>) -> PyResult<Shift> {
        match v {
            None => Ok(Shift::zero(self.dim())),
            Some(v) => {
                let v = self.vec(&v, "v")?;
                Ok(with_model!(&self.model, f => Shift::new(f, v)))
            }
        }
    }
}

#[pymethods]
impl Objective {
    #[new]
    #[pyo3(signature = (data, loss = "logistic", lambda_ = "1/n"))]
    fn new(data: &Data, loss: &str, lambda_: &str) -> PyResult<Self> {
        let lambda = lambda_for(lambda_, data.inner.n_samples())?;
        let model = match LossKind::parse(loss)? {
            LossKind::Logistic => Model::Logistic(
                LogisticRegression::new(data.inner.clone(), lambda).map_err(py_err)?,
            ),
            LossKind::LeastSquares => {
                Model::LeastSquares(LeastSquares::new(data.inner.clone(), lambda).map_err(py_err)?)
            }
        };
        Ok(Objective { model, lambda })
    }

    /// λ (resolved).
    #[getter]
    fn lambda_(&self) -> f64 {
        self.lambda
    }

    /// The dimension d.
    #[getter]
    fn n_features(&self) -> usize {
        self.dim()
    }

    /// The smoothness constant `L_f`.
    #[getter]
    fn smoothness(&self) -> f64 {
        with_model!(&self.model, f => f.smoothness())
    }

    /// The strong-convexity constant `μ_f` (λ).
    #[getter]
    fn strong_convexity(&self) -> f64 {
        with_model!(&self.model, f => f.strong_convexity())
    }

    /// `f(x)`.
    fn value(&self, py: Python<'_>, x: PyReadonlyArray1<'_, f64>) -> PyResult<f64> {
        let x = self.vec(&x, "x")?;
        Ok(py.allow_threads(|| with_model!(&self.model, f => f.loss(&x))))
    }

    /// `∇f(x)`.
    fn gradient<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let x = self.vec(&x, "x")?;
        let mut g = vec![0.0; x.len()];
        py.allow_threads(|| with_model!(&self.model, f => f.loss_grad(&x, Rows::All, &mut g)));
        Ok(g.into_pyarray(py))
    }

    /// `(f_S(x), ∇f_S(x))` for the `index`-th draw of mast's sketch stream for `seed`.
    #[pyo3(signature = (x, sketch, seed = 42, index = 0, v = None))]
    fn sketched<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f64>,
        sketch: &Sketch,
        seed: u64,
        index: usize,
        v: Option<PyReadonlyArray1<'py, f64>>,
    ) -> PyResult<(f64, Bound<'py, PyArray1<f64>>)> {
        let x = self.vec(&x, "x")?;
        check_len(sketch.inner.dim(), self.dim(), "the sketch")?;
        let shift = self.shift(v)?;
        let draw = sketch.draw_from(seed, index + 1).pop().unwrap_or_default();
        let (fs, g) = py.allow_threads(|| {
            with_model!(&self.model, f => mast::sketched::sketched_value_grad(f, &shift, &x, &draw))
        });
        Ok((fs, g.into_pyarray(py)))
    }

    /// The Monte-Carlo estimate of `f_D(x)` from `samples` draws seeded by
    /// mast's estimate stream for `seed` (as the run summary's `fd_final`):
    /// `(mean, standard error)`.
    #[pyo3(signature = (x, sketch, samples = 200, seed = 42, v = None))]
    fn fd(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray1<'_, f64>,
        sketch: &Sketch,
        samples: usize,
        seed: u64,
        v: Option<PyReadonlyArray1<'_, f64>>,
    ) -> PyResult<(f64, f64)> {
        let x = self.vec(&x, "x")?;
        check_len(sketch.inner.dim(), self.dim(), "the sketch")?;
        if samples < 2 {
            return Err(py_err(mast::MastError::param(
                "samples",
                "must be at least 2",
            )));
        }
        let shift = self.shift(v)?;
        let est = py.allow_threads(|| {
            with_model!(&self.model, f => mast::sketched::estimate_fd(
                f, &shift, sketch.inner.as_ref(), &x, samples, &mut stream(seed, Stream::Estimate)))
        });
        Ok((est.mean, est.std_err))
    }

    /// Exact MAST quantities of the least-squares quadratic (MAST.md §2):
    /// a dict with `A`, `b` (f(x) = ½xᵀAx − bᵀx + c), `expected_sas` (E[SᵀAS]),
    /// and at `x`: `f`, `fd` (exact f_D), `grad_fd`; and `x_star`, `x_d_star`.
    #[pyo3(signature = (x, sketch, v = None))]
    fn quadratic<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray1<'py, f64>,
        sketch: &Sketch,
        v: Option<PyReadonlyArray1<'py, f64>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let Model::LeastSquares(ls) = &self.model else {
            return Err(bad("exact quadratic forms exist for loss = least-squares only (logistic f_D has no closed form: use fd)"));
        };
        let x = self.vec(&x, "x")?;
        check_len(sketch.inner.dim(), self.dim(), "the sketch")?;
        let v = match v {
            Some(v) => self.vec(&v, "v")?,
            None => vec![0.0; self.dim()],
        };
        let q = Quadratic::from_least_squares(ls).map_err(py_err)?;
        let m = mast::sketched::QuadraticMast::new(&q, sketch.inner.as_ref(), v).map_err(py_err)?;
        let d = self.dim();
        let to2 = |s: &mast::linalg::SymMatrix| {
            numpy::ndarray::Array2::from_shape_fn((d, d), |(i, j)| s.get(i, j))
        };
        let out = PyDict::new(py);
        out.set_item("A", to2(q.a()).into_pyarray(py))?;
        out.set_item("b", q.b().to_vec().into_pyarray(py))?;
        out.set_item("expected_sas", to2(m.expected_sas()).into_pyarray(py))?;
        out.set_item("f", q.loss(&x))?;
        out.set_item("fd", m.value(&x))?;
        out.set_item("grad_fd", m.gradient(&x).into_pyarray(py))?;
        out.set_item("x_star", q.minimizer().map_err(py_err)?.into_pyarray(py))?;
        out.set_item("x_d_star", m.minimizer().map_err(py_err)?.into_pyarray(py))?;
        Ok(out)
    }
}

// ---------------------------------------------------------------------------
// Experiments.

/// A config file of experiment `kind` (`prune`, `curves`, `grid`) as JSON,
/// relative data paths resolved against the file's folder.
#[pyfunction]
fn experiment_config(kind: &str, path: PathBuf) -> PyResult<String> {
    use mast_experiments::{curves::CurvesConfig, grid::GridConfig, prune::PruneConfig};
    let json = match kind {
        "prune" => serde_json::to_string(&PruneConfig::load(&path).map_err(exp_err)?),
        "curves" => serde_json::to_string(&CurvesConfig::load(&path).map_err(exp_err)?),
        "grid" => serde_json::to_string(&GridConfig::load(&path).map_err(exp_err)?),
        other => {
            return Err(bad(format!(
                "unknown experiment `{other}`: use prune, curves or grid"
            )))
        }
    };
    json.map_err(|e| bad(e.to_string()))
}

/// Runs experiment `kind` from its JSON config into `out` (the CLI's
/// `mast experiment KIND`), GIL released. Returns the files written, by name.
#[pyfunction]
#[pyo3(signature = (kind, config_json, out, threads = None))]
fn run_experiment<'py>(
    py: Python<'py>,
    kind: &str,
    config_json: &str,
    out: PathBuf,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    use mast_experiments::common::Silent;
    use mast_experiments::{curves, grid, prune};
    let parse_err = |e: serde_json::Error| bad(format!("invalid {kind} configuration: {e}"));
    let files: Vec<(String, PathBuf)> = match kind {
        "prune" => {
            let cfg: prune::PruneConfig = serde_json::from_str(config_json).map_err(parse_err)?;
            let o = run_pool(py, threads, || prune::run_prune(&cfg, &out, &Silent))?;
            o.files
                .into_iter()
                .map(|p| {
                    (
                        p.file_name()
                            .map(|s| s.to_string_lossy().to_string())
                            .unwrap_or_default(),
                        p,
                    )
                })
                .collect()
        }
        "curves" => {
            let cfg: curves::CurvesConfig = serde_json::from_str(config_json).map_err(parse_err)?;
            let o = run_pool(py, threads, || curves::run_curves(&cfg, &out, &Silent))?;
            vec![
                ("config.toml".into(), o.config),
                ("curves.csv".into(), o.curves_csv),
                ("curves_summary.csv".into(), o.summary_csv),
                ("curves_final.csv".into(), o.final_csv),
                ("index.html".into(), o.index),
            ]
        }
        "grid" => {
            let cfg: grid::GridConfig = serde_json::from_str(config_json).map_err(parse_err)?;
            let o = run_pool(py, threads, || grid::run_grid(&cfg, &out, &Silent))?;
            vec![
                ("config.toml".into(), o.config),
                ("grid.csv".into(), o.grid_csv),
                ("grid_stable.csv".into(), o.stable_csv),
                ("index.html".into(), o.index),
            ]
        }
        other => {
            return Err(bad(format!(
                "unknown experiment `{other}`: use prune, curves or grid"
            )))
        }
    };
    let d = PyDict::new(py);
    for (name, path) in files {
        d.set_item(name, path)?;
    }
    Ok(d)
}

fn run_pool<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    job: impl FnOnce() -> mast_experiments::Result<T> + Send,
) -> PyResult<T> {
    py.allow_threads(|| match threads {
        Some(0) => Err(mast_experiments::ExpError::setting(
            "threads",
            "must be at least 1",
        )),
        Some(t) => rayon_pool(t)?.install(job),
        None => job(),
    })
    .map_err(exp_err)
}

fn rayon_pool(threads: usize) -> mast_experiments::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| mast_experiments::ExpError::setting("threads", e.to_string()))
}

/// The compiled core of `mast` (private: use the `mast` package).
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MastError", m.py().get_type::<MastError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Data>()?;
    m.add_class::<Sketch>()?;
    m.add_class::<Objective>()?;
    m.add_class::<SketchSampler>()?;
    m.add_function(wrap_pyfunction!(load_svmlight, m)?)?;
    m.add_function(wrap_pyfunction!(sketch_spec, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(train_config_file, m)?)?;
    m.add_function(wrap_pyfunction!(erm, m)?)?;
    m.add_function(wrap_pyfunction!(experiment_config, m)?)?;
    m.add_function(wrap_pyfunction!(run_experiment, m)?)?;
    m.add_function(wrap_pyfunction!(allocated_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(reset_peak, m)?)?;
    Ok(())
}
