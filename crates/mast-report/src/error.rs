//! Typed errors of the report library. Every failure names what went wrong.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;

/// Everything that can go wrong while building figures and reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or folder could not be created, written or renamed.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// What was being done ("cannot write", "cannot rename", ...).
        action: &'static str,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The data handed to a figure or table is unusable (empty, NaN,
    /// mismatched lengths, ...). The message names the offending piece.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The plotting backend failed (font missing, encoder error, ...).
    #[error("plotting failed: {0}")]
    Plot(String),
}

impl ReportError {
    /// Shorthand for [`ReportError::InvalidInput`].
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ReportError::InvalidInput(message.into())
    }
}

impl<E> From<plotters::drawing::DrawingAreaErrorKind<E>> for ReportError
where
    E: std::error::Error + Send + Sync,
{
    fn from(e: plotters::drawing::DrawingAreaErrorKind<E>) -> Self {
        ReportError::Plot(e.to_string())
    }
}
