//! Dense row-major matrices, with a lazily built column-major copy.

use std::sync::OnceLock;

use super::Buffer;

/// A dense matrix stored row by row; `cols()` gives a column-major copy on demand
/// (used by full-data sketched gradients, whose cost is then proportional to the
/// kept columns).
#[derive(Debug)]
pub struct DenseMatrix {
    n_rows: usize,
    n_cols: usize,
    data: Buffer<f64>,
    cols: OnceLock<Vec<f64>>,
}

impl Clone for DenseMatrix {
    fn clone(&self) -> Self {
        DenseMatrix::from_buffer(self.n_rows, self.n_cols, self.data.clone())
    }
}

impl DenseMatrix {
    /// A matrix from row-major data.
    ///
    /// ```
    /// use mast::data::DenseMatrix;
    /// let m = DenseMatrix::from_row_major(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(m.row(1), &[3.0, 4.0]);
    /// assert_eq!(m.col(1), &[2.0, 4.0]);
    /// ```
    pub fn from_row_major(n_rows: usize, n_cols: usize, data: Vec<f64>) -> Self {
        Self::from_buffer(n_rows, n_cols, data.into())
    }

    /// A matrix from row-major data held in a [`Buffer`] (owned, mapped, or
    /// shared with another runtime without a copy).
    ///
    /// # Panics
    /// If `data` does not hold `n_rows · n_cols` values.
    pub fn from_buffer(n_rows: usize, n_cols: usize, data: Buffer<f64>) -> Self {
        assert_eq!(data.len(), n_rows * n_cols, "dense data length");
        DenseMatrix {
            n_rows,
            n_cols,
            data,
            cols: OnceLock::new(),
        }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// Entry (i, j).
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n_cols + j]
    }

    /// Hints the CPU to bring row `i` into cache (see [`super::CsrMatrix::prefetch_row`]).
    #[inline]
    pub fn prefetch_row(&self, i: usize) {
        crate::linalg::prefetch(self.row(i));
    }

    /// All entries, row-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// Column `j` (from the column-major copy, built on first use).
    #[inline]
    pub fn col(&self, j: usize) -> &[f64] {
        let cols = self.col_major();
        &cols[j * self.n_rows..(j + 1) * self.n_rows]
    }

    /// The whole column-major copy.
    pub fn col_major(&self) -> &[f64] {
        self.cols.get_or_init(|| {
            let (n, d) = (self.n_rows, self.n_cols);
            let mut out = vec![0.0; n * d];
            const B: usize = 64;
            for i0 in (0..n).step_by(B) {
                for j0 in (0..d).step_by(B) {
                    for i in i0..(i0 + B).min(n) {
                        for j in j0..(j0 + B).min(d) {
                            out[j * n + i] = self.data[i * d + j];
                        }
                    }
                }
            }
            out
        })
    }

    /// The rows `rows` as a new matrix.
    pub fn select_rows(&self, rows: &[usize]) -> DenseMatrix {
        let mut data = Vec::with_capacity(rows.len() * self.n_cols);
        for &i in rows {
            data.extend_from_slice(self.row(i));
        }
        DenseMatrix::from_row_major(rows.len(), self.n_cols, data)
    }
}
