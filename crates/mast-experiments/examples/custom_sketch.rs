//! A user-defined sketch, registered at run time and used like a built-in one:
//! **block dropout** keeps each block of B contiguous coordinates with
//! probability p (all weights of a neuron at once) and scales what it keeps by
//! 1/p. Nothing in the library knows about it: `main` registers it with one line,
//! then Algorithm 1 (`DoubleSketchedSgd`) trains on a5a with it, and a curves
//! experiment names it in its config text (`sketch = "block-dropout:0.5:8"`).
//!
//! ```sh
//! cargo run --release -p mast-experiments --example custom_sketch            # data/a5a.gz, runs/custom-sketch
//! cargo run --release -p mast-experiments --example custom_sketch -- DATA_DIR OUT_DIR
//! ```
//!
//! Exact constants: each coordinate is kept with probability p and scaled by
//! 1/p, so `E[S] = I`; `E[s_j s_l] = p/p² = 1/p` for two coordinates of one
//! block and `E[s_j] E[s_l] = 1` for two of different blocks; `E[SᵀS] = I/p`
//! (so `L_D = μ_D = 1/p`) and `L_S^max = 1/p²`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mast::prelude::*;
use mast::rng::MastRng;
use mast::sketch::registry::{self, SketchArgs, SketchContext, SketchEntry, SketchRecipe};
use mast_experiments::common::Silent;
use mast_experiments::curves::{run_curves, CurvesConfig, CurvesOutcome};
use rand::Rng;

/// Block dropout in dimension `d`: blocks `[bB, (b+1)B)` (the last one may be
/// shorter), each kept with probability `p`, kept entries scaled by `1/p`.
#[derive(Debug, Clone)]
pub struct BlockDropout {
    d: usize,
    block: usize,
    p: f64,
}

impl BlockDropout {
    /// Checks `block ≥ 1` and `0 < p ≤ 1`.
    pub fn new(d: usize, block: usize, p: f64) -> mast::Result<Self> {
        if block == 0 || !(p > 0.0 && p <= 1.0) {
            return Err(MastError::param(
                "sketch",
                format!(
                    "block-dropout needs a block size ≥ 1 and 0 < p ≤ 1, got B = {block}, p = {p}"
                ),
            ));
        }
        Ok(BlockDropout { d, block, p })
    }

    fn blocks(&self) -> usize {
        self.d.div_ceil(self.block)
    }

    fn coords(&self, b: usize) -> std::ops::Range<usize> {
        b * self.block..((b + 1) * self.block).min(self.d)
    }
}

impl Sketch for BlockDropout {
    fn dim(&self) -> usize {
        self.d
    }

    fn spec(&self) -> String {
        format!("block-dropout:{}:{}", self.p, self.block)
    }

    fn draw(&self, rng: &mut MastRng, out: &mut SketchDraw) {
        out.clear();
        for b in 0..self.blocks() {
            if rng.random::<f64>() < self.p {
                for j in self.coords(b) {
                    out.indices.push(j);
                    out.scales.push(1.0 / self.p);
                }
            }
        }
    }

    fn second_moment(&self, j: usize, l: usize) -> f64 {
        if j / self.block == l / self.block {
            1.0 / self.p
        } else {
            1.0
        }
    }

    fn l_s_max(&self) -> f64 {
        1.0 / (self.p * self.p)
    }

    fn expected_kept(&self) -> f64 {
        self.p * self.d as f64
    }

    fn enumerate(&self) -> Option<Vec<(f64, SketchDraw)>> {
        let m = self.blocks();
        if m > 12 {
            return None;
        }
        let draws = (0..1u32 << m).map(|set| {
            let kept: Vec<usize> = (0..m).filter(|b| set >> b & 1 == 1).collect();
            let prob =
                self.p.powi(kept.len() as i32) * (1.0 - self.p).powi((m - kept.len()) as i32);
            let indices: Vec<usize> = kept.iter().flat_map(|&b| self.coords(b)).collect();
            let scales = vec![1.0 / self.p; indices.len()];
            (prob, SketchDraw::from_parts(indices, scales))
        });
        Some(draws.collect())
    }
}

/// `block-dropout:P[:B]`, parsed (B defaults to 8).
#[derive(Debug)]
pub struct BlockDropoutSpec {
    p: f64,
    block: usize,
}

impl SketchRecipe for BlockDropoutSpec {
    fn spec(&self) -> String {
        format!("block-dropout:{}:{}", self.p, self.block)
    }

