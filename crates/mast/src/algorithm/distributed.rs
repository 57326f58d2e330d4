//! Algorithm 2: distributed Double Sketched (S)GD over an [`Engine`].

use super::{IterState, MastProblem, Solver, StepSchedule, StepSize};
use crate::engine::{Engine, GradPiece, ModelPiece, Traffic};
use crate::error::{MastError, Result};
use crate::objective::Objective;
use crate::rng::{node_stream, stream, MastRng, Stream};
use crate::sketch::{PermK, Sketch, SketchDraw, SketchSpec};
use crate::theory::distributed_theory_step;

/// The nodes' sketch distributions `D_1..D_M`.
#[derive(Debug)]
pub enum NodeSketches {
    /// Each node its own distribution, drawn independently (each from its own
    /// stream); they may differ (per-node keep probabilities or K).
    Independent(Vec<Box<dyn Sketch>>),
    /// One joint draw: Perm-K, whose M sketches partition the coordinates.
    Joint(PermK),
}

impl NodeSketches {
    /// The same `spec` for all `m` nodes in dimension `d`; `perm-k:M` (with M = m)
    /// becomes the joint Perm-K draw.
    ///
    /// ```
    /// use mast::algorithm::NodeSketches;
    /// use mast::sketch::SketchSpec;
    /// let s = NodeSketches::from_spec(&SketchSpec::perm_k(4), 12, 4).unwrap();
    /// assert_eq!(s.nodes(), 4);
    /// assert!(NodeSketches::from_spec(&SketchSpec::perm_k(3), 12, 4).is_err());
    /// ```
    pub fn from_spec(spec: &SketchSpec, d: usize, m: usize) -> Result<Self> {
        if m == 0 {
            return Err(MastError::param("nodes", "must be at least 1"));
        }
        match spec.nodes() {
            Some(k) if k != m => Err(MastError::param(
                "sketch",
                format!("{spec} partitions the model among {k} nodes, but the run has {m} nodes"),
            )),
            Some(_) => Ok(NodeSketches::Joint(PermK::new(d, m)?)),
            None => Ok(NodeSketches::Independent(
                (0..m).map(|_| spec.build(d)).collect::<Result<_>>()?,
            )),
        }
    }

    /// The number of nodes M.
    pub fn nodes(&self) -> usize {
        match self {
            NodeSketches::Independent(v) => v.len(),
            NodeSketches::Joint(p) => p.nodes(),
        }
    }

    /// The dimension d.
    pub fn dim(&self) -> usize {
        match self {
            NodeSketches::Independent(v) => v[0].dim(),
            NodeSketches::Joint(p) => p.dim(),
        }
    }

    /// Node i's marginal `(L_{D_i}, L_{S_i}^max)`.
    pub fn node_constants(&self, i: usize) -> (f64, f64) {
        match self {
            NodeSketches::Independent(v) => (v[i].l_d(), v[i].l_s_max()),
            NodeSketches::Joint(p) => {
                let s = p.node_marginal(i);
                (s.l_d(), s.l_s_max())
            }
        }
    }

    /// A short description (`perm-k:4`, or the nodes' specs).
    pub fn spec(&self) -> String {
        match self {
            NodeSketches::Joint(p) => p.spec(),
            NodeSketches::Independent(v) => {
                let specs: Vec<String> = v.iter().map(|s| s.spec()).collect();
                if specs.iter().all(|s| *s == specs[0]) {
                    specs[0].clone()
                } else {
                    specs.join(",")
                }
            }
        }
    }
}

