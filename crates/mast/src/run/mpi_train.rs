//! The training job under MPI (cargo feature `mpi`):
//! `mpirun -np M mast train --engine mpi --config ...` runs Algorithm 2 with one
//! node per rank.
//!
//! - **Rank 0** is the server and node 0: it loads the training set (it needs
//!   all of it to evaluate `f(x)` and the accuracies, as the in-process run
//!   does), the validation and test sets, runs the solver, draws the sketches,
//!   and alone writes the run folder (metrics, checkpoints, models, summary).
//! - **Rank r ≥ 1** builds node r from its own rows only and runs
//!   [`crate::engine::mpi::serve`]; it writes nothing.
//!
//! Where the rows come from:
//!
//! - **one file** (`data.train = "big.svm"`): every rank parses the file, takes
//!   the same validation holdout and the same [`crate::data::Sharding`] split as
//!   the in-process engine (so the nodes are identical), keeps its shard's rows
//!   and frees the rest. Each rank thus reads the whole file once, but holds
//!   only its shard afterwards.
//! - **per-node files** (`data.train = "part-{rank}.svm"`): rank r reads only
//!   `part-r.svm`, which is its shard (after its own validation holdout, with
//!   the run's seed); rank 0 reads all of them, in rank order, to evaluate on
//!   their union. One feature count and one label map (from all files) are
//!   used by every rank.
//!
//! Rank 0 broadcasts the feature count, λ and the label map before the nodes
//! are built, so every rank builds the same objective as the in-process run.
//! Same seed ⇒ the same metrics as the in-process engine with the same M, bit
//! for bit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::build::EngineChoice;
use super::config::{CheckedTrain, EngineKind, LossKind, Method};
use super::observer::Observer;
use super::train::{train_inner, FolderMode, Loaded, TrainReport};
use crate::data::split::holdout;
use crate::data::{load_libsvm_pair, CsrMatrix, Dataset, Design, LabelMap, LibsvmFile};
use crate::engine::mpi::serve;
use crate::engine::{MpiWorld, Node};
use crate::error::{MastError, Result};
use crate::objective::{LeastSquares, LogisticRegression};

/// The placeholder for the rank in a per-node training file name.
pub const RANK_PLACEHOLDER: &str = "{rank}";

/// Runs the configured Algorithm 2 job on this rank. Rank 0 returns the report
/// of the run (as [`super::train()`] does); the other ranks return `None` once
/// rank 0 has stopped them.
///
/// An error on rank r ≥ 1, or on rank 0 before the nodes are released
/// ([`crate::engine::mpi::workers_released`]), leaves the other ranks waiting:
/// print it and call [`MpiWorld::abort`].
pub fn train_mpi(
    world: &MpiWorld,
    checked: &CheckedTrain,
    observers: &mut [&mut dyn Observer],
    mode: FolderMode,
) -> Result<Option<TrainReport>> {
    check_mpi(world, checked)?;
    let job = || -> Result<Option<TrainReport>> {
        if world.rank() == 0 {
            root(world, checked, observers, mode).map(Some)
        } else {
            worker(world, checked).map(|()| None)
        }
    };
    super::train::with_threads(checked.threads, job)
}

/// The checks every rank can make alone, before any message: Algorithm 2, with
/// as many nodes as ranks. An error here is the same on every rank (no abort
/// needed: every rank can just exit).
pub fn check_mpi(world: &MpiWorld, checked: &CheckedTrain) -> Result<()> {
    if checked.method != Method::Distributed {
        return Err(MastError::param(
            "algorithm.method",
            "the mpi engine runs Algorithm 2: set method = \"distributed\" (or --method distributed)",
        ));
    }
    if checked.distributed.nodes != world.size() {
        return Err(MastError::param(
            "distributed.nodes",
            format!(
                "{} nodes configured but {} MPI ranks: one rank per node (mpirun -np {})",
                checked.distributed.nodes,
                world.size(),
                checked.distributed.nodes
            ),
        ));
    }
    if checked.engine != EngineKind::Mpi {
        return Err(MastError::param(
            "distributed.engine",
            "`in-process`: the MPI job needs engine = \"mpi\"",
        ));
    }
    Ok(())
}

