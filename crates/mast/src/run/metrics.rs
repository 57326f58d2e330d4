//! One row of `metrics.csv` per evaluation.

use std::path::Path;

use crate::error::{MastError, Result};

/// What an evaluation measures. Empty fields (None) are written as empty cells.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricsRow {
    /// Iterations done.
    pub step: u64,
    /// Passes over the training data (samples processed / n).
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub epoch: f64,
    /// `f(x)` on the training set.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub loss: f64,
    /// Mean sketched loss `f_S(x_t)` seen by the steps since the previous row.
    pub sketched_loss: Option<f64>,
    /// `‖∇f(x)‖`.
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub grad_norm: f64,
    /// Training accuracy.
    pub train_accuracy: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Test accuracy.
    pub test_accuracy: Option<f64>,
    /// Cumulative kept coordinates Σ|Ω_t|.
    pub coords_touched: u64,
    /// Step size of the last step.
    pub gamma: Option<f64>,
    /// `‖x − x_ref‖` where a reference point is known.
    pub dist_to_ref: Option<f64>,
    /// Seconds since the run started (the only column that varies between identical runs).
    #[serde(deserialize_with = "crate::run::io::f64_or_nan")]
    pub wall_time_s: f64,
}

/// The rows as CSV text.
pub fn to_csv(rows: &[MetricsRow]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)
            .map_err(|e| MastError::Numerical(format!("cannot write metrics row: {e}")))?;
    }
    w.into_inner()
        .map_err(|e| MastError::Numerical(format!("cannot write metrics: {e}")))
}

/// Reads `metrics.csv`.
pub fn read_csv(path: &Path) -> Result<Vec<MetricsRow>> {
    let mut r = csv::Reader::from_path(path).map_err(|e| MastError::Data {
        path: path.to_path_buf(),
        message: format!("cannot read metrics: {e}"),
    })?;
    r.deserialize()
        .enumerate()
        .map(|(k, row)| {
            row.map_err(|e| MastError::Parse {
                path: path.to_path_buf(),
                line: k + 2,
                message: e.to_string(),
            })
        })
        .collect()
}
