//! The rows of a 0/1 design as bit sets, for small d: a row of a5a (d = 123,
//! 14 indicator features) is two 64-bit words instead of 14 column indices.

use super::CsrMatrix;

/// Largest d kept as bit rows (a row is then at most 512 bytes).
const MAX_COLS: usize = 4096;

/// Bit rows pay while a row's bits are not many more than its nonzeros: the
/// minibatch kernels cost about one operation per 8 columns against about three
/// per nonzero of the index lists, so bit rows are kept while
/// `d ≤ DENSITY_FACTOR × (mean nonzeros per row)`.
const DENSITY_FACTOR: usize = 24;

/// The rows of a matrix whose every stored value is 1, as bit sets: bit `j % 64`
/// of word `j / 64` of row `i` is set when `a_ij = 1`.
///
/// A row takes [`BitRows::stride`] words, an even number, so that row `i`'s
/// 16-feature-block `b` is words `2b, 2b + 1` and no block reads past its row;
/// bits past the last column are zero.
///
/// ```
/// use mast::data::{BitRows, CsrMatrix};
/// let m = CsrMatrix::new(2, 70, vec![0, 2, 3], vec![1, 65, 3], vec![1.0; 3]);
/// let b = BitRows::from_csr(&m).unwrap();
/// assert_eq!(b.stride(), 2);
/// assert_eq!(b.row(0), &[1u64 << 1, 1 << 1]);
/// assert_eq!(b.row(1), &[1u64 << 3, 0]);
/// ```
#[derive(Debug, Clone)]
pub struct BitRows {
    n_rows: usize,
    n_cols: usize,
    stride: usize,
    bits: Vec<u64>,
}

impl BitRows {
    /// The bit rows of `m`, or `None` when some stored value is not 1 or some
    /// row's columns are not strictly increasing (a bit set cannot say a_ij = 2,
    /// and the minibatch kernels that read both forms rely on the order).
    pub fn from_csr(m: &CsrMatrix) -> Option<BitRows> {
        if !m.is_binary() {
            return None;
        }
        let stride = m.n_cols().div_ceil(64).next_multiple_of(2).max(2);
        let mut bits = vec![0u64; m.n_rows() * stride];
        for (i, row) in bits.chunks_exact_mut(stride).enumerate() {
            let ix = m.row(i).0;
            if ix.windows(2).any(|p| p[0] >= p[1]) {
                return None;
            }
            for &j in ix {
                row[j as usize / 64] |= 1 << (j % 64);
            }
        }
        Some(BitRows {
            n_rows: m.n_rows(),
            n_cols: m.n_cols(),
            stride,
            bits,
        })
    }

    /// Whether the minibatch kernels should use bit rows for `m`: binary, at most
    /// [`MAX_COLS`] columns, and dense enough (see [`DENSITY_FACTOR`]).
    pub(crate) fn pays_for(m: &CsrMatrix) -> bool {
        let mean_row = m.nnz().div_ceil(m.n_rows().max(1));
        m.is_binary() && m.n_cols() <= MAX_COLS && m.n_cols() <= DENSITY_FACTOR * mean_row
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns d.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Words per row: ⌈d/64⌉ rounded up to an even number.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Row `i`'s words.
    #[inline]
    pub fn row(&self, i: usize) -> &[u64] {
        &self.bits[i * self.stride..(i + 1) * self.stride]
    }

    /// Hints the CPU to bring row `i` into cache (a no-op off x86-64): one
    /// prefetch per cache line the row touches (one, for d ≤ 512 on a 16-byte
    /// aligned buffer).
    #[inline]
    pub fn prefetch_row(&self, i: usize) {
        let row = self.row(i);
        let first = row.as_ptr() as usize;
        let last = first + std::mem::size_of_val(row) - 1;
        crate::linalg::prefetch(&row[..1]);
        if first >> 6 != last >> 6 {
            crate::linalg::prefetch(&row[1..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_match_the_csr_rows() {
        let m = CsrMatrix::new(
            3,
            130,
            vec![0, 3, 3, 5],
            vec![0, 63, 64, 127, 129],
            vec![1.0; 5],
        );
        let b = BitRows::from_csr(&m).unwrap();
        assert_eq!(b.stride(), 4);
        for i in 0..3 {
            let set: Vec<u32> = (0..130u32)
                .filter(|&j| b.row(i)[j as usize / 64] >> (j % 64) & 1 == 1)
                .collect();
            assert_eq!(set, m.row(i).0, "row {i}");
        }
    }

    #[test]
    fn values_other_than_one_or_unordered_columns_have_no_bit_rows() {
        let m = CsrMatrix::new(1, 4, vec![0, 2], vec![0, 1], vec![1.0, 2.0]);
        assert!(BitRows::from_csr(&m).is_none());
        let m = CsrMatrix::new(1, 4, vec![0, 2], vec![1, 1], vec![1.0, 1.0]);
        assert!(BitRows::from_csr(&m).is_none());
        let m = CsrMatrix::new(1, 4, vec![0, 2], vec![2, 1], vec![1.0, 1.0]);
        assert!(BitRows::from_csr(&m).is_none());
    }
}