/// `data.train` with `{rank}` replaced, if it has the placeholder.
fn node_file(train: &Path, rank: usize) -> Option<PathBuf> {
    let s = train.to_string_lossy();
    s.contains(RANK_PLACEHOLDER)
        .then(|| PathBuf::from(s.replace(RANK_PLACEHOLDER, &rank.to_string())))
}

/// What rank 0 tells the others before the nodes are built.
struct Setup {
    d: usize,
    lambda: f64,
    map: LabelMap,
}

impl Setup {
    fn broadcast(world: &MpiWorld, mine: Option<&Setup>) -> Setup {
        let mut buf = mine.map_or([0.0; 4], |s| {
            [s.d as f64, s.lambda, s.map.negative, s.map.positive]
        });
        world.broadcast_f64(&mut buf);
        Setup {
            d: buf[0] as usize,
            lambda: buf[1],
            map: LabelMap {
                negative: buf[2],
                positive: buf[3],
            },
        }
    }
}

fn root(
    world: &MpiWorld,
    checked: &CheckedTrain,
    observers: &mut [&mut dyn Observer],
    mode: FolderMode,
) -> Result<TrainReport> {
    let (loaded, map, shards) = match node_file(&checked.data.train, 0) {
        // One file: every rank infers the same label map from it.
        None => (
            Loaded::load(checked)?,
            LabelMap {
                negative: f64::NAN,
                positive: f64::NAN,
            },
            None,
        ),
        Some(_) => {
            let (loaded, map, shards) = load_per_node(checked, world.size())?;
            (loaded, map, Some(shards))
        }
    };
    Setup::broadcast(
        world,
        Some(&Setup {
            d: loaded.train.n_features(),
            lambda: loaded.lambda,
            map,
        }),
    );
    train_inner(
        checked,
        loaded,
        observers,
        mode,
        EngineChoice::Mpi { shards },
    )
}

/// Rank 0's data with per-node files: their union (in rank order) as the
/// training set, with each file's own validation holdout.
fn load_per_node(checked: &CheckedTrain, m: usize) -> Result<(Loaded, LabelMap, Vec<Vec<usize>>)> {
    let files = (0..m)
        .map(|r| LibsvmFile::read(node_file(&checked.data.train, r).expect("has {rank}")))
        .collect::<Result<Vec<_>>>()?;
    let test = checked
        .data
        .test
        .as_ref()
        .map(LibsvmFile::read)
        .transpose()?;
    let max_idx = files
        .iter()
        .chain(test.as_ref())
        .map(|f| f.max_index)
        .max()
        .unwrap_or(0);
    let d = checked.data.n_features.unwrap_or(max_idx);
    if d == 0 {
        return Err(MastError::Data {
            path: checked.data.train.clone(),
            message: "no features: every row is empty".into(),
        });
    }
    let map = union_label_map(&files)?;
    let mut trains = Vec::with_capacity(m);
    let mut vals = Vec::new();
    for f in files {
        let (t, v) = holdout(
            &f.into_dataset(d, &map)?,
            checked.data.val_fraction,
            checked.seed,
        )?;
        trains.push(t);
        vals.extend(v);
    }
    let mut shards = Vec::with_capacity(m);
    let mut at = 0;
    for t in &trains {
        shards.push((at..at + t.n_samples()).collect());
        at += t.n_samples();
    }
    let name = checked
        .data
        .train
        .file_name()
        .map_or("train".into(), |s| s.to_string_lossy().to_string());
    let train = concat(&trains, name.clone())?;
    let val = (!vals.is_empty())
        .then(|| concat(&vals, format!("{name}-validation")))
        .transpose()?;
    let test = test.map(|t| t.into_dataset(d, &map)).transpose()?;
    let lambda = checked.lambda.resolve(train.n_samples());
    Ok((
        Loaded {
            train: Arc::new(train),
            val,
            test,
            lambda,
        },
        map,
        shards,
    ))
}

