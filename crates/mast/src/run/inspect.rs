//! `mast theory`: the theory of a configured run, without running it.

use std::sync::Arc;

use super::build::{build_solver, distributed_theory, RunSketch};
use super::config::{CheckedTrain, LossKind};
use super::train::Loaded;
use crate::algorithm::erm::{solve_erm, ErmOptions};
use crate::algorithm::MastProblem;
use crate::data::Dataset;
use crate::error::Result;
use crate::linalg::dot;
use crate::objective::{LeastSquares, LogisticRegression, Objective, Shift};
use crate::sketch::registry::SketchContext;
use crate::theory::{sandwich_gap, DistributedTheory, TheoryReport};

/// The theory of a configured run: constants, step rules, predictions, bounds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TheoryOverview {
    /// `logistic (n = …, d = …, λ = …)`.
    pub problem: String,
    /// The sketch (or the nodes' sketches).
    pub sketch: String,
    /// The method's name.
    pub method: String,
    /// The horizon T.
    pub steps: u64,
    /// The step the run would use at step 0.
    pub gamma: f64,
    /// Constants and predictions (node 0's marginal for Algorithm 2).
    pub report: TheoryReport,
    /// Algorithm 2's per-node constants.
    pub distributed: Option<DistributedTheory>,
    /// `(L_f/2)(x* − v)ᵀ(E[SᵀS] − I)(x* − v)`: the sandwich gap at the ERM optimum.
    pub sandwich_gap_at_x_star: f64,
    /// For a sketch given by a kept fraction q that is not `bernoulli:q` itself
    /// (importance sampling, a Hadamard rotation, …): the uniform `bernoulli:q`'s
    /// spec and constants `(L_D, L_S^max, γ strongly convex)`, to compare with.
    pub uniform: Option<(String, TheoryReport)>,
}

/// Loads the configured data and computes its [`TheoryOverview`].
pub fn theory_overview(checked: &CheckedTrain) -> Result<TheoryOverview> {
    let loaded = Loaded::load(checked)?;
    let lambda = loaded.lambda;
    match checked.loss {
        LossKind::Logistic => overview(
            checked,
            &loaded,
            &LogisticRegression::new(loaded.train.clone(), lambda)?,
            |d| LogisticRegression::new(d, lambda),
            "logistic",
        ),
        LossKind::LeastSquares => overview(
            checked,
            &loaded,
            &LeastSquares::new(loaded.train.clone(), lambda)?,
            |d| LeastSquares::new(d, lambda),
            "least squares",
        ),
    }
}

fn overview<O: Objective + 'static>(
    checked: &CheckedTrain,
    loaded: &Loaded,
    f: &O,
    make: impl Fn(Arc<Dataset>) -> Result<O>,
    loss: &str,
) -> Result<TheoryOverview> {
    let (d, n) = (f.dim(), f.num_samples());
    let steps = checked.steps(n);
    let step_size = checked.step_size_for(steps);
    let ctx = SketchContext::with_objective(f);
    let built = build_solver(checked, step_size, loaded.sets(), &make, &ctx)?;
    let problem = MastProblem::new(f, Shift::zero(d));
    let gamma = step_size
        .resolve(built.solver.theory_gamma_for(&problem))?
        .gamma(0);
    let run_sketch = RunSketch::new(checked, &ctx)?;
    let (sketch, sketch_name) = (run_sketch.theory(), run_sketch.spec());
    let erm = solve_erm(f, &ErmOptions::default())?;
    let report = TheoryReport::new(f, &*sketch, gamma)
        .with_horizon(steps)
        .with_erm(erm.loss, dot(&erm.x, &erm.x));
    let distributed = built
        .shards
        .as_ref()
        .zip(match &run_sketch {
            RunSketch::Nodes(n) => Some(n),
            RunSketch::Single(_) => None,
        })
        .map(|(shards, nodes)| distributed_theory(nodes, shards, &loaded.train, &make, steps))
        .transpose()?;
    // The uniform Bernoulli at the same kept fraction, to compare with.
    let uniform = match (checked.sketch.keep_fraction(), &run_sketch) {
        (Some(q), RunSketch::Single(_))
            if checked.sketch.kind() != "bernoulli" && q > 0.0 && q <= 1.0 =>
        {
            let b = crate::sketch::Bernoulli::new(d, q)?;
            Some((
                format!("bernoulli:{q}"),
                TheoryReport::new(f, &b, gamma).with_horizon(steps),
            ))
        }
        _ => None,
    };
    Ok(TheoryOverview {
        uniform,
        problem: format!("{loss} (n = {n}, d = {d}, λ = {:.4e})", loaded.lambda),
        sketch: sketch_name,
        method: built.solver.name(),
        steps,
        gamma,
        sandwich_gap_at_x_star: sandwich_gap(report.l_f, &*sketch, &erm.x, &vec![0.0; d]),
        report,
        distributed,
    })
}

