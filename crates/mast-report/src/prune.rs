//! The figures of a pruning-robustness experiment (the linear models' and the
//! neural networks'): a box plot of the pruned models' test accuracy per
//! sparsity level q, one box per method, and the median-vs-q figure with its
//! interquartile band.

use crate::{BandCurves, BoxplotFigure, Quartiles, Result};

/// One pruned model as the pruning figures see it.
pub trait PrunedModel {
    /// Its sparsity level q (fraction of weights kept).
    fn q(&self) -> f64;
    /// Its method's name (one box and one curve per method).
    fn method(&self) -> &str;
    /// Its test accuracy after pruning.
    fn test_accuracy(&self) -> f64;
}

impl PrunedModel for (f64, String, f64) {
    fn q(&self) -> f64 {
        self.0
    }
    fn method(&self) -> &str {
        &self.1
    }
    fn test_accuracy(&self) -> f64 {
        self.2
    }
}

/// The box plot (pruned test accuracy per q, one box per method, the reference
/// line if given) and the median-vs-q figure with its interquartile band, for
/// any methods (in the order they first appear in `rows`).
///
/// ```
/// let rows: Vec<(f64, String, f64)> = vec![(0.5, "a".into(), 0.8), (0.5, "a".into(), 0.7), (1.0, "a".into(), 0.9)];
/// let (boxes, medians) = mast_report::prune_figures("t", &rows, Some((0.85, "ERM"))).unwrap();
/// # let _ = (boxes, medians);
/// ```
pub fn prune_figures<R: PrunedModel>(
    title: &str,
    rows: &[R],
    reference: Option<(f64, &str)>,
) -> Result<(BoxplotFigure, BandCurves)> {
    let mut qs: Vec<f64> = rows.iter().map(|r| r.q()).collect();
    qs.sort_by(f64::total_cmp);
    qs.dedup();
    let mut methods: Vec<&str> = Vec::new();
    for r in rows {
        if !methods.contains(&r.method()) {
            methods.push(r.method());
        }
    }
    let samples = |q: f64, m: &str| -> Vec<f64> {
        rows.iter()
            .filter(|r| r.q() == q && r.method() == m)
            .map(|r| r.test_accuracy())
            .collect()
    };
    let labels: Vec<String> = qs.iter().map(|q| format!("{q}")).collect();
    let mut boxes = BoxplotFigure::new(title)
        .x_label("sparsity q (fraction of weights kept)")
        .y_label("test accuracy of the pruned model")
        .groups(labels);
    for m in &methods {
        boxes = boxes.series(m.to_string(), qs.iter().map(|&q| samples(q, m)).collect());
    }
    if let Some((y, label)) = reference {
        boxes = boxes.reference_line(y, label);
    }
    let mut medians = BandCurves::new("median pruned test accuracy (band: quartiles)")
        .x_label("sparsity q")
        .y_label("test accuracy")
        .x_values(qs.clone());
    for m in &methods {
        let runs: Vec<Vec<f64>> = qs.iter().map(|&q| samples(q, m)).collect();
        if runs.iter().any(Vec::is_empty) {
            continue;
        }
        let (mut mid, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
        for s in &runs {
            let qt = Quartiles::from_samples(s)?;
            mid.push(qt.median);
            lo.push(qt.q1);
            hi.push(qt.q3);
        }
        medians = medians.series(m.to_string(), mid, lo, hi);
    }
    Ok((boxes, medians))
}
