//! The plan of a run: ONE step that turns a checked configuration and its data
//! into the job both engines execute — the solver (with its engine and shards
//! for Algorithm 2), the sketches the theory reads (built once), the ERM
//! optimum, the exact reference point where one is known, and Algorithm 2's
//! per-node theory. [`super::train()`] (in-process) and
//! [`super::mpi_train`] (rank 0 of an MPI job) differ only in the
//! [`EngineChoice`] they pass.

use std::sync::Arc;

use super::build::{
    build_solver_with, distributed_theory, reference_point, Built, EngineChoice, RunSketch, Sets,
};
use super::config::CheckedTrain;
use crate::algorithm::erm::{solve_erm, ErmOptions, ErmSolution};
use crate::algorithm::{Solver, StepSize};
use crate::data::Dataset;
use crate::error::{MastError, Result};
use crate::objective::{Objective, Quadratic};
use crate::sketch::registry::SketchContext;
use crate::theory::DistributedTheory;

/// A planned run: everything built, nothing run yet.
pub(crate) struct Job<O: Objective> {
    /// Steps to run.
    pub steps: u64,
    /// The step rule (its horizon set to `steps`).
    pub step_size: StepSize,
    /// The solver.
    pub solver: Box<dyn Solver<O>>,
    /// The sketch(es) the theory and the summary describe.
    pub sketch: RunSketch,
    /// The ERM optimum, where the problem has a unique one.
    pub erm: Option<ErmSolution>,
    /// The point the iterates converge to (or near), with its description.
    pub reference: Option<(Vec<f64>, String)>,
    /// Algorithm 2: each node's constants and step rules.
    pub distributed: Option<DistributedTheory>,
}

/// Plans the run of `checked` on the objective `f` (of the training set in
/// `sets`); `make` builds the same objective on other rows (a node's shard),
/// `quadratic` its exact quadratic form where it has one (least squares).
pub(crate) fn plan<O: Objective + 'static>(
    checked: &CheckedTrain,
    f: &O,
    make: &impl Fn(Arc<Dataset>) -> Result<O>,
    quadratic: &impl Fn(Arc<Dataset>) -> Result<Option<Quadratic>>,
    sets: Sets<'_>,
    engine: EngineChoice,
) -> Result<Job<O>> {
    let steps = checked.steps(f.num_samples());
    let step_size = checked.step_size_for(steps);
    // Sketches derived from the data (importance sampling) read the objective.
    let ctx = SketchContext::with_objective(f);
    let Built { solver, shards } = build_solver_with(checked, step_size, sets, make, &ctx, engine)?;
    // The sketch the theory report describes (node 0's marginal for Algorithm 2).
    let sketch = RunSketch::new(checked, &ctx)?;
    // The ERM optimum feeds the theory's bounds and GD's reference; a problem
    // without a unique optimum (e.g. λ = 0 with rank-deficient data) just lacks them.
    let erm = solve_erm(
        f,
        &ErmOptions {
            tol: 1e-10,
            ..ErmOptions::default()
        },
    )
    .ok();
    // A singular finite-sum problem (a coordinate no sketch keeps) has no unique
    // limit point: then there is no reference, and no observed rate.
    let reference = match reference_point(
        checked,
        f,
        &sketch,
        erm.as_ref().map(|e| e.x.as_slice()),
        sets,
        shards.as_deref(),
        quadratic,
    ) {
        Err(MastError::Numerical(_)) => None,
        other => other?,
    };
    let distributed = match (&shards, &sketch) {
        (Some(s), RunSketch::Nodes(nodes)) => {
            Some(distributed_theory(nodes, s, sets.train, make, steps)?)
        }
        _ => None,
    };
    Ok(Job {
        steps,
        step_size,
        solver,
        sketch,
        erm,
        reference,
        distributed,
    })
}
