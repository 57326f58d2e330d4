//! Cooperative cancellation: a flag that a signal handler (or a test) raises and
//! that long loops check between steps.
//!
//! The library never installs a signal handler; the `mast` binary raises
//! [`Interrupt::global`] on SIGINT, and every [`crate::run::Executor`] (and the
//! network trainer of `mast-nn`) checks it between steps unless given its own
//! flag. An interrupted run writes its checkpoint and partial results, then stops
//! with [`crate::MastError::Interrupted`].
//!
//! ```
//! use mast::run::Interrupt;
//! let stop = Interrupt::new();
//! let seen_by_loop = stop.clone();
//! assert!(!seen_by_loop.is_raised());
//! stop.raise();
//! assert!(seen_by_loop.is_raised());
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

/// A shared stop flag; clones see the same flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
}

static GLOBAL: LazyLock<Interrupt> = LazyLock::new(Interrupt::new);

impl Interrupt {
    /// A new flag, not raised, shared by nothing else.
    pub fn new() -> Self {
        Interrupt::default()
    }

    /// The process-wide flag: what a run checks unless given its own, and what the
    /// binary's SIGINT handler raises.
    pub fn global() -> Self {
        GLOBAL.clone()
    }

    /// The process-wide flag itself, for a signal handler: raising it is one
    /// atomic store (async-signal-safe once the flag exists; call this once before
    /// installing the handler).
    pub fn global_flag() -> &'static AtomicBool {
        &GLOBAL.flag
    }

    /// Asks every holder to stop at its next check.
    pub fn raise(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_raised(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}
