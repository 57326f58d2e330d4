//! Building a configured run: the solver (with its engine and shards for
//! Algorithm 2), the nodes' sketches and theory, and the exact reference point
//! the iterates converge to, where one is known.

use std::sync::Arc;

use super::config::{CheckedTrain, Method};
use crate::algorithm::{
    DistributedDsgd, DoubleSketchedSgd, GradientDescent, Lsvrdsg, MastProblem, NodeSketches,
    Solver, StepSize,
};
use crate::data::Dataset;
use crate::engine::{Engine, InProcess};
use crate::error::Result;
use crate::linalg::SymMatrix;
use crate::objective::{Objective, Quadratic, Shift};
use crate::sketch::registry::SketchContext;
use crate::sketch::{RandK, Sketch};
use crate::sketched::QuadraticMast;
use crate::theory::DistributedTheory;

/// The data sets of a run and its resolved ℓ2 weight, as the plan and the
/// builders here take them.
#[derive(Clone, Copy)]
pub(crate) struct Sets<'a> {
    pub train: &'a Arc<Dataset>,
    pub val: Option<&'a Dataset>,
    pub test: Option<&'a Dataset>,
    pub lambda: f64,
}

/// Which engine moves Algorithm 2's pieces.
pub(crate) enum EngineChoice {
    /// All nodes in this process ([`InProcess`]).
    InProcess,
    /// Node 0 here, the others on MPI ranks 1..M running `engine::mpi::serve`.
    #[cfg(feature = "mpi")]
    Mpi {
        /// The nodes' rows of the training set (None: the configured sharding).
        shards: Option<Vec<Vec<usize>>>,
    },
}

/// The node sketches of a distributed run.
pub(crate) fn node_sketches(
    checked: &CheckedTrain,
    ctx: &SketchContext<'_>,
) -> Result<NodeSketches> {
    let dc = &checked.distributed;
    let spec = &checked.sketch;
    match &dc.node_sketches {
        Some(specs) => Ok(NodeSketches::Independent(
            specs
                .iter()
                .map(|s| s.build_in(ctx))
                .collect::<Result<_>>()?,
        )),
        None if spec.nodes().is_none() && dc.nodes > 0 => Ok(NodeSketches::Independent(
            (0..dc.nodes)
                .map(|_| spec.build_in(ctx))
                .collect::<Result<_>>()?,
        )),
        None => NodeSketches::from_spec(spec, ctx.dim, dc.nodes),
    }
}

/// Node i's marginal sketch: its own sketch, or its block of a joint draw.
pub(crate) enum Marginal<'a> {
    /// Node i's own sketch (independent node sketches).
    Own(&'a dyn Sketch),
    /// Node i's block of a joint Perm-K draw: Rand-K with K = |B_i|.
    Block(RandK),
}

impl<'a> std::ops::Deref for Marginal<'a> {
    type Target = dyn Sketch + 'a;
    fn deref(&self) -> &(dyn Sketch + 'a) {
        match self {
            Marginal::Own(s) => *s,
            Marginal::Block(r) => r,
        }
    }
}

/// Node i's marginal sketch (the sketch itself: never rebuilt from its spec).
pub(crate) fn marginal(sketches: &NodeSketches, i: usize) -> Marginal<'_> {
    match sketches {
        NodeSketches::Joint(p) => Marginal::Block(p.node_marginal(i)),
        NodeSketches::Independent(v) => Marginal::Own(v[i].as_ref()),
    }
}

/// The sketch a run's theory describes, built once: the configured sketch, or
/// for Algorithm 2 the nodes' sketches (the theory reads node 0's marginal).
pub(crate) enum RunSketch {
    /// Algorithms 1 and 3, GD: the one sketch.
    Single(Box<dyn Sketch>),
    /// Algorithm 2: the nodes' sketches.
    Nodes(NodeSketches),
}

impl RunSketch {
    pub(crate) fn new(checked: &CheckedTrain, ctx: &SketchContext<'_>) -> Result<Self> {
        Ok(match checked.method {
            Method::Distributed => RunSketch::Nodes(node_sketches(checked, ctx)?),
            _ => RunSketch::Single(checked.sketch.build_in(ctx)?),
        })
    }

    /// The sketch of the theory report (node 0's marginal for Algorithm 2).
    pub(crate) fn theory(&self) -> Marginal<'_> {
        match self {
            RunSketch::Single(s) => Marginal::Own(s.as_ref()),
            RunSketch::Nodes(n) => marginal(n, 0),
        }
    }

    /// Whether every sketch of the run has `E[S] = I` (each node's, for
    /// Algorithm 2).
    pub(crate) fn is_unbiased(&self) -> bool {
        match self {
            RunSketch::Single(s) => s.is_unbiased(),
            RunSketch::Nodes(n) => (0..n.nodes()).all(|i| marginal(n, i).is_unbiased()),
        }
    }

    /// The spec text of the run's sketch(es).
    pub(crate) fn spec(&self) -> String {
        match self {
            RunSketch::Single(s) => s.spec(),
            RunSketch::Nodes(n) => n.spec(),
        }
    }
}

