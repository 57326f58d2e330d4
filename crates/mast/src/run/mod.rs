//! Running solvers: the executor, observers, metrics, run folders, checkpoints,
//! and the configured training job.

pub mod config;
mod executor;
pub mod io;
mod metrics;
mod observer;
pub mod train;

pub use config::{CheckedTrain, TrainConfig};
pub use executor::{Best, Checkpoint, Evaluator, Executor, RunOutcome, DIVERGENCE_FACTOR};
pub use metrics::{read_csv, to_csv, MetricsRow};
pub use observer::{MetricsCsv, Observer, RunStart, RunStatus};
pub use train::{train, FolderMode, SavedModel, Summary, TrainReport};
