//! Order statistics for summary tables and box plots.
//!
//! Quantiles use **linear interpolation between order statistics** (Hyndman
//! and Fan's type 7, the default of NumPy's `quantile`, R's `quantile` and
//! Excel's `PERCENTILE.INC`): for sorted samples `x[0] ≤ … ≤ x[n−1]` and
//! `p ∈ [0, 1]`, let `h = (n − 1)·p`, `i = ⌊h⌋`; then
//! `Q(p) = x[i] + (h − i)·(x[i+1] − x[i])` (and `Q(1) = x[n−1]`).
//!
//! All functions **reject** non-finite samples (NaN, ±∞) with
//! [`ReportError::InvalidInput`] instead of silently dropping them: a NaN in
//! experiment results usually means a diverged run, which the caller should
//! count and report, not hide. Filter first (`v.is_finite()`) when dropping
//! is what you want.

use crate::error::{ReportError, Result};

/// Checks that `samples` is non-empty and finite; returns a sorted copy.
fn sorted_finite(samples: &[f64], what: &str) -> Result<Vec<f64>> {
    if samples.is_empty() {
        return Err(ReportError::invalid(format!("{what}: no samples")));
    }
    if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
        return Err(ReportError::invalid(format!(
            "{what}: sample {i} is {} (only finite values are allowed)",
            samples[i]
        )));
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    Ok(v)
}

/// The type-7 quantile of already sorted, finite, non-empty samples.
fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let i = h.floor() as usize;
    if i + 1 >= sorted.len() {
        return sorted[sorted.len() - 1];
    }
    sorted[i] + (h - i as f64) * (sorted[i + 1] - sorted[i])
}

/// The `p`-quantile of `samples` (type 7, see the module docs).
///
/// Errors when `samples` is empty, holds a non-finite value, or `p` is not in
/// `[0, 1]`.
///
/// ```
/// use mast_report::quantile;
/// let x = [4.0, 1.0, 3.0, 2.0];
/// assert_eq!(quantile(&x, 0.5).unwrap(), 2.5);
/// assert_eq!(quantile(&x, 0.25).unwrap(), 1.75); // h = 0.75: 1 + 0.75·(2 − 1)
/// assert!(quantile(&[], 0.5).is_err());
/// assert!(quantile(&[f64::NAN], 0.5).is_err());
/// ```
pub fn quantile(samples: &[f64], p: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&p) {
        return Err(ReportError::invalid(format!(
            "quantile level p = {p} is not in [0, 1]"
        )));
    }
    let sorted = sorted_finite(samples, "quantile")?;
    Ok(quantile_sorted(&sorted, p))
}

/// The five-number summary of a sample, with type-7 quartiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quartiles {
    /// Smallest sample.
    pub min: f64,
    /// First quartile, `Q(0.25)`.
    pub q1: f64,
    /// Median, `Q(0.5)`.
    pub median: f64,
    /// Third quartile, `Q(0.75)`.
    pub q3: f64,
    /// Largest sample.
    pub max: f64,
    /// Number of samples.
    pub n: usize,
}

impl Quartiles {
    /// Summarises `samples` (any order). Errors when `samples` is empty or
    /// holds NaN or ±∞ (see the module docs: non-finite values are rejected,
    /// not ignored).
    ///
    /// ```
    /// use mast_report::Quartiles;
    /// let q = Quartiles::from_samples(&[7.0, 1.0, 3.0, 5.0, 9.0]).unwrap();
    /// assert_eq!((q.min, q.q1, q.median, q.q3, q.max, q.n), (1.0, 3.0, 5.0, 7.0, 9.0, 5));
    /// assert_eq!(q.iqr(), 4.0);
    /// ```
    pub fn from_samples(samples: &[f64]) -> Result<Self> {
        let s = sorted_finite(samples, "quartiles")?;
        Ok(Self::from_sorted(&s))
    }

    fn from_sorted(s: &[f64]) -> Self {
        Quartiles {
            min: s[0],
            q1: quantile_sorted(s, 0.25),
            median: quantile_sorted(s, 0.5),
            q3: quantile_sorted(s, 0.75),
            max: s[s.len() - 1],
            n: s.len(),
        }
    }

    /// The interquartile range `q3 − q1`.
    pub fn iqr(&self) -> f64 {
        self.q3 - self.q1
    }
}

/// What a Tukey box plot draws for one sample: quartiles, whiskers at the
/// most extreme samples within 1.5·IQR of the box, and the samples beyond
/// them (outliers).
#[derive(Debug, Clone, PartialEq)]
pub struct BoxStats {
    /// The five-number summary.
    pub quartiles: Quartiles,
    /// Smallest sample `≥ q1 − 1.5·IQR`.
    pub whisker_low: f64,
    /// Largest sample `≤ q3 + 1.5·IQR`.
    pub whisker_high: f64,
    /// Samples outside the whiskers, ascending.
    pub outliers: Vec<f64>,
}

impl BoxStats {
    /// Computes the box-plot statistics of `samples`; the same input rules
    /// as [`Quartiles::from_samples`].
    ///
    /// ```
    /// use mast_report::BoxStats;
    /// let b = BoxStats::from_samples(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
    /// assert_eq!((b.whisker_low, b.whisker_high), (1.0, 4.0));
    /// assert_eq!(b.outliers, vec![100.0]);
    /// ```
    pub fn from_samples(samples: &[f64]) -> Result<Self> {
        let s = sorted_finite(samples, "box statistics")?;
        let quartiles = Quartiles::from_sorted(&s);
        let reach = 1.5 * quartiles.iqr();
        let (lo_fence, hi_fence) = (quartiles.q1 - reach, quartiles.q3 + reach);
        let inside = s
            .iter()
            .copied()
            .filter(|&v| v >= lo_fence && v <= hi_fence);
        // The quartiles lie inside the fences, so at least one sample does.
        let whisker_low = inside.clone().fold(f64::INFINITY, f64::min);
        let whisker_high = inside.fold(f64::NEG_INFINITY, f64::max);
        let outliers = s
            .iter()
            .copied()
            .filter(|&v| v < lo_fence || v > hi_fence)
            .collect();
        Ok(BoxStats {
            quartiles,
            whisker_low,
            whisker_high,
            outliers,
        })
    }
}

/// Mean and sample standard deviation (`n − 1` denominator; 0 for one
/// sample). Same input rules as [`Quartiles::from_samples`].
///
/// ```
/// let (m, s) = mast_report::mean_std(&[1.0, 2.0, 3.0]).unwrap();
/// assert_eq!((m, s), (2.0, 1.0));
/// ```
pub fn mean_std(samples: &[f64]) -> Result<(f64, f64)> {
    let s = sorted_finite(samples, "mean and standard deviation")?;
    let n = s.len() as f64;
    let mean = s.iter().sum::<f64>() / n;
    if s.len() == 1 {
        return Ok((mean, 0.0));
    }
    let var = s.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    Ok((mean, var.sqrt()))
}