/// The theory of a distributed run: each shard's `L_{f_i}` with its node's sketch.
pub(crate) fn distributed_theory<O: Objective>(
    sketches: &NodeSketches,
    shards: &[Vec<usize>],
    train: &Dataset,
    make: &impl Fn(Arc<Dataset>) -> Result<O>,
    steps: u64,
) -> Result<DistributedTheory> {
    let constants = shards
        .iter()
        .enumerate()
        .map(|(i, rows)| {
            let fi = make(Arc::new(train.select_rows(rows, "shard")))?;
            let (l_d, l_s) = sketches.node_constants(i);
            Ok((fi.smoothness(), l_d, l_s))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DistributedTheory::new(
        &constants,
        shards.iter().map(Vec::len).collect(),
        steps,
    ))
}

/// The solver, and what is needed to know its exact limit point.
pub(crate) struct Built<O: Objective> {
    pub solver: Box<dyn Solver<O>>,
    pub shards: Option<Vec<Vec<usize>>>,
}

pub(crate) fn build_solver<O: Objective + 'static>(
    checked: &CheckedTrain,
    step_size: StepSize,
    sets: Sets<'_>,
    make: &impl Fn(Arc<Dataset>) -> Result<O>,
    ctx: &SketchContext<'_>,
) -> Result<Built<O>> {
    build_solver_with(checked, step_size, sets, make, ctx, EngineChoice::InProcess)
}

pub(crate) fn build_solver_with<O: Objective + 'static>(
    checked: &CheckedTrain,
    step_size: StepSize,
    sets: Sets<'_>,
    make: &impl Fn(Arc<Dataset>) -> Result<O>,
    ctx: &SketchContext<'_>,
    choice: EngineChoice,
) -> Result<Built<O>> {
    let d = ctx.dim;
    let (variant, seed) = (checked.variant, checked.seed);
    guard_run_memory(sets.train, d)?;
    Ok(match checked.method {
        Method::Dsgd => Built {
            solver: Box::new(DoubleSketchedSgd::new(
                checked.sketch.build_in(ctx)?,
                variant,
                step_size,
                seed,
            )?),
            shards: None,
        },
        Method::Gd => Built {
            solver: Box::new(GradientDescent::new(variant, step_size, seed)),
            shards: None,
        },
        Method::Lsvrdsg {
            n_sketches,
            ref_batch,
            rho,
        } => Built {
            solver: Box::new(Lsvrdsg::new(
                checked.sketch.build_in(ctx)?,
                n_sketches,
                ref_batch,
                rho,
                step_size,
                seed,
            )?),
            shards: None,
        },
        Method::Distributed => {
            let dc = &checked.distributed;
            let engine: Box<dyn Engine>;
            let shards;
            match choice {
                EngineChoice::InProcess => {
                    shards = dc.sharding.split(sets.train, dc.nodes, seed)?;
                    engine = Box::new(InProcess::from_shards(
                        sets.train,
                        &shards,
                        |s| make(Arc::new(s)),
                        &vec![0.0; d],
                        variant,
                        seed,
                    )?);
                }
                #[cfg(feature = "mpi")]
                EngineChoice::Mpi { shards: given } => {
                    shards = match given {
                        Some(s) => s,
                        None => dc.sharding.split(sets.train, dc.nodes, seed)?,
                    };
                    engine = mpi_root_engine(sets.train, &shards, make, d, variant, seed)?;
                }
            }
            Built {
                solver: Box::new(DistributedDsgd::new(
                    node_sketches(checked, ctx)?,
                    engine,
                    step_size,
                    seed,
                )?),
                shards: Some(shards),
            }
        }
    })
}

/// Builds rank 0's engine: node 0 here; checks that the other ranks hold the
/// shards rank 0 expects.
#[cfg(feature = "mpi")]
fn mpi_root_engine<O: Objective + 'static>(
    train: &Arc<Dataset>,
    shards: &[Vec<usize>],
    make: &impl Fn(Arc<Dataset>) -> Result<O>,
    d: usize,
    variant: crate::sampling::Variant,
    seed: u64,
) -> Result<Box<dyn Engine>> {
    let shard = train.select_rows(&shards[0], format!("{} (node 0)", train.name));
    let node = crate::engine::Node::new(0, make(Arc::new(shard))?, &vec![0.0; d], variant, seed)?;
    let engine = crate::engine::MpiEngine::root(node)?;
    for (i, (&got, want)) in engine.shard_sizes().iter().zip(shards).enumerate() {
        if got != want.len() {
            return Err(crate::error::MastError::Dimension(format!(
                "rank {i} holds {got} training rows, rank 0 expected {}: do all ranks read the same data?",
                want.len()
            )));
        }
    }
    Ok(Box::new(engine))
}

