//! Shared machinery of the parser fuzz tests (`tests/fuzz_*.rs` of `mast` and
//! `mast-nn`, the latter including this file by path).
//!
//! Every fuzz target runs its property through [`fuzz`], which
//! - takes the number of inputs from `MAST_FUZZ_CASES` (default: the target's own
//!   small count, so that `cargo test` stays quick) and the proptest seed from
//!   `MAST_FUZZ_SEED` (default: a fixed seed, so that `cargo test` is
//!   deterministic; `scripts/fuzz.sh` gives every round a fresh one);
//! - counts the inputs it tried and prints `fuzz-target NAME: N inputs` (seen with
//!   `--nocapture`; `scripts/fuzz.sh` adds these lines up);
//! - turns a failure or a panic into a test failure that shows the shrunk input.
//!
//! It also installs a global allocator that records the largest single allocation
//! made by the current thread, so that a property can check that a parser never
//! asks for memory out of proportion to its input ([`largest_allocation_during`]).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

/// The seed used when `MAST_FUZZ_SEED` is not set (any fixed value would do).
const DEFAULT_SEED: u64 = 0x6d61_7374_667a_7a31;

/// A [`System`] allocator that remembers, per thread, the largest request seen
/// since the last reset.
struct PeakTracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for PeakTracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn note(size: usize) {
    // `try_with`: the slot may already be gone while a thread shuts down.
    let _ = LARGEST.try_with(|c| c.set(c.get().max(size)));
}

#[global_allocator]
static ALLOCATOR: PeakTracking = PeakTracking;

/// Runs `f` and returns its result with the largest single allocation (bytes) that
/// this thread requested while it ran.
pub fn largest_allocation_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|c| c.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => panic!("{name} = `{text}` is not a whole number"),
    }
}

/// The proptest configuration of a target whose `cargo test` default is
/// `default_cases` inputs.
pub fn config(default_cases: u32) -> Config {
    let cases = env_u64("MAST_FUZZ_CASES").map_or(default_cases, |c| c.min(u32::MAX as u64) as u32);
    let seed = env_u64("MAST_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        // Failures are turned into explicit regression tests, not files.
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

/// Runs `property` on `default_cases` inputs drawn from `strategy` (see the module
/// docs for the environment variables) and panics with the shrunk input if it
/// fails or panics on one.
pub fn fuzz<S>(
    target: &str,
    default_cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let tried = AtomicU64::new(0);
    let mut runner = TestRunner::new(config(default_cases));
    let result = runner.run(&strategy, |input| {
        tried.fetch_add(1, Ordering::Relaxed);
        property(input)
    });
    eprintln!(
        "fuzz-target {target}: {} inputs",
        tried.load(Ordering::Relaxed)
    );
    if let Err(e) = result {
        panic!("fuzz target {target} failed: {e}");
    }
}

/// Bytes shown as escaped text in failure reports.
#[derive(Clone)]
pub struct Bytes(pub Vec<u8>);

impl Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// Arbitrary bytes, `len` long at most, shown as text when they fail.
pub fn bytes(len: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..len).prop_map(Bytes)
}

/// Inserts, deletes, duplicates or overwrites pieces of `text` as told by `edits`
/// (each a position seed, an edit kind and a piece index into `pieces`).
pub fn mutate(text: &[u8], edits: &[(usize, u8, usize)], pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = text.to_vec();
    for &(pos, kind, piece) in edits {
        let at = if out.is_empty() {
            0
        } else {
            pos % (out.len() + 1)
        };
        let piece = pieces[piece % pieces.len()];
        match kind % 6 {
            // Insert a nasty piece.
            0 | 1 => {
                out.splice(at..at, piece.iter().copied());
            }
            // Delete a short run.
            2 => {
                let end = (at + 1 + piece.len() % 7).min(out.len());
                out.drain(at.min(end)..end);
            }
            // Overwrite with a piece.
            3 => {
                let end = (at + piece.len()).min(out.len());
                out.splice(at..end, piece.iter().copied());
            }
            // Duplicate a short run.
            4 => {
                let end = (at + 1 + pos % 9).min(out.len());
                let run: Vec<u8> = out[at.min(end)..end].to_vec();
                out.splice(at..at, run);
            }
            // Truncate.
            _ => out.truncate(at),
        }
    }
    out
}

/// A fresh scratch folder under `/dev/shm` (else the system temp folder),
/// removed on drop.
pub struct ScratchDir(pub std::path::PathBuf);

impl ScratchDir {
    /// A new empty folder tagged `tag`.
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // Memory-backed where there is one: thousands of small files go by.
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("mast-fuzz-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        ScratchDir(dir)
    }

    /// Writes `bytes` to `name` in the folder and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("write scratch file");
        path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("compress");
    enc.finish().expect("finish gzip")
}
