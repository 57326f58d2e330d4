//! The observed convergence rate of a run: the fitted slope of
//! `log ‖x_t − x_ref‖²` against the step, over the linear phase of the run.

use super::MetricsRow;

/// A per-step rate fitted to a run's `dist_to_ref` column.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedRate {
    /// What `x_ref` is (e.g. `x_D* (exact, quadratic)`).
    pub reference: String,
    /// Least-squares slope of `ln ‖x_t − x_ref‖²` per step.
    pub slope_per_step: f64,
    /// `exp(slope)`: the observed per-step contraction of `‖x_t − x_ref‖²`.
    pub contraction: f64,
    /// The theory's `1 − γ μ_f μ_D` for `E‖x_t − x_D*‖²` (NaN when it does not apply).
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub predicted_contraction: f64,
    /// Whether the observed contraction is at least as fast as predicted.
    pub no_slower_than_predicted: Option<bool>,
    /// Evaluations used by the fit.
    pub points: usize,
    /// First and last step of the fitted window.
    pub window: (u64, u64),
    /// `‖x_T − x_ref‖²` at the end of the run.
    pub final_dist_sq: f64,
}

/// Fits the rate on `rows` (which must carry `dist_to_ref`).
///
/// The window starts at the first evaluation. For a method that converges to
/// the reference itself (`converges_exactly`: GD to x*, L-SVRDSG to its x_D*) it
/// runs until the distance reaches the arithmetic's floor (10⁻¹² of the first
/// distance), so a run stopped early is fitted whole. Otherwise (SGD-type
/// methods, which stall in a neighbourhood) it ends before the distance first
/// comes within a factor 10 of its floor (the median of the last quarter of the
/// run): the linear phase before the iterates reach their neighbourhood. `None`
/// when fewer than 3 points qualify.
///
/// ```
/// use mast::run::{fit_rate, MetricsRow};
/// let rows: Vec<MetricsRow> = (0..20u64)
///     .map(|t| MetricsRow { step: 10 * t, dist_to_ref: Some(0.9f64.powi(10 * t as i32).sqrt()), ..MetricsRow::default() })
///     .collect();
/// let r = fit_rate(&rows, "x*", 0.95, false).unwrap();
/// assert!((r.contraction - 0.9).abs() < 1e-9);
/// assert_eq!(r.no_slower_than_predicted, Some(true));
/// ```
pub fn fit_rate(
    rows: &[MetricsRow],
    reference: &str,
    predicted: f64,
    converges_exactly: bool,
) -> Option<ObservedRate> {
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| {
            let d = r.dist_to_ref?;
            (d > 0.0 && d.is_finite()).then(|| (r.step as f64, (d * d).ln()))
        })
        .collect();
    if pts.len() < 3 {
        return None;
    }
    let cut = if converges_exactly {
        pts[0].1 + 1e-24f64.ln()
    } else {
        let mut tail: Vec<f64> = pts[pts.len() - pts.len().div_ceil(4)..]
            .iter()
            .map(|p| p.1)
            .collect();
        tail.sort_by(f64::total_cmp);
        tail[tail.len() / 2] + 10f64.ln()
    };
    let end = pts.iter().position(|p| p.1 <= cut).unwrap_or(pts.len());
    let window = &pts[..end];
    if window.len() < 3 {
        return None;
    }
    let n = window.len() as f64;
    let (mx, my) = (
        window.iter().map(|p| p.0).sum::<f64>() / n,
        window.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = window.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = window.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let slope = sxy / sxx;
    let contraction = slope.exp();
    let last = rows.iter().rev().find_map(|r| r.dist_to_ref)?;
    Some(ObservedRate {
        reference: reference.to_string(),
        slope_per_step: slope,
        contraction,
        predicted_contraction: predicted,
        no_slower_than_predicted: predicted.is_finite().then_some(contraction <= predicted),
        points: window.len(),
        window: (window[0].0 as u64, window[window.len() - 1].0 as u64),
        final_dist_sq: last * last,
    })
}
