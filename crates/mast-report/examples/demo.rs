//! Draws one figure of each kind from made-up but realistic experiment data
//! (seeded, so every run draws the same pictures) and an `index.html` that
//! embeds them.
//!
//! ```sh
//! cargo run -p mast-report --example demo -- target/report-demo
//! ```

use std::path::PathBuf;

use mast_report::{Band, BandCurves, BoxplotFigure, Figure};

/// SplitMix64: a tiny deterministic generator, enough for demo noise.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/report-demo".into()),
    );
    let mut rng = Rng(2025);

    // 1. Box plots: test accuracy after pruning, 10 seeds per cell.
    let qs = [0.1, 0.3, 0.5, 0.7, 0.9];
    let mut erm = Vec::new();
    let mut mast = Vec::new();
    for &q in &qs {
        erm.push(
            (0..10)
                .map(|_| 0.845 - 0.25 * q * q + 0.012 * rng.normal())
                .collect(),
        );
        mast.push(
            (0..10)
                .map(|_| 0.845 - 0.06 * q * q + 0.006 * rng.normal())
                .collect(),
        );
    }
    let boxes = BoxplotFigure::new("a5a: test accuracy of the pruned model (10 seeds)")
        .x_label("sparsity q (fraction of coordinates removed)")
        .y_label("test accuracy")
        .groups(qs.iter().map(|q| format!("{q}")))
        .series("ERM, then pruned", erm)
        .series("MAST (rand-k)", mast)
        .reference_line(0.8455, "unpruned ERM");
    let files = boxes.save(&dir, "boxplot")?;
    println!("{}", files[0].display());

    // 2. Training curves over 5 seeds: f(x_t) − f* on a log scale.
    let iters: Vec<f64> = (0..=60).map(|i| (i * 50) as f64).collect();
    let mut loss = BandCurves::new("training suboptimality over 5 seeds")
        .x_label("iteration")
        .y_label("f(x) − f*")
        .x_values(iters.clone())
        .log_y(true);
    for (name, rate, floor, noise) in [
        ("gd (ERM)", 0.0040, 1e-6, 0.05),
        ("dsgd, rand-k q = 0.5", 0.0022, 2e-3, 0.25),
        ("dsgd, bernoulli p = 0.7", 0.0030, 6e-4, 0.20),
    ] {
        let runs = (0..5)
            .map(|_| {
                let jitter = 1.0 + 0.15 * rng.normal();
                iters
                    .iter()
                    .map(|&t| {
                        let base = 0.4 * (-rate * jitter * t).exp() + floor;
                        base * (1.0 + noise * rng.normal()).abs().max(0.05)
                    })
                    .collect()
            })
            .collect();
        loss = loss.series_from_runs(name, runs, Band::MinMax);
    }
    println!("{}", loss.save(&dir, "curves-loss")?[0].display());

    let mut acc = BandCurves::new("test accuracy during training (mean ± 1 std, 5 seeds)")
        .x_label("epoch")
        .y_label("test accuracy")
        .x_values((1..=40).map(f64::from).collect());
    for (name, top, speed) in [("ERM", 0.846, 0.25), ("MAST", 0.838, 0.15)] {
        let runs = (0..5)
            .map(|_| {
                (1..=40)
                    .map(|e| top - 0.3 * (-speed * e as f64).exp() + 0.01 * rng.normal())
                    .collect()
            })
            .collect();
        acc = acc.series_from_runs(name, runs, Band::StdDev(1.0));
    }
    println!("{}", acc.save(&dir, "curves-accuracy")?[0].display());
    Ok(())
}