    fn build(&self, ctx: &SketchContext<'_>) -> mast::Result<Box<dyn Sketch>> {
        Ok(Box::new(BlockDropout::new(ctx.dim, self.block, self.p)?))
    }

    // A kept fraction makes it usable as a grid's `sketch_kind` and as the
    // pruning experiment's `sketch`.
    fn keep_fraction(&self) -> Option<f64> {
        Some(self.p)
    }
}

/// The parser of `block-dropout:P[:B]`.
pub fn parse_block_dropout(a: &SketchArgs<'_>) -> mast::Result<Box<dyn SketchRecipe>> {
    let arg = a.required()?;
    let (p, block) = match arg.split_once(':') {
        Some((p, b)) => (
            p,
            b.trim().parse().map_err(|_| {
                a.error(format!(
                    "block size `{b}` in `{}` is not a whole number",
                    a.text
                ))
            })?,
        ),
        None => (arg, 8),
    };
    Ok(Box::new(BlockDropoutSpec {
        p: a.number(a.strip_key(p.trim(), &["p"]))?,
        block,
    }))
}

/// The registry entry of block dropout.
pub fn block_dropout_entry() -> SketchEntry {
    SketchEntry::new(
        "block-dropout",
        "block-dropout:P[:B]",
        "keep blocks of B (default 8) contiguous coordinates with probability P, rescaled by 1/P",
        parse_block_dropout,
    )
}

/// Algorithm 1 (I) with `block-dropout:0.5:8` on the training file for `steps`
/// steps at the theory step: the final training loss and f(0).
pub fn train_with_block_dropout(train: &Path, steps: u64) -> mast::Result<(f64, f64)> {
    let data = mast::data::load_libsvm_pair(train, None::<&Path>, None)?.train;
    let n = data.n_samples();
    let f = LogisticRegression::new(Arc::new(data), 1.0 / n as f64)?;
    let d = f.dim();
    let sketch = "block-dropout:0.5:8".parse::<SketchSpec>()?.build(d)?;
    let mut solver = DoubleSketchedSgd::new(
        sketch,
        Variant::Exact,
        StepSize::Theory { multiplier: 1.0 },
        7,
    )?;
    let problem = MastProblem::new(&f, Shift::zero(d));
    let mut state = solver.init(&problem)?;
    for _ in 0..steps {
        solver.next_iter(&problem, &mut state)?;
    }
    Ok((f.loss(&state.x), f.loss(&vec![0.0; d])))
}

/// A curves experiment comparing block dropout with Bernoulli at the same keep
/// probability, from a config text that names the new sketch.
pub fn curves_with_block_dropout(
    data: &Path,
    out: &Path,
    seeds: &[u64],
    steps: u64,
) -> mast_experiments::Result<CurvesOutcome> {
    let text = format!(
        r#"
name = "Block dropout vs Bernoulli on a5a"
seeds = {seeds:?}
steps = {steps}

[data]
train = "{train}"
test = "{test}"

[[methods]]
label = "Alg. 1 (I) block-dropout 0.5, B = 8"
sketch = "block-dropout:0.5:8"

[[methods]]
label = "Alg. 1 (I) Bernoulli 0.5"
sketch = "bernoulli:0.5"
"#,
        train = data.join("a5a.gz").display(),
        test = data.join("a5a.t.gz").display(),
    );
    let cfg: CurvesConfig = toml::from_str(&text)
        .map_err(|e| mast_experiments::ExpError::setting("config", e.to_string()))?;
    cfg.check()?;
    run_curves(&cfg, out, &Silent)
}

fn main() {
    // The one line that makes `block-dropout:P[:B]` a sketch everywhere in this process.
    registry::register(block_dropout_entry());

    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("data"));
    let out = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("runs/custom-sketch"));

    println!("registered sketches:\n{}\n", registry::help());
    match train_with_block_dropout(&data.join("a5a.gz"), 500) {
        Ok((loss, loss0)) => println!(
            "Algorithm 1 (I), block-dropout:0.5:8, 500 steps: f = {loss:.5} (f(0) = {loss0:.5})"
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
    match curves_with_block_dropout(&data, &out, &[1, 2, 3], 500) {
        Ok(o) => {
            for row in &o.table {
                println!(
                    "{}: final loss {:.5}, final test accuracy {:?}",
                    row.label,
                    row.final_loss.mean,
                    row.final_test_accuracy.map(|a| a.mean)
                );
            }
            println!("report: {}", o.index.display());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
