//! Running solvers: the executor, observers, metrics, run folders, checkpoints,
//! and the configured training job.

mod build;
pub mod config;
mod executor;
mod inspect;
mod interrupt;
pub mod io;
mod metrics;
#[cfg(feature = "mpi")]
pub mod mpi_train;
mod observer;
mod plan;
mod rate;
pub mod train;

pub use train::check_resume;

pub use config::{CheckedTrain, EngineKind, SettingChange, TrainConfig};
pub use executor::{Best, Checkpoint, Evaluator, Executor, RunOutcome, DIVERGENCE_FACTOR};
pub use inspect::{theory_overview, TheoryOverview};
pub use interrupt::Interrupt;
pub use metrics::{read_csv, to_csv, MetricsRow};
pub use observer::{MetricsCsv, Observer, RunStart, RunStatus};
pub use rate::{fit_rate, ObservedRate};
pub use train::{train, train_on, FolderMode, SavedModel, Summary, TrainReport};
