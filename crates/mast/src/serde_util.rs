//! Serde helpers used by the algorithms, the theory and the run records (the
//! low layers; `mast::run::io` re-exports them).

use crate::error::{MastError, Result};

/// Serde helper for `f64` fields that may be NaN or infinite: JSON writes those as
/// `null`, and this reads `null` back as NaN (`#[serde(deserialize_with = ...)]`).
pub fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Reads a solver's or engine's saved state back from a checkpoint; `what`
/// names it in the error.
pub fn from_state<T: serde::de::DeserializeOwned>(
    saved: &serde_json::Value,
    what: &str,
) -> Result<T> {
    serde_json::from_value(saved.clone())
        .map_err(|e| MastError::param("checkpoint", format!("{what} state: {e}")))
}
