//! A labelled dataset: a design matrix (dense or sparse) and ±1 (or real) targets.

use super::{CsrMatrix, DenseMatrix};

/// The feature matrix of a dataset.
#[derive(Debug, Clone)]
pub enum Design {
    /// Dense features.
    Dense(DenseMatrix),
    /// Sparse features (CSR).
    Sparse(CsrMatrix),
}

impl Design {
    /// Number of samples.
    pub fn n_rows(&self) -> usize {
        match self {
            Design::Dense(m) => m.n_rows(),
            Design::Sparse(m) => m.n_rows(),
        }
    }

    /// Number of features.
    pub fn n_cols(&self) -> usize {
        match self {
            Design::Dense(m) => m.n_cols(),
            Design::Sparse(m) => m.n_cols(),
        }
    }

    /// Stored nonzeros (n·d for dense).
    pub fn nnz(&self) -> usize {
        match self {
            Design::Dense(m) => m.n_rows() * m.n_cols(),
            Design::Sparse(m) => m.nnz(),
        }
    }

    /// `a_iᵀ x` for row `i`.
    #[inline]
    pub fn row_dot(&self, i: usize, x: &[f64]) -> f64 {
        match self {
            Design::Dense(m) => crate::linalg::dot(m.row(i), x),
            Design::Sparse(m) => {
                let (ix, vx) = m.row(i);
                ix.iter().zip(vx).map(|(&j, &v)| v * x[j as usize]).sum()
            }
        }
    }

    /// Hints the CPU to bring row `i` into cache: issued for the rows of the next
    /// minibatch, it overlaps their cache misses with the current step's work.
    #[inline]
    pub fn prefetch_row(&self, i: usize) {
        match self {
            Design::Dense(m) => m.prefetch_row(i),
            Design::Sparse(m) => m.prefetch_row(i),
        }
    }

    /// `out = A x` (all rows).
    pub fn matvec(&self, x: &[f64], out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.row_dot(i, x);
        }
    }

    /// `out = Aᵀ r` (accumulated row by row, in row order).
    pub fn matvec_t(&self, r: &[f64], out: &mut [f64]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for (i, &ri) in r.iter().enumerate() {
            if ri == 0.0 {
                continue;
            }
            match self {
                Design::Dense(m) => crate::linalg::axpy(ri, m.row(i), out),
                Design::Sparse(m) => {
                    let (ix, vx) = m.row(i);
                    for (&j, &v) in ix.iter().zip(vx) {
                        out[j as usize] += ri * v;
                    }
                }
            }
        }
    }

    /// The rows `rows` as a new design.
    pub fn select_rows(&self, rows: &[usize]) -> Design {
        match self {
            Design::Dense(m) => Design::Dense(m.select_rows(rows)),
            Design::Sparse(m) => Design::Sparse(m.select_rows(rows)),
        }
    }
}

/// How raw label values map to −1/+1.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LabelMap {
    /// The raw value that becomes −1.
    pub negative: f64,
    /// The raw value that becomes +1.
    pub positive: f64,
}

impl LabelMap {
    /// Maps a raw label, or `None` if it is neither of the two values.
    pub fn map(&self, raw: f64) -> Option<f64> {
        if raw == self.negative {
            Some(-1.0)
        } else if raw == self.positive {
            Some(1.0)
        } else {
            None
        }
    }
}

/// Features and labels, with a name for reports.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// A short name (file stem, or "synthetic").
    pub name: String,
    /// The features.
    pub features: Design,
    /// The targets: ±1 for classification, real values for regression.
    pub labels: Vec<f64>,
}

impl Dataset {
    /// A dataset; panics if the label count differs from the row count.
    pub fn new(name: impl Into<String>, features: Design, labels: Vec<f64>) -> Self {
        assert_eq!(features.n_rows(), labels.len(), "labels vs rows");
        Dataset {
            name: name.into(),
            features,
            labels,
        }
    }

    /// Number of samples.
    pub fn n_samples(&self) -> usize {
        self.labels.len()
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.features.n_cols()
    }

    /// The samples `rows` as a new dataset.
    pub fn select_rows(&self, rows: &[usize], name: impl Into<String>) -> Dataset {
        Dataset::new(
            name,
            self.features.select_rows(rows),
            rows.iter().map(|&i| self.labels[i]).collect(),
        )
    }

    /// Fraction of samples with `sign(a_iᵀx) == b_i` (a margin of exactly 0 counts as +1).
    pub fn accuracy(&self, x: &[f64]) -> f64 {
        if self.labels.is_empty() {
            return f64::NAN;
        }
        let correct = (0..self.n_samples())
            .filter(|&i| {
                let m = self.features.row_dot(i, x);
                let pred = if m >= 0.0 { 1.0 } else { -1.0 };
                pred == self.labels[i]
            })
            .count();
        correct as f64 / self.n_samples() as f64
    }
}
