//! `mpirun -np M mast train --engine mpi ...`: Algorithm 2 with one node per
//! MPI rank (cargo feature `mpi`). Rank 0 prints and writes the run folder; the
//! other ranks are silent.

use anyhow::Result;
use mast::engine::mpi::workers_released;
use mast::engine::MpiWorld;
use mast::run::config::TrainConfig;
use mast::run::mpi_train::{check_mpi, train_mpi};
use mast::run::{FolderMode, Observer};

use crate::progress::Progress;
use crate::train::print_report;

/// Initialises MPI, runs this rank's part of the job, and finalises MPI.
///
/// Errors: one that every rank meets alike (a bad config) ends every rank with
/// exit code 1, rank 0 printing it; one that only some ranks meet (a file, a
/// node's computation) is printed by its rank, which then aborts the whole job
/// (`MPI_Abort`) so that no rank waits forever.
pub fn run(mut cfg: TrainConfig, mode: FolderMode, quiet: bool) -> Result<()> {
    let world = MpiWorld::init()?;
    let rank = world.rank();
    if cfg.distributed.nodes != world.size() {
        if rank == 0 {
            eprintln!(
                "note: distributed.nodes = {} but there are {} MPI ranks: running {} nodes, one per rank",
                cfg.distributed.nodes,
                world.size(),
                world.size()
            );
        }
        cfg.distributed.nodes = world.size();
    }
    // Checks every rank makes alike: no messages yet, so every rank may just exit
    // (after rank 0 has said why: the broadcast holds the others until then).
    let given = cfg.clone();
    let checked = match cfg.check().and_then(|c| check_mpi(&world, &c).map(|()| c)) {
        Ok(c) => c,
        Err(e) => leave(world, (rank == 0).then_some(e)),
    };
    if mode == FolderMode::Resume {
        // A resumed run keeps its settings: rank 0 (which holds the run folder)
        // decides, and tells the others.
        let verdict = if rank == 0 {
            mast::run::check_resume(&given)
        } else {
            Ok(())
        };
        let mut refused = [f64::from(u8::from(verdict.is_err()))];
        if let Err(e) = verdict {
            eprintln!("error: {e}");
        }
        world.broadcast_f64(&mut refused);
        if refused[0] != 0.0 {
            leave(world, None)
        }
    }
    let mut progress = Progress::new(quiet || rank != 0);
    let mut observers: [&mut dyn Observer; 1] = [&mut progress];
    match train_mpi(&world, &checked, &mut observers, mode) {
        Ok(Some(report)) => {
            // A diverged run is a failure of the command (the nodes have left).
            let report = report.into_result()?;
            print_report(&report);
            Ok(())
        }
        Ok(None) => Ok(()),
        // Rank 0 failed after the nodes left cleanly (e.g. divergence): a plain error.
        Err(e) if rank == 0 && workers_released() => Err(e.into()),
        Err(e) => {
            eprintln!("error: MPI rank {rank}: {e}");
            eprintln!("error: MPI rank {rank}: aborting the job");
            world.abort(1)
        }
    }
}

/// Ends this rank after an error every rank met alike: rank 0 (given `error`)
/// prints it, a broadcast holds the other ranks until it has, then every rank
/// finalises MPI and exits with code 1.
fn leave(world: MpiWorld, error: Option<mast::MastError>) -> ! {
    if let Some(e) = error {
        eprintln!("error: {e}");
    }
    world.broadcast_f64(&mut [0.0]);
    drop(world); // MPI_Finalize
    std::process::exit(1)
}
