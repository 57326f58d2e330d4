//! Runs one experiment from its config, printing progress lines:
//!
//! ```sh
//! cargo run --release -p mast-experiments --example experiment -- curves examples/curves-a5a.toml runs/curves-a5a
//! cargo run --release -p mast-experiments --example experiment -- grid examples/grid-a5a.toml runs/grid-a5a
//! ```
//!
//! (The `mast experiment …` command does the same with a progress bar.)

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mast_experiments::{curves, grid, Progress};

struct Lines {
    total: AtomicU64,
    done: AtomicU64,
    start: Instant,
}

impl Progress for Lines {
    fn phase(&self, name: &str, total: u64) {
        self.total.store(total, Ordering::SeqCst);
        eprintln!("{name}: {total} runs");
    }
    fn done(&self, what: &str) {
        let k = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        let n = self.total.load(Ordering::SeqCst);
        eprintln!(
            "[{k}/{n}] {what} ({:.1} s)",
            self.start.elapsed().as_secs_f64()
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, config, out] = &args[..] else {
        eprintln!("usage: experiment curves|grid CONFIG.toml OUT_DIR");
        std::process::exit(2);
    };
    let progress = Lines {
        total: AtomicU64::new(0),
        done: AtomicU64::new(0),
        start: Instant::now(),
    };
    let (config, out) = (PathBuf::from(config), PathBuf::from(out));
    let result = match kind.as_str() {
        "curves" => curves::CurvesConfig::load(&config)
            .and_then(|c| curves::run_curves(&c, &out, &progress))
            .map(|o| o.index),
        "grid" => grid::GridConfig::load(&config)
            .and_then(|c| grid::run_grid(&c, &out, &progress))
            .map(|o| o.index),
        other => {
            eprintln!("unknown experiment `{other}`: use curves or grid");
            std::process::exit(2);
        }
    };
    match result {
        Ok(index) => println!(
            "{} ({:.1} s)",
            index.display(),
            progress.start.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