/// Algorithm 2 of MAST: each round the server draws `S_1..S_M`, node i receives
/// only `y_i = v + S_i(x − v)` on the support of `S_i`, returns `∇f_i(y_i)` there,
/// and `x ← x − γ (1/M) Σ_i S_iᵀ∇f_i(y_i)`. It minimises
/// `(1/M) Σ_i E f_i(v + S_i(x − v))` for the nodes' shards `f_i`.
///
/// With [`PermK`] and v = 0 this is Independent Subnetwork Training (IST): each
/// node trains a disjoint subnetwork, and a round moves d floats each way in
/// total instead of M·d.
///
/// The data move through an [`Engine`]; the algorithm is the same for all engines.
pub struct DistributedDsgd {
    sketches: NodeSketches,
    engine: Box<dyn Engine>,
    step_size: StepSize,
    seed: u64,
    schedule: Option<StepSchedule>,
    theory_gamma: f64,
    rngs: Vec<MastRng>,
    draws: Vec<SketchDraw>,
    perm: Vec<usize>,
    pieces: Vec<ModelPiece>,
    replies: Vec<GradPiece>,
}

impl std::fmt::Debug for DistributedDsgd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedDsgd")
            .field("sketches", &self.sketches)
            .field("engine", &self.engine.name())
            .field("step_size", &self.step_size)
            .field("seed", &self.seed)
            .finish()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    rngs: Vec<MastRng>,
    engine: serde_json::Value,
}

impl DistributedDsgd {
    /// Algorithm 2 with node sketches `sketches` over `engine` (which holds the
    /// nodes' shards), step rule and seed.
    pub fn new(
        sketches: NodeSketches,
        engine: Box<dyn Engine>,
        step_size: StepSize,
        seed: u64,
    ) -> Result<Self> {
        let m = engine.nodes();
        if sketches.nodes() != m {
            return Err(MastError::param(
                "nodes",
                format!(
                    "{} node sketches for an engine with {m} nodes",
                    sketches.nodes()
                ),
            ));
        }
        if let NodeSketches::Independent(v) = &sketches {
            if let Some(s) = v.iter().find(|s| !s.is_diagonal()) {
                return Err(MastError::param(
                    "sketch",
                    format!(
                        "`{}` is not a diagonal sketch: Algorithm 2 sends each node only the \
                         coordinates its sketch keeps, and a rotation keeps none of them alone; \
                         use it with Algorithm 1 or 3 (method dsgd or lsvrdsg)",
                        s.spec()
                    ),
                ));
            }
        }
        if sketches.dim() != engine.dim() {
            return Err(MastError::Dimension(format!(
                "sketches have dimension {}, the nodes' objectives {}",
                sketches.dim(),
                engine.dim()
            )));
        }
        Ok(DistributedDsgd {
            sketches,
            engine,
            step_size,
            seed,
            schedule: None,
            theory_gamma: f64::NAN,
            rngs: Vec::new(),
            draws: vec![SketchDraw::new(); m],
            perm: Vec::new(),
            pieces: vec![ModelPiece::default(); m],
            replies: vec![GradPiece::default(); m],
        })
    }

    /// The traffic so far.
    pub fn traffic(&self) -> Traffic {
        self.engine.traffic()
    }

    /// The engine.
    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// The node sketches.
    pub fn sketches(&self) -> &NodeSketches {
        &self.sketches
    }

    /// Each node's `(L_{f_i}, L_{D_i}, L_{S_i}^max)`.
    pub fn node_constants(&self) -> Vec<(f64, f64, f64)> {
        self.engine
            .node_smoothness()
            .into_iter()
            .enumerate()
            .map(|(i, l_f)| {
                let (l_d, l_s) = self.sketches.node_constants(i);
                (l_f, l_d, l_s)
            })
            .collect()
    }

    fn reset_streams(&mut self) {
        self.rngs = match &self.sketches {
            NodeSketches::Joint(_) => vec![stream(self.seed, Stream::Sketch)],
            NodeSketches::Independent(v) => (0..v.len())
                .map(|i| node_stream(self.seed, Stream::Sketch, i))
                .collect(),
        };
        self.engine.reset_streams(self.seed);
    }

