//! Draws one figure of each kind from made-up but realistic experiment data
//! (seeded, so every run draws the same pictures) and an `index.html` that
//! embeds them.
//!
//! ```sh
//! cargo run -p mast-report --example demo -- target/report-demo
//! ```

use std::path::PathBuf;

use mast_report::{
    format_sci, fractional_index, markdown_table, Band, BandCurves, BarChart, BoxplotFigure,
    Figure, Heatmap, HtmlReport, OverlayStyle, Quartiles,
};

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
        .series("ERM, then pruned", erm.clone())
        .series("MAST (rand-k)", mast.clone())
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

    // 3. Step-size sweep: final loss per (sparsity, γ); large steps diverge.
    let sparsity = [0.1, 0.3, 0.5, 0.7, 0.9];
    let gammas: Vec<f64> = (0..9).map(|k| 10f64.powf(-3.0 + 0.5 * k as f64)).collect();
    let l_f = 1.6;
    let theory: Vec<f64> = sparsity.iter().map(|q| (1.0 - q) / l_f).collect();
    let stable: Vec<f64> = theory.iter().map(|t| 4.5 * t).collect();
    let rows = gammas
        .iter()
        .map(|&g| {
            sparsity
                .iter()
                .zip(&stable)
                .map(|(&q, &s)| {
                    (g <= s).then(|| {
                        let steps = 3000.0 * g;
                        0.3236 + 0.05 * q + 0.37 * (-steps).exp() + 0.02 * q * g / s
                    })
                })
                .collect()
        })
        .collect();
    let largest_stable: Vec<Option<f64>> = sparsity
        .iter()
        .zip(&stable)
        .map(|(_, &s)| {
            let best = gammas.iter().rposition(|&g| g <= s)?;
            Some(best as f64)
        })
        .collect();
    let heat = Heatmap::new("final loss after 3000 steps: sparsity × step size")
        .x_label("sparsity q")
        .y_label("step size γ")
        .x_categories(sparsity.iter().map(|q| format!("{q}")))
        .y_categories(gammas.iter().map(|&g| format_sci(g)))
        .values(rows)
        .log_color(true)
        .color_label("final loss f(x)")
        .annotate(true)
        .overlay(
            "theory γ = 1/(L_f L_S)",
            theory
                .iter()
                .map(|&t| fractional_index(t, &gammas, true))
                .collect(),
            OverlayStyle::LineMarkers,
        )
        .overlay("largest stable γ", largest_stable, OverlayStyle::Markers);
    println!("{}", heat.save(&dir, "heatmap")?[0].display());

    // 4. Benchmark: time of a sparse step relative to a dense one.
    let dims = [1e3, 1e4, 1e5, 1e6];
    let mut bars = BarChart::new("time per step relative to the dense step (median of 30)")
        .x_label("model dimension d")
        .y_label("time ratio (log scale)")
        .categories(dims.iter().map(|&d| format!("d = {}", format_sci(d))))
        .log_y(true)
        .reference_line(1.0, "dense step");
    for kept in [0.5, 0.1, 0.01] {
        let ratios = dims
            .iter()
            .map(|&d| (kept + 60.0 / d) * (1.0 + 0.05 * rng.normal()))
            .collect();
        bars = bars.series(format!("keep {}%", kept * 100.0), ratios);
    }
    println!("{}", bars.save(&dir, "bars")?[0].display());

    // 5. The report: every figure, a summary table, the commands.
    let mut rows = Vec::new();
    for (i, q) in qs.iter().enumerate() {
        for (method, samples) in [("ERM, then pruned", &erm[i]), ("MAST", &mast[i])] {
            let s = Quartiles::from_samples(samples)?;
            rows.push(vec![
                format!("{q}"),
                method.to_string(),
                format!("{:.4}", s.median),
                format!("{:.4}", s.q1),
                format!("{:.4}", s.q3),
                s.n.to_string(),
            ]);
        }
    }
    let header = ["q", "method", "median", "Q1", "Q3", "seeds"];
    print!("{}", markdown_table(&header, &rows));
    let report = HtmlReport::new("mast-report demo: made-up MAST results")
        .paragraph(
            "Every number on this page is invented by the demo (seeded, so it is the same on \
             each run); the page shows what the figures of a real experiment look like.",
        )
        .section("Accuracy after pruning")
        .figure_file(&dir.join("boxplot.png"), "Figure 1: test accuracy of the pruned model, 10 seeds per box.")?
        .table(header, rows)
        .section("Training curves")
        .figure_file(&dir.join("curves-loss.png"), "Figure 2: suboptimality, min–max band over 5 seeds.")?
        .figure_file(&dir.join("curves-accuracy.png"), "Figure 3: test accuracy, mean ± 1 std.")?
        .section("Step sizes")
        .figure_file(&dir.join("heatmap.png"), "Figure 4: final loss; × marks diverged runs.")?
        .section("Step cost")
        .figure_file(&dir.join("bars.png"), "Figure 5: time ratios (log scale).")?
        .section("Reproduce")
        .code("cargo run -p mast-report --example demo -- target/report-demo\nscripts/screenshot-report.sh target/report-demo/index.html target/report-demo/index.png");
    report.write(&dir.join("index.html"))?;
    println!("{}", dir.join("index.html").display());
    Ok(())
}
