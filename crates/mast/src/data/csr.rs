//! Compressed sparse row matrices, with a lazily built column (CSC) copy.

use std::sync::OnceLock;

use super::{BitRows, Buffer};

/// A compressed sparse column view: `indptr[j]..indptr[j+1]` are the nonzeros of column `j`.
#[derive(Debug, Clone)]
pub struct Csc {
    /// Column pointers, length `n_cols + 1`.
    pub indptr: Vec<usize>,
    /// Row indices of the nonzeros.
    pub indices: Vec<u32>,
    /// Values of the nonzeros.
    pub values: Vec<f64>,
}

/// A sparse matrix in CSR form. Column indices are 0-based and strictly increasing in a row.
/// Its arrays are owned, or read in place from a memory-mapped cache file.
#[derive(Debug)]
pub struct CsrMatrix {
    n_rows: usize,
    n_cols: usize,
    indptr: Buffer<usize>,
    indices: Buffer<u32>,
    values: Buffer<f64>,
    /// Whether every stored value is 1 (one-hot / indicator features).
    binary: bool,
    csc: OnceLock<Csc>,
    bit_rows: OnceLock<Option<BitRows>>,
}

impl Clone for CsrMatrix {
    fn clone(&self) -> Self {
        CsrMatrix {
            n_rows: self.n_rows,
            n_cols: self.n_cols,
            indptr: self.indptr.clone(),
            indices: self.indices.clone(),
            values: self.values.clone(),
            binary: self.binary,
            csc: OnceLock::new(),
            bit_rows: OnceLock::new(),
        }
    }
}

impl CsrMatrix {
    /// Builds a matrix from its CSR arrays.
    ///
    /// # Panics
    /// If the arrays are inconsistent (this is a programming error, not bad input:
    /// loaders validate their input before calling this).
    ///
    /// ```
    /// use mast::data::CsrMatrix;
    /// let m = CsrMatrix::new(2, 3, vec![0, 1, 3], vec![2, 0, 1], vec![1.0, 2.0, 3.0]);
    /// assert_eq!(m.row(1), (&[0u32, 1][..], &[2.0, 3.0][..]));
    /// ```
    pub fn new(
        n_rows: usize,
        n_cols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        values: Vec<f64>,
    ) -> Self {
        Self::from_buffers(n_rows, n_cols, indptr.into(), indices.into(), values.into())
    }

    /// Builds a matrix from its CSR arrays, owned or memory-mapped.
    ///
    /// # Panics
    /// As [`CsrMatrix::new`].
    pub fn from_buffers(
        n_rows: usize,
        n_cols: usize,
        indptr: Buffer<usize>,
        indices: Buffer<u32>,
        values: Buffer<f64>,
    ) -> Self {
        assert_eq!(indptr.len(), n_rows + 1, "indptr length");
        assert_eq!(indices.len(), values.len(), "indices/values length");
        assert_eq!(*indptr.last().unwrap(), indices.len(), "indptr end");
        assert!(
            indices.iter().all(|&j| (j as usize) < n_cols),
            "column index out of range"
        );
        let binary = values.iter().all(|&v| v == 1.0);
        CsrMatrix {
            n_rows,
            n_cols,
            indptr,
            indices,
            values,
            binary,
            csc: OnceLock::new(),
            bit_rows: OnceLock::new(),
        }
    }

    /// Whether every stored value is exactly 1 (indicator features, as in the
    /// LIBSVM a*a sets): oracles may then skip reading the values.
    pub fn is_binary(&self) -> bool {
        self.binary
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Whether the arrays are read in place from a memory-mapped file.
    pub fn is_mapped(&self) -> bool {
        self.indices.is_mapped()
    }

    /// Number of stored nonzeros.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Column indices and values of row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// Hints the CPU to bring row `i`'s indices and values into cache (a no-op
    /// off x86-64). Issuing this for every row of a random minibatch before
    /// reading them overlaps the cache misses.
    #[inline]
    pub fn prefetch_row(&self, i: usize) {
        let (ix, vx) = self.row(i);
        crate::linalg::prefetch(ix);
        if !self.binary {
            crate::linalg::prefetch(vx);
        }
    }

    /// The rows `rows` as a new matrix (same column count).
    pub fn select_rows(&self, rows: &[usize]) -> CsrMatrix {
        let mut indptr = Vec::with_capacity(rows.len() + 1);
        indptr.push(0);
        let mut indices = Vec::new();
        let mut values = Vec::new();
        for &i in rows {
            let (ix, vx) = self.row(i);
            indices.extend_from_slice(ix);
            values.extend_from_slice(vx);
            indptr.push(indices.len());
        }
        CsrMatrix::new(rows.len(), self.n_cols, indptr, indices, values)
    }

    /// The same matrix with more (empty) columns.
    pub fn with_n_cols(mut self, n_cols: usize) -> CsrMatrix {
        assert!(n_cols >= self.n_cols);
        self.n_cols = n_cols;
        self.csc = OnceLock::new();
        self.bit_rows = OnceLock::new();
        self
    }

    /// The rows as bit sets, built on first use (O(n·d/64 + nnz)), where that pays
    /// for the minibatch kernels: indicator features (every value 1, no column
    /// repeated in a row) and d small against the nonzeros per row, as in the
    /// LIBSVM a*a sets. `None` otherwise.
    ///
    /// ```
    /// use mast::data::CsrMatrix;
    /// let m = CsrMatrix::new(2, 3, vec![0, 2, 3], vec![0, 2, 1], vec![1.0; 3]);
    /// assert_eq!(m.bit_rows().unwrap().row(0)[0], 0b101);
    /// let m = CsrMatrix::new(1, 3, vec![0, 1], vec![0], vec![0.5]);
    /// assert!(m.bit_rows().is_none());
    /// ```
    pub fn bit_rows(&self) -> Option<&BitRows> {
        self.bit_rows
            .get_or_init(|| {
                BitRows::pays_for(self)
                    .then(|| BitRows::from_csr(self))
                    .flatten()
            })
            .as_ref()
    }

    /// The column-major copy, built on first use (O(nnz)).
    pub fn csc(&self) -> &Csc {
        self.csc.get_or_init(|| {
            let mut counts = vec![0usize; self.n_cols + 1];
            for &j in self.indices.iter() {
                counts[j as usize + 1] += 1;
            }
            for j in 0..self.n_cols {
                counts[j + 1] += counts[j];
            }
            let indptr = counts.clone();
            let mut next = counts;
            let mut indices = vec![0u32; self.nnz()];
            let mut values = vec![0.0; self.nnz()];
            for i in 0..self.n_rows {
                let (ix, vx) = self.row(i);
                for (&j, &v) in ix.iter().zip(vx) {
                    let p = next[j as usize];
                    indices[p] = i as u32;
                    values[p] = v;
                    next[j as usize] += 1;
                }
            }
            Csc {
                indptr,
                indices,
                values,
            }
        })
    }
}

impl Csc {
    /// Row indices and values of column `j`.
    #[inline]
    pub fn col(&self, j: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.indptr[j], self.indptr[j + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }
}
