//! File output of runs: atomic writes and JSON ([`crate::atomic_file`]), and the
//! serde helpers of saved records ([`crate::serde_util`]), re-exported here.

pub use crate::atomic_file::{read_json, write_atomic, write_atomic_with, write_json};
pub use crate::serde_util::{f64_or_nan, from_state};
