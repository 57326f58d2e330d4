//! The columns a sparse training set uses, and the dataset restricted to them.

use rayon::prelude::*;

use crate::data::{CsrMatrix, Dataset, Design};

/// The columns of a design that at least one row uses, in increasing order (all
/// columns for dense designs). For ℓ2-regularised linear models the ERM optimum
/// is zero on every other column.
///
/// ```
/// use mast::algorithm::erm::UsedColumns;
/// use mast::data::{CsrMatrix, Design};
/// let a = CsrMatrix::new(2, 1_000_000, vec![0, 2, 3], vec![7, 900_000, 7], vec![1.0, 2.0, 3.0]);
/// let cols = UsedColumns::of(&Design::Sparse(a));
/// assert_eq!((cols.len(), cols.dim()), (2, 1_000_000));
/// assert_eq!(cols.position(900_000), Some(1));
/// assert_eq!(cols.position(8), None);
/// let x = cols.expand(&[0.5, -1.0]);
/// assert_eq!((x[7], x[900_000], x[8]), (0.5, -1.0, 0.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UsedColumns {
    dim: usize,
    /// The used columns in increasing order; `None` when every column is used.
    used: Option<Vec<u32>>,
}

impl UsedColumns {
    /// The used columns of `design`. Costs O(nnz) with a d-sized marker (4 bytes a
    /// column) when d is at most twice the nonzeros, else O(nnz log nnz) with
    /// nothing of size d.
    pub fn of(design: &Design) -> Self {
        let dim = design.n_cols();
        let Design::Sparse(sp) = design else {
            return UsedColumns { dim, used: None };
        };
        let nnz = sp.nnz();
        let used: Vec<u32> = if dim <= 2 * nnz + 1024 {
            let mut seen = vec![false; dim];
            for i in 0..sp.n_rows() {
                for &j in sp.row(i).0 {
                    seen[j as usize] = true;
                }
            }
            (0..dim as u32).filter(|&j| seen[j as usize]).collect()
        } else {
            let mut all: Vec<u32> = (0..sp.n_rows())
                .flat_map(|i| sp.row(i).0.iter().copied())
                .collect();
            all.par_sort_unstable();
            all.dedup();
            all
        };
        if used.len() == dim {
            UsedColumns { dim, used: None }
        } else {
            UsedColumns {
                dim,
                used: Some(used),
            }
        }
    }

    /// The dimension d of the full problem.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The number of used columns.
    pub fn len(&self) -> usize {
        self.used.as_ref().map_or(self.dim, Vec::len)
    }

    /// Whether no column is used (an empty or all-zero design).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every column is used (compaction would change nothing).
    pub fn is_all(&self) -> bool {
        self.used.is_none()
    }

    /// The original index of the `k`-th used column.
    pub fn column(&self, k: usize) -> usize {
        self.used.as_ref().map_or(k, |u| u[k] as usize)
    }

    /// The position of column `j` among the used columns, if it is used.
    pub fn position(&self, j: usize) -> Option<usize> {
        match &self.used {
            None => (j < self.dim).then_some(j),
            Some(u) => u32::try_from(j).ok().and_then(|j| u.binary_search(&j).ok()),
        }
    }

    /// The d-vector that is `x_used[k]` at the k-th used column and 0 elsewhere.
    pub fn expand(&self, x_used: &[f64]) -> Vec<f64> {
        assert_eq!(x_used.len(), self.len(), "one value per used column");
        match &self.used {
            None => x_used.to_vec(),
            Some(u) => {
                let mut x = vec![0.0; self.dim];
                for (&j, &v) in u.iter().zip(x_used) {
                    x[j as usize] = v;
                }
                x
            }
        }
    }

    /// `a_iᵀ x` for every row of `data` (whose columns index the full problem),
    /// with `x` given on the used columns only; parallel over rows. Expands x to
    /// all d coordinates where that costs less than the data (d at most twice its
    /// nonzeros), else looks each column up among the used ones.
    pub fn margins(&self, data: &Dataset, x_used: &[f64]) -> Vec<f64> {
        let n = data.n_samples();
        let mut m = vec![0.0; n];
        match (&self.used, &data.features) {
            (Some(u), Design::Sparse(sp)) if self.dim > 2 * sp.nnz() + 1024 => {
                m.par_iter_mut().enumerate().for_each(|(i, mi)| {
                    let (ix, vx) = sp.row(i);
                    *mi = ix
                        .iter()
                        .zip(vx)
                        .filter_map(|(&j, &a)| u.binary_search(&j).ok().map(|k| a * x_used[k]))
                        .sum();
                });
            }
            _ => {
                let x = self.expand(x_used);
                let design = &data.features;
                let dx = design.n_cols().min(x.len());
                m.par_iter_mut().enumerate().for_each(|(i, mi)| {
                    *mi = match design {
                        Design::Sparse(sp) => {
                            let (ix, vx) = sp.row(i);
                            ix.iter()
                                .zip(vx)
                                .filter(|(&j, _)| (j as usize) < dx)
                                .map(|(&j, &a)| a * x[j as usize])
                                .sum()
                        }
                        Design::Dense(dm) => crate::linalg::dot(&dm.row(i)[..dx], &x[..dx]),
                    };
                });
            }
        }
        m
    }

    /// The fraction of rows of `data` with `sign(a_iᵀx) = b_i` (a margin of 0 counts
    /// as +1), as [`Dataset::accuracy`] of the expanded x.
    pub fn accuracy(&self, data: &Dataset, x_used: &[f64]) -> f64 {
        if data.labels.is_empty() {
            return f64::NAN;
        }
        let m = self.margins(data, x_used);
        let correct = m
            .iter()
            .zip(&data.labels)
            .filter(|(&mi, &b)| (if mi >= 0.0 { 1.0 } else { -1.0 }) == b)
            .count();
        correct as f64 / data.n_samples() as f64
    }

    /// `data` restricted to the used columns, renumbered 0..len (rows and their
    /// order unchanged, so every margin `a_iᵀx` is computed with the same terms
    /// in the same order).
    ///
    /// # Panics
    /// If `data` stores a column that is not among these (they must be the used
    /// columns of `data` itself, from [`UsedColumns::of`]).
    pub fn compact(&self, data: &Dataset) -> Dataset {
        let features = match (&self.used, &data.features) {
            (Some(u), Design::Sparse(sp)) => Design::Sparse(compact_csr(sp, u)),
            _ => data.features.clone(),
        };
        Dataset::new(data.name.clone(), features, data.labels.clone())
    }
}

/// `sp` with column `u[k]` renumbered k (every stored column must be in `u`).
fn compact_csr(sp: &CsrMatrix, used: &[u32]) -> CsrMatrix {
    let n = sp.n_rows();
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0);
    let mut values = Vec::with_capacity(sp.nnz());
    let mut original = Vec::with_capacity(sp.nnz());
    for i in 0..n {
        let (ix, vx) = sp.row(i);
        original.extend_from_slice(ix);
        values.extend_from_slice(vx);
        indptr.push(original.len());
    }
    let dim = sp.n_cols();
    let indices: Vec<u32> = if dim <= 2 * sp.nnz() + 1024 {
        let mut map = vec![u32::MAX; dim];
        for (k, &j) in used.iter().enumerate() {
            map[j as usize] = k as u32;
        }
        original.par_iter().map(|&j| map[j as usize]).collect()
    } else {
        original
            .par_iter()
            .map(|j| used.binary_search(j).expect("a stored column is used") as u32)
            .collect()
    };
    CsrMatrix::new(n, used.len(), indptr, indices, values)
}
