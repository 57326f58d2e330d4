//! Typed errors of `mast-nn`. Every failure names what went wrong and where.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = NnError> = std::result::Result<T, E>;

/// Everything that can go wrong in `mast-nn`.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A file could not be opened, read or written.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A data file is malformed (wrong magic number, truncated, counts that disagree, ...).
    #[error("{path}: {message}")]
    Data {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A parameter is out of range or inconsistent with others.
    #[error("invalid parameter `{name}`: {message}")]
    InvalidParameter {
        /// Parameter name as the user sees it (config key).
        name: String,
        /// Why it is invalid.
        message: String,
    },
    /// A configuration file could not be read or parsed.
    #[error("{path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// Training diverged: the loss became non-finite.
    #[error("{run}: diverged at epoch {epoch}, step {step}: loss = {loss} (try a smaller learning rate)")]
    Diverged {
        /// The run (method and seed).
        run: String,
        /// Epoch (1-based) in which it happened.
        epoch: usize,
        /// Global step.
        step: u64,
        /// The non-finite loss.
        loss: f64,
    },
    /// An error from the `mast` core (sketches, writers).
    #[error(transparent)]
    Mast(#[from] mast::MastError),
    /// Drawing figures or writing the HTML report failed.
    #[error(transparent)]
    Report(#[from] mast_report::ReportError),
}

impl NnError {
    /// Shorthand for [`NnError::InvalidParameter`].
    pub fn param(name: impl Into<String>, message: impl Into<String>) -> Self {
        NnError::InvalidParameter {
            name: name.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`NnError::Data`].
    pub fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        NnError::Data {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`NnError::Io`].
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        NnError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}
