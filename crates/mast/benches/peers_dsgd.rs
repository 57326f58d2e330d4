//! mast's side of the peer benchmark (`bench/peers/run.sh`): Algorithm 1 (II),
//! minibatch double-sketched SGD with Rand-K, on a LIBSVM file, timed in epochs per
//! second (loading and set-up excluded) for each (batch, K) cell.
//!
//!     cargo bench -p mast --bench peers_dsgd -- [--data FILE] [--cells 32:62,256:12]
//!         [--epochs E] [--gamma G] [--lambda L] [--seed S] [--min-time SECONDS]
//!
//! Defaults: `../shared/data/libsvm/a5a.t` (relative to the project root), cells
//! batch ∈ {32, 256} × K ∈ {d/2, d/10}, λ = 1/n, v = 0, x⁰ = 0, the theory step
//! γ = 1/(L_f L_S^max) unless `--gamma` is given. Each cell runs E epochs of
//! ⌊n/b⌋ steps from x⁰ = 0, repeated (same seed, so the same iterates) until
//! `--min-time` seconds have passed and at least 3 times; it prints one JSON line
//! with the best (and the median) epochs/s and the full training loss f(x) after
//! E epochs — the same line the Python peers print (they too report their best
//! of `--repeats` runs: on a busy machine the best run is the least disturbed).

use std::sync::Arc;
use std::time::Instant;

use mast::algorithm::{DoubleSketchedSgd, MastProblem, Solver, StepSize, Variant};
use mast::data::load_libsvm_pair;
use mast::objective::{LogisticRegression, Objective, Shift};
use mast::sketch::{RandK, Sketch};

struct Args {
    data: String,
    cells: Option<Vec<(usize, usize)>>,
    epochs: u64,
    gamma: Option<f64>,
    lambda: Option<f64>,
    seed: u64,
    min_time: f64,
}

fn parse_args() -> Args {
    let default_data = format!(
        "{}/../../../shared/data/libsvm/a5a.t",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut a = Args {
        data: default_data,
        cells: None,
        epochs: 5,
        gamma: None,
        lambda: None,
        seed: 42,
        min_time: 1.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` appends `--bench`; ignore flags we do not know without a value.
        let mut value = |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match flag.as_str() {
            "--data" => a.data = value("--data"),
            "--cells" => {
                a.cells = Some(
                    value("--cells")
                        .split(',')
                        .map(|c| {
                            let (b, k) = c.split_once(':').expect("cells are BATCH:K");
                            (b.parse().expect("batch"), k.parse().expect("K"))
                        })
                        .collect(),
                )
            }
            "--epochs" => a.epochs = value("--epochs").parse().expect("epochs"),
            "--gamma" => a.gamma = Some(value("--gamma").parse().expect("gamma")),
            "--lambda" => a.lambda = Some(value("--lambda").parse().expect("lambda")),
            "--seed" => a.seed = value("--seed").parse().expect("seed"),
            "--min-time" => a.min_time = value("--min-time").parse().expect("min-time"),
            _ => {}
        }
    }
    a
}

/// Runs `epochs` epochs from x⁰ = 0; returns the seconds they took and the final x.
fn run_once(
    f: &LogisticRegression,
    k: usize,
    batch: usize,
    step: StepSize,
    seed: u64,
    epochs: u64,
) -> (f64, Vec<f64>) {
    let d = f.dim();
    let sketch = Box::new(RandK::new(d, k).expect("valid K"));
    let mut solver =
        DoubleSketchedSgd::new(sketch, Variant::Minibatch(batch), step, seed).expect("solver");
    let problem = MastProblem::new(f, Shift::zero(d));
    let mut state = solver.init(&problem).expect("init");
    let steps = epochs * (f.num_samples() / batch) as u64;
    let start = Instant::now();
    for _ in 0..steps {
        solver.next_iter(&problem, &mut state).expect("step");
    }
    (start.elapsed().as_secs_f64(), state.x)
}

fn main() {
    let a = parse_args();
    let pair = load_libsvm_pair(&a.data, None::<&str>, None).expect("load the data");
    let (n, d) = (pair.train.n_samples(), pair.train.n_features());
    let lambda = a.lambda.unwrap_or(1.0 / n as f64);
    let f = LogisticRegression::new(Arc::new(pair.train), lambda).expect("objective");
    let cells = a.cells.clone().unwrap_or_else(|| {
        let (half, tenth) = ((d / 2).max(1), (d / 10).max(1));
        vec![(32, half), (32, tenth), (256, half), (256, tenth)]
    });
    for (batch, k) in cells {
        let gamma = a
            .gamma
            .unwrap_or_else(|| 1.0 / (f.smoothness() * RandK::new(d, k).unwrap().l_s_max()));
        let step = StepSize::Constant { gamma };
        // Warm-up (page faults, caches), then timed repeats.
        run_once(&f, k, batch, step, a.seed, 1);
        let mut rates = Vec::new();
        let mut x = Vec::new();
        let start = Instant::now();
        while rates.len() < 3 || start.elapsed().as_secs_f64() < a.min_time {
            let (secs, xr) = run_once(&f, k, batch, step, a.seed, a.epochs);
            rates.push(a.epochs as f64 / secs);
            x = xr;
        }
        rates.sort_by(f64::total_cmp);
        let (median, best) = (rates[rates.len() / 2], rates[rates.len() - 1]);
        println!(
            "{{\"impl\": \"mast\", \"batch\": {batch}, \"k\": {k}, \"n\": {n}, \"d\": {d}, \
             \"lambda\": {lambda:e}, \"gamma\": {gamma:e}, \"epochs\": {}, \"steps\": {}, \
             \"repeats\": {}, \"epochs_per_s\": {best:.6e}, \"median_epochs_per_s\": \
             {median:.6e}, \"final_loss\": {:.15e}, \
             \"threads\": {}}}",
            a.epochs,
            a.epochs * (n / batch) as u64,
            rates.len(),
            f.loss(&x),
            rayon::current_num_threads()
        );
    }
}