impl TheoryOverview {
    /// The overview as `(quantity, value, meaning)` rows.
    pub fn rows(&self) -> Vec<(String, String, String)> {
        let r = &self.report;
        let e = |v: f64| format!("{v:.4e}");
        let mut rows: Vec<(String, String, String)> = vec![
            ("problem".into(), self.problem.clone(), String::new()),
            ("method".into(), self.method.clone(), String::new()),
            (
                "sketch".into(),
                self.sketch.clone(),
                if r.unbiased {
                    "unbiased: E[S] = I".into()
                } else {
                    "BIASED (E[S] ≠ I): no guarantee below applies".into()
                },
            ),
            ("L_f".into(), e(r.l_f), "smoothness of f".into()),
            ("μ_f".into(), e(r.mu_f), "strong convexity of f (λ)".into()),
            ("L_D".into(), e(r.l_d), "λmax E[SᵀS]".into()),
            ("μ_D".into(), e(r.mu_d), "λmin E[SᵀS]".into()),
            ("L_S^max".into(), e(r.l_s_max), "sup λmax(SᵀS)".into()),
            (
                "E|Ω|".into(),
                format!("{:.2}", r.expected_kept),
                "kept coordinates per draw".into(),
            ),
            ("κ_D".into(), e(r.kappa_d), "L_f L_D / (μ_f μ_D)".into()),
            (
                "γ strongly convex".into(),
                e(r.theory_gamma),
                "1/(L_f L_S^max)".into(),
            ),
            (
                "γ non-convex".into(),
                e(r.nonconvex_gamma),
                format!("1/(L_f √(L_D L_S^max T)), T = {}", r.horizon),
            ),
            (
                "γ used".into(),
                e(self.gamma),
                "by this config's step rule".into(),
            ),
            (
                "contraction".into(),
                format!("{:.10}", r.predicted_contraction),
                "1 − γ μ_f μ_D per step, of E‖x − x_D*‖²".into(),
            ),
            (
                "steps to 1/e".into(),
                format!("{:.3e}", -1.0 / r.predicted_contraction.ln()),
                "at that contraction".into(),
            ),
            (
                "f(x*)".into(),
                format!("{:.10}", r.f_star),
                "ERM optimum".into(),
            ),
            ("‖x* − v‖²".into(), e(r.x_star_dist_sq), String::new()),
            (
                "f_D_inf − f_inf ≤".into(),
                e(r.fd_gap_bound),
                "L_f (L_D − 1)/2 ‖x* − v‖²".into(),
            ),
            (
                "‖x_D* − x*‖² ≤".into(),
                e(r.x_shift_bound),
                "(L_f/μ_f)(L_D − 1)‖x* − v‖²".into(),
            ),
            (
                "neighbourhood ≤".into(),
                e(r.neighbourhood),
                "2γ L_f L_S^max/(μ_f μ_D) · (f_D_inf − f_inf) bound".into(),
            ),
            (
                "sandwich gap at x*".into(),
                e(self.sandwich_gap_at_x_star),
                "f(x*) ≤ f_D(x*) ≤ f(x*) + gap".into(),
            ),
        ];
        if let Some((spec, u)) = &self.uniform {
            let at = rows
                .iter()
                .position(|r| r.0 == "γ non-convex")
                .map_or(rows.len(), |i| i + 1);
            rows.insert(
                at,
                (
                    format!("vs {spec}"),
                    format!(
                        "L_D {}, L_S^max {}, γ {}",
                        e(u.l_d),
                        e(u.l_s_max),
                        e(u.theory_gamma)
                    ),
                    format!(
                        "the uniform sketch at the same kept fraction: γ strongly convex ×{:.3} here",
                        r.theory_gamma / u.theory_gamma
                    ),
                ),
            );
        }
        if let Some(dt) = &self.distributed {
            let list = |v: &[f64]| {
                v.iter()
                    .map(|t| format!("{t:.3e}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            rows.insert(
                3,
                (
                    "(Algorithm 2)".into(),
                    "node 0".into(),
                    "the rows up to the sandwich describe node 0's marginal sketch".into(),
                ),
            );
            rows.extend([
                (
                    "nodes M".into(),
                    dt.nodes.to_string(),
                    format!("shards {:?}", dt.shard_sizes),
                ),
                ("L_{f_i}".into(), list(&dt.node_l_f), "per node".into()),
                ("L_{D_i}".into(), list(&dt.node_l_d), "per node".into()),
                (
                    "L_{S_i}^max".into(),
                    list(&dt.node_l_s_max),
                    "per node".into(),
                ),
                (
                    "D_max".into(),
                    e(dt.d_max),
                    "max_i L_{f_i}² L_{D_i} L_{S_i}^max".into(),
                ),
                (
                    "γ distributed (s.c.)".into(),
                    e(dt.gamma_strongly_convex),
                    "1/max_i L_{f_i} L_{S_i}^max".into(),
                ),
                (
                    "γ distributed (n.c.)".into(),
                    e(dt.gamma_nonconvex),
                    format!("1/√(D_max T), T = {}", dt.horizon),
                ),
            ]);
        }
        rows
    }

    /// The rows as an aligned text table.
    pub fn to_text(&self) -> String {
        let rows = self.rows();
        let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        let w1 = rows
            .iter()
            .map(|r| r.1.chars().count())
            .max()
            .unwrap_or(0)
            .min(40);
        let mut out = String::new();
        for (a, b, c) in rows {
            let pad0 = w0 - a.chars().count();
            let pad1 = w1.saturating_sub(b.chars().count());
            let line = format!("{a}{}  {b}{}  {c}", " ".repeat(pad0), " ".repeat(pad1));
            out += line.trim_end();
            out.push('\n');
        }
        out
    }
}
