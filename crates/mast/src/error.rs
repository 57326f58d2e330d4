//! Typed errors of the library. Every failure names what went wrong and where.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = MastError> = std::result::Result<T, E>;

/// Everything that can go wrong in `mast`.
///
/// New variants may be added in minor releases: match with a `_` arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MastError {
    /// A file could not be opened, read or written.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What was being done ("cannot open", "cannot write", ...).
        action: &'static str,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A data file is malformed at a given line.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file concerned.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A data file is malformed as a whole (empty, wrong label set, ...).
    #[error("{path}: {message}")]
    Data {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A parameter is out of its valid range or inconsistent with others.
    #[error("invalid parameter `{name}`: {message}")]
    InvalidParameter {
        /// Parameter name as the user sees it (config key or flag).
        name: String,
        /// Why it is invalid.
        message: String,
    },
    /// Two pieces that must agree do not (dimensions, feature counts, ...).
    #[error("dimension mismatch: {0}")]
    Dimension(String),
    /// A run diverged: loss became non-finite or exploded.
    #[error("diverged at step {step}: {detail} (step size {gamma:.4e}; the theory step size is {theory_gamma:.4e}: try a smaller step or `step_size = \"theory\"`)")]
    Diverged {
        /// Step at which divergence was detected.
        step: u64,
        /// What was observed.
        detail: String,
        /// The step size in use.
        gamma: f64,
        /// The step size the theory guarantees (1/(L_f L_S^max)).
        theory_gamma: f64,
    },
    /// A numerical routine failed (e.g. a matrix was not positive definite).
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// A configuration file could not be parsed.
    #[error("{path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// Something of size d or n·d would not fit in this machine's memory: refused
    /// before allocating it (see [`crate::data::memory`]).
    #[error("{place}{what} needs {}{also}, more than this machine's memory ({})", crate::data::memory::human_bytes(*.bytes), crate::data::memory::human_bytes(*.limit))]
    OutOfMemory {
        /// Where the size comes from (`FILE:LINE: `, or empty).
        place: String,
        /// What would be allocated (`feature index 3000000000 makes d = 3e9: the model alone`).
        what: String,
        /// Its size in bytes.
        bytes: u64,
        /// More context after the size (`, and a run at least …`), or empty.
        also: String,
        /// This machine's memory in bytes ([`crate::data::memory::memory_limit`]).
        limit: u64,
    },
    /// A checkpoint could not be used to resume.
    #[error("cannot resume from {path}: {message}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A run was asked to resume with settings other than those it was started
    /// with (only the length of the run, the thread count and output-only
    /// settings may change: [`crate::run::TrainConfig::RESUMABLE_KEYS`]).
    #[error("{}", resume_message(dir, changes))]
    ResumeChanged {
        /// The run folder.
        dir: PathBuf,
        /// Each changed setting with its saved and its given value.
        changes: Vec<crate::run::config::SettingChange>,
    },
    /// The run was interrupted (Ctrl-C, see [`crate::run::Interrupt`]) after
    /// writing its checkpoint and partial results into `dir`.
    #[error("interrupted at step {step}: checkpoint and partial results are in {}", dir.display())]
    Interrupted {
        /// Steps done when the run stopped.
        step: u64,
        /// The run folder holding the checkpoint.
        dir: PathBuf,
    },
}

/// The text of [`MastError::ResumeChanged`]: every change, then how to start a
/// fresh run with the new settings instead.
fn resume_message(dir: &std::path::Path, changes: &[crate::run::config::SettingChange]) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "cannot resume the run in {}: {} setting{} differ{} from the run's config.toml:",
        dir.display(),
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        if changes.len() == 1 { "s" } else { "" },
    );
    for c in changes {
        let _ = write!(s, "\n  {c}");
    }
    let flags: String = changes
        .iter()
        .filter(|c| c.given != "(unset)")
        .filter_map(|c| {
            let value = c.given.trim_matches('"');
            c.flag().map(|f| format!(" {f} {value}"))
        })
        .collect();
    let _ = write!(
        s,
        "\na resumed run keeps its settings: only its length (--steps/--epochs) and --threads may change.\n\
         To train with the new settings, start a fresh run in another folder (or replace this one with --force):\n  \
         mast train --config {} --out NEW_DIR{flags}",
        dir.join("config.toml").display()
    );
    s
}

impl MastError {
    /// Shorthand for [`MastError::InvalidParameter`].
    pub fn param(name: impl Into<String>, message: impl Into<String>) -> Self {
        MastError::InvalidParameter {
            name: name.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`MastError::Io`].
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        MastError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}
