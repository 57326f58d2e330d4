//! Reproducible train/validation splits.

use rand::seq::SliceRandom;

use super::Dataset;
use crate::error::{MastError, Result};
use crate::rng::{stream, Stream};

/// Holds out `fraction` of `data` (rounded to the nearest row count) as a validation
/// set, chosen by a seeded shuffle. Returns `(train, validation)`; rows keep their
/// original order within each part. `fraction = 0` returns no validation set.
///
/// ```
/// use mast::data::{split::holdout, synthetic::{gaussian_planted, Task}};
/// let ds = gaussian_planted(100, 3, 0.0, Task::Classification, 1);
/// let (train, val) = holdout(&ds, 0.2, 7).unwrap();
/// assert_eq!((train.n_samples(), val.unwrap().n_samples()), (80, 20));
/// ```
pub fn holdout(data: &Dataset, fraction: f64, seed: u64) -> Result<(Dataset, Option<Dataset>)> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(MastError::param(
            "val_fraction",
            format!("must be in [0, 1), got {fraction}"),
        ));
    }
    let n = data.n_samples();
    let n_val = (fraction * n as f64).round() as usize;
    if n_val == 0 {
        return Ok((data.clone(), None));
    }
    if n_val >= n {
        return Err(MastError::param(
            "val_fraction",
            format!("{fraction} of {n} rows leaves no training data"),
        ));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut stream(seed, Stream::Split));
    let mut val_rows = order[..n_val].to_vec();
    let mut train_rows = order[n_val..].to_vec();
    val_rows.sort_unstable();
    train_rows.sort_unstable();
    Ok((
        data.select_rows(&train_rows, data.name.clone()),
        Some(data.select_rows(&val_rows, format!("{}-validation", data.name))),
    ))
}