/// The ±1 map of the union of the files' labels (a node's file may hold one class).
fn union_label_map(files: &[LibsvmFile]) -> Result<LabelMap> {
    let mut distinct: Vec<f64> = Vec::new();
    for f in files {
        for &l in &f.raw_labels {
            if !distinct.contains(&l) {
                distinct.push(l);
                if distinct.len() > 2 {
                    return Err(MastError::Data {
                        path: f.path.clone(),
                        message: format!(
                            "the node files hold more than two labels ({:?})",
                            distinct
                        ),
                    });
                }
            }
        }
    }
    if distinct.len() != 2 {
        return Err(MastError::Data {
            path: files.first().map(|f| f.path.clone()).unwrap_or_default(),
            message: "the node files together need two distinct labels".into(),
        });
    }
    Ok(LabelMap {
        negative: distinct[0].min(distinct[1]),
        positive: distinct[0].max(distinct[1]),
    })
}

/// The rows of `parts` one after the other (sparse designs, one column count).
fn concat(parts: &[Dataset], name: String) -> Result<Dataset> {
    let d = parts.first().map_or(0, Dataset::n_features);
    let (mut indptr, mut indices, mut values, mut labels) =
        (vec![0], Vec::new(), Vec::new(), Vec::new());
    for p in parts {
        let Design::Sparse(csr) = &p.features else {
            return Err(MastError::Dimension(
                "per-node files are LIBSVM (sparse) data".into(),
            ));
        };
        if csr.n_cols() != d {
            return Err(MastError::Dimension(format!(
                "node files have {} and {d} features",
                csr.n_cols()
            )));
        }
        for i in 0..csr.n_rows() {
            let (ix, vx) = csr.row(i);
            indices.extend_from_slice(ix);
            values.extend_from_slice(vx);
            indptr.push(indices.len());
        }
        labels.extend_from_slice(&p.labels);
    }
    let csr = CsrMatrix::new(labels.len(), d, indptr, indices, values);
    Ok(Dataset::new(name, Design::Sparse(csr), labels))
}

/// Ranks 1..M: build this rank's node from its own rows, then serve rank 0.
fn worker(world: &MpiWorld, checked: &CheckedTrain) -> Result<()> {
    let (r, m) = (world.rank(), world.size());
    let setup = Setup::broadcast(world, None);
    let shard = match node_file(&checked.data.train, r) {
        Some(path) => {
            let file = LibsvmFile::read(path)?;
            holdout(
                &file.into_dataset(setup.d, &setup.map)?,
                checked.data.val_fraction,
                checked.seed,
            )?
            .0
        }
        None => {
            let pair = load_libsvm_pair(&checked.data.train, None::<&Path>, Some(setup.d))?;
            let (train, _val) = holdout(&pair.train, checked.data.val_fraction, checked.seed)?;
            drop(pair);
            let shards = checked
                .distributed
                .sharding
                .split(&train, m, checked.seed)?;
            train.select_rows(&shards[r], format!("{} (node {r})", train.name))
            // `train` (the other nodes' rows) is freed here.
        }
    };
    let (v, variant, seed, lambda) = (
        vec![0.0; setup.d],
        checked.variant,
        checked.seed,
        setup.lambda,
    );
    let shard = Arc::new(shard);
    match checked.loss {
        LossKind::Logistic => serve(Node::new(
            r,
            LogisticRegression::new(shard, lambda)?,
            &v,
            variant,
            seed,
        )?),
        LossKind::LeastSquares => serve(Node::new(
            r,
            LeastSquares::new(shard, lambda)?,
            &v,
            variant,
            seed,
        )?),
    }
}
