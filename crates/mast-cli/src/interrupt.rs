//! Ctrl-C: the SIGINT handler raises the library's [`Interrupt::global`] flag; runs
//! stop between steps, write their checkpoint and partial results, and the
//! command exits with status 130 after printing how to resume.
//!
//! The handler is installed with `libc::signal` (libc is already in the
//! dependency tree): it does one atomic store and one `write(2)`, both
//! async-signal-safe, and restores the default action so that a second Ctrl-C
//! stops the process at once.

use std::sync::atomic::Ordering;

use mast::run::Interrupt;

/// The exit status of an interrupted command (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// A command stopped by Ctrl-C after saving its state; `resume` is the command
/// line that continues it.
#[derive(Debug)]
pub struct Interrupted {
    /// What was saved, and where.
    pub what: String,
    /// The exact command that continues the work.
    pub resume: String,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "interrupted: {}\nresume with:\n  {}",
            self.what, self.resume
        )
    }
}

impl std::error::Error for Interrupted {}

extern "C" fn on_sigint(_signal: libc::c_int) {
    Interrupt::global_flag().store(true, Ordering::SeqCst);
    let msg = b"\ninterrupt: stopping after the current step and writing a checkpoint (Ctrl-C again to abort at once)\n";
    // SAFETY: write(2) and signal(2) are async-signal-safe; the buffer is static.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

/// Installs the SIGINT handler.
pub fn install() {
    // Create the flag before the handler can run.
    let _ = Interrupt::global_flag();
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: the handler only touches an existing atomic and async-signal-safe calls.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}

/// Whether Ctrl-C was pressed.
pub fn raised() -> bool {
    Interrupt::global().is_raised()
}

/// The command line of this process, shell-quoted, with `--force` dropped and
/// `extra` appended unless already present: the command that resumes an
/// interrupted experiment.
pub fn this_command_with(extra: &[&str]) -> String {
    let mut args: Vec<String> = std::env::args().filter(|a| a != "--force").collect();
    for e in extra {
        if !args.iter().any(|a| a == e) {
            args.push((*e).to_string());
        }
    }
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
