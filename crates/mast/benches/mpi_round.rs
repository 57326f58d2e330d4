//! Algorithm 2 over MPI: wall time per round and bytes per round (cargo feature
//! `mpi`). Run under `mpirun`, one node per rank; `bench/mpi/run.sh` runs the
//! whole comparison (1 vs 2 ranks, Perm-K vs Identity).
//!
//!     cargo bench -p mast --features mpi --bench mpi_round --no-run
//!     mpirun --allow-run-as-root --oversubscribe -np 2 target/release/deps/mpi_round-*
//!
//! Each rank generates its own shard in memory from the seed (dense Gaussian
//! rows, logistic loss): `MAST_BENCH_ROWS` × `MAST_BENCH_DIM` f64 (default
//! 25,000 × 1,000 = 200 MB per node). `MAST_BENCH_SKETCH` is `perm-k` (Perm-K
//! over the M ranks, the default) or `identity` (the whole model to every node);
//! `MAST_BENCH_ROUNDS` rounds are timed after 2 warm-up rounds. Rank 0 prints
//! one line of `key=value` fields.

use std::sync::Arc;
use std::time::Instant;

use mast::algorithm::{DistributedDsgd, MastProblem, NodeSketches, Solver, StepSize, Variant};
use mast::data::synthetic::{gaussian_planted, Task};
use mast::engine::{mpi::serve, MpiEngine, MpiWorld, Node};
use mast::objective::{LogisticRegression, Shift};
use mast::sketch::SketchSpec;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` without mpirun also runs this binary (with a --bench flag):
    // it then runs as a single rank.
    let world = MpiWorld::init().expect("MPI initialises");
    let (rank, m) = (world.rank(), world.size());
    let (n, d) = (env("MAST_BENCH_ROWS", 25_000), env("MAST_BENCH_DIM", 1_000));
    let rounds = env("MAST_BENCH_ROUNDS", 20);
    let sketch = std::env::var("MAST_BENCH_SKETCH").unwrap_or_else(|_| "perm-k".into());
    let seed = 7;
    let t0 = Instant::now();
    let shard = gaussian_planted(n, d, 0.1, Task::Classification, seed + rank as u64);
    let gen_s = t0.elapsed().as_secs_f64();
    let f = LogisticRegression::new(Arc::new(shard), 1.0 / (n * m) as f64).expect("objective");
    let node = Node::new(rank, f, &vec![0.0; d], Variant::Exact, seed).expect("node");
    if rank != 0 {
        if let Err(e) = serve(node) {
            eprintln!("rank {rank}: {e}");
            world.abort(1);
        }
        return;
    }
    let engine = MpiEngine::root(node).expect("engine");
    let spec = match sketch.as_str() {
        "identity" => SketchSpec::identity(),
        _ => SketchSpec::perm_k(m),
    };
    let sketches = NodeSketches::from_spec(&spec, d, m).expect("sketches");
    let spec_name = sketches.spec();
    let mut solver = DistributedDsgd::new(
        sketches,
        Box::new(engine),
        StepSize::Constant { gamma: 1e-3 },
        seed,
    )
    .expect("solver");
    // The problem's objective only fixes d here: rounds use the nodes' shards.
    let tiny = gaussian_planted(2, d, 0.1, Task::Classification, 1);
    let f0 = LogisticRegression::new(Arc::new(tiny), 1e-3).expect("objective");
    let problem = MastProblem::new(&f0, Shift::zero(d));
    let mut state = Solver::init(&mut solver, &problem).expect("init");
    for _ in 0..2 {
        solver.next_iter(&problem, &mut state).expect("round");
    }
    let before = solver.traffic();
    let t = Instant::now();
    for _ in 0..rounds {
        solver.next_iter(&problem, &mut state).expect("round");
    }
    let per_round = t.elapsed().as_secs_f64() / rounds as f64;
    let after = solver.traffic();
    let r = (after.rounds - before.rounds) as f64;
    let logical = (after.bytes() - before.bytes()) as f64 / r;
    let wire = (after.mpi_bytes.unwrap_or(0) - before.mpi_bytes.unwrap_or(0)) as f64 / r;
    let floats_down = (after.floats_down - before.floats_down) as f64 / r;
    println!(
        "ranks={m} sketch={spec_name} rows_per_node={n} dim={d} shard_mb={:.0} gen_s={gen_s:.2} \
         rounds={rounds} s_per_round={per_round:.5} model_floats_down_per_round={floats_down:.0} \
         bytes_per_round={logical:.0} mpi_bytes_per_round={wire:.0} engine={}",
        (n * d * 8) as f64 / 1e6,
        solver.engine().name()
    );
}