    fn draw(&mut self) {
        match &self.sketches {
            NodeSketches::Joint(p) => {
                p.draw_joint(&mut self.rngs[0], &mut self.draws, &mut self.perm)
            }
            NodeSketches::Independent(v) => {
                for ((s, rng), draw) in v.iter().zip(&mut self.rngs).zip(&mut self.draws) {
                    s.draw(rng, draw);
                }
            }
        }
    }
}

impl<O: Objective + ?Sized> Solver<O> for DistributedDsgd {
    fn name(&self) -> String {
        format!(
            "distributed dsgd (M = {}, {}) {}",
            self.engine.nodes(),
            self.engine.name(),
            self.sketches.spec()
        )
    }

    fn init_at(&mut self, problem: &MastProblem<'_, O>, x0: Vec<f64>) -> Result<IterState> {
        let d = self.engine.dim();
        if problem.objective.dim() != d || x0.len() != d {
            return Err(MastError::Dimension(format!(
                "nodes have dimension {d}, the objective {}, x0 {}",
                problem.objective.dim(),
                x0.len()
            )));
        }
        let (theory_gamma, schedule) = self
            .step_size
            .resolve_with(|| Solver::<O>::theory_gamma_for(self, problem))?;
        self.theory_gamma = theory_gamma;
        self.schedule = Some(schedule);
        self.reset_streams();
        Ok(IterState::start(x0))
    }

    fn next_iter(&mut self, problem: &MastProblem<'_, O>, state: &mut IterState) -> Result<()> {
        let schedule = self.schedule.expect("init before next_iter");
        let gamma = schedule.gamma(state.step);
        let v = &problem.shift.v;
        self.draw();
        for (draw, piece) in self.draws.iter().zip(&mut self.pieces) {
            piece.indices.clear();
            piece.indices.extend_from_slice(&draw.indices);
            piece.values.clear();
            piece
                .values
                .extend(draw.iter().map(|(j, c)| v[j] + c * (state.x[j] - v[j])));
        }
        self.engine.round(&self.pieces, &mut self.replies)?;
        let m = self.replies.len();
        let step = gamma / m as f64;
        let (mut loss, mut samples, mut coords) = (0.0, 0, 0);
        for (draw, reply) in self.draws.iter().zip(&self.replies) {
            for ((j, c), g) in draw.iter().zip(&reply.values) {
                state.x[j] -= step * c * g;
            }
            loss += reply.loss;
            samples += reply.samples;
            coords += draw.len();
        }
        loss /= m as f64;
        let finite = loss.is_finite()
            && self
                .draws
                .iter()
                .all(|d| d.indices.iter().all(|&j| state.x[j].is_finite()));
        if !finite {
            return Err(MastError::Diverged {
                step: state.step + 1,
                detail: format!("the nodes' mean loss or the iterate is not finite (loss {loss})"),
                gamma,
                theory_gamma: Solver::<O>::theory_gamma_for(self, problem),
            });
        }
        state.record_step(samples, coords, loss, gamma);
        Ok(())
    }

    fn theory_gamma(&self) -> f64 {
        self.theory_gamma
    }

    fn theory_gamma_for(&self, _problem: &MastProblem<'_, O>) -> f64 {
        distributed_theory_step(self.step_size.theory_kind(), &self.node_constants())
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::to_value(Saved {
            rngs: self.rngs.clone(),
            engine: self.engine.save_state(),
        })
        .expect("solver state serialises")
    }

    fn restore_state(&mut self, saved: &serde_json::Value) -> Result<()> {
        let s: Saved = crate::serde_util::from_state(saved, "solver")?;
        if s.rngs.len() != self.rngs.len() {
            return Err(MastError::param(
                "checkpoint",
                "the saved run had a different number of sketch streams",
            ));
        }
        self.rngs = s.rngs;
        self.engine.restore_state(&s.engine)
    }

    fn traffic(&self) -> Option<Traffic> {
        Some(self.engine.traffic())
    }
}
