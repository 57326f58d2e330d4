//! Observers: optional pieces the executor calls at each evaluation.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::metrics::{to_csv, MetricsRow};
use crate::error::Result;

/// What an observer learns when a run starts.
#[derive(Debug, Clone)]
pub struct RunStart {
    /// A name for the run.
    pub name: String,
    /// The step the run starts from (non-zero when resuming).
    pub first_step: u64,
    /// The total number of steps.
    pub total_steps: u64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum RunStatus {
    /// All steps done.
    Completed,
    /// Stopped because the run diverged.
    Diverged {
        /// Step at which it was detected.
        step: u64,
        /// What was seen.
        detail: String,
    },
    /// Stopped on request ([`crate::run::Interrupt`]) after writing a checkpoint.
    Interrupted {
        /// Steps done.
        step: u64,
    },
}

/// Called by the executor; every method has a no-op default.
pub trait Observer: Send {
    /// Before the first step.
    fn on_start(&mut self, _start: &RunStart) -> Result<()> {
        Ok(())
    }
    /// After each evaluation; `all` holds every row so far, `row` the newest.
    fn on_eval(&mut self, _row: &MetricsRow, _all: &[MetricsRow]) -> Result<()> {
        Ok(())
    }
    /// When the run ends, however it ends.
    fn on_finish(&mut self, _status: &RunStatus, _all: &[MetricsRow]) -> Result<()> {
        Ok(())
    }
}

/// Writes `metrics.csv` atomically: at most every `interval`, and always at the end.
#[derive(Debug)]
pub struct MetricsCsv {
    path: PathBuf,
    interval: Duration,
    last: Option<Instant>,
}

impl MetricsCsv {
    /// A writer to `path`, rewriting the file at most every `interval`.
    pub fn new(path: impl Into<PathBuf>, interval: Duration) -> Self {
        MetricsCsv {
            path: path.into(),
            interval,
            last: None,
        }
    }

    fn write(&mut self, all: &[MetricsRow]) -> Result<()> {
        super::io::write_atomic(&self.path, &to_csv(all)?)?;
        self.last = Some(Instant::now());
        Ok(())
    }
}

impl Observer for MetricsCsv {
    fn on_eval(&mut self, _row: &MetricsRow, all: &[MetricsRow]) -> Result<()> {
        if self.last.is_none_or(|t| t.elapsed() >= self.interval) {
            self.write(all)?;
        }
        Ok(())
    }
    fn on_finish(&mut self, _status: &RunStatus, all: &[MetricsRow]) -> Result<()> {
        self.write(all)
    }
}