/// Refuses, before its d-sized allocations, a run whose vectors of d cannot fit
/// in memory, or that would spend more than a GiB on columns no row uses
/// (see [`crate::data::memory`]).
fn guard_run_memory(train: &Dataset, d: usize) -> Result<()> {
    use crate::data::memory;
    let vectors = memory::TRAIN_STATE_VECTORS + memory::LBFGS_VECTORS;
    memory::check_run("mast train", d as u64, vectors)?;
    memory::check_columns_used("mast train", train, vectors)
}

/// A point the iterates provably converge to (or to a neighbourhood of), when it
/// can be computed exactly, with a description.
pub(crate) fn reference_point<O: Objective + 'static>(
    checked: &CheckedTrain,
    f: &O,
    run_sketch: &RunSketch,
    erm_x: Option<&[f64]>,
    sets: Sets<'_>,
    shards: Option<&[Vec<usize>]>,
    quadratic: &impl Fn(Arc<Dataset>) -> Result<Option<Quadratic>>,
) -> Result<Option<(Vec<f64>, String)>> {
    let d = f.dim();
    let v = vec![0.0; d];
    let sketch = run_sketch.theory();
    let identity = checked.sketch.is_identity();
    if checked.method == Method::Gd || (identity && checked.method == Method::Dsgd) {
        return Ok(erm_x.map(|x| (x.to_vec(), "x* (ERM optimum)".into())));
    }
    if !run_sketch.is_unbiased() {
        return Ok(None);
    }
    // The exact reference needs d×d matrices: none when they cannot fit.
    let matrix = crate::data::memory::vector_bytes((d as u64).saturating_mul(d as u64));
    if matrix.saturating_mul(3) > crate::data::memory::memory_limit() {
        return Ok(None);
    }
    let Some(q) = quadratic(sets.train.clone())? else {
        return Ok(None);
    };
    Ok(Some(match checked.method {
        Method::Dsgd => (
            QuadraticMast::new(&q, &*sketch, v)?.minimizer()?,
            "x_D* (exact, quadratic)".into(),
        ),
        Method::Lsvrdsg {
            n_sketches,
            ref_batch,
            rho,
        } => {
            // The same N draws the run will use (same seed, same stream).
            // (The solver owns its sketch: a second one from the same recipe.)
            let mut alg = Lsvrdsg::new(
                checked.sketch.build_in(&SketchContext::with_objective(f))?,
                n_sketches,
                ref_batch,
                rho,
                StepSize::Constant { gamma: 1.0 },
                checked.seed,
            )?;
            Solver::<O>::init(&mut alg, &MastProblem::new(f, Shift::zero(d)))?;
            (
                QuadraticMast::from_sketch_draws(&q, alg.sketch(), alg.draws(), v)?.minimizer()?,
                "x_D* over the N sketches (exact, quadratic)".into(),
            )
        }
        Method::Distributed => {
            let shards = shards.expect("distributed runs have shards");
            let RunSketch::Nodes(sketches) = run_sketch else {
                unreachable!("distributed runs have node sketches")
            };
            let mut quads = Vec::new();
            for rows in shards {
                let qi = quadratic(Arc::new(sets.train.select_rows(rows, "shard")))?
                    .expect("least squares shards are quadratics");
                quads.push(qi);
            }
            let masts = quads
                .iter()
                .enumerate()
                .map(|(i, qi)| QuadraticMast::new(qi, &*marginal(sketches, i), v.clone()))
                .collect::<Result<Vec<_>>>()?;
            let m = masts.len() as f64;
            let grad = |x: &[f64]| {
                let mut g = vec![0.0; d];
                for qm in &masts {
                    for (gj, t) in g.iter_mut().zip(qm.gradient(x)) {
                        *gj += t / m;
                    }
                }
                g
            };
            // The gradient is affine, g(x) = H x − c: recover H and c exactly.
            let g0 = grad(&v);
            let mut h = SymMatrix::zeros(d);
            let mut e = vec![0.0; d];
            for j in 0..d {
                e[j] = 1.0;
                let gj = grad(&e);
                e[j] = 0.0;
                for i in 0..d {
                    h.data[i * d + j] = gj[i] - g0[i];
                }
            }
            let c: Vec<f64> = g0.iter().map(|t| -t).collect();
            (
                h.solve_spd(&c)?,
                "x_D* of the distributed problem (exact, quadratic)".into(),
            )
        }
        Method::Gd => unreachable!("handled above"),
    }))
}
