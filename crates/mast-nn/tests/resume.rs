//! Checkpoints of network runs: a run that stops (a crash right after a
//! checkpoint, or an interrupt) and resumes from its checkpoint ends with the
//! same metrics and weights, bit for bit, as a run that never stopped. Tiny MLPs
//! on a few hundred sklearn digits images.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use mast::run::Interrupt;
use mast_nn::config::NnPruneConfig;
use mast_nn::data::{default_data_root, load, DatasetName, TrainTest};
use mast_nn::experiment::{run_nn_prune, Existing};
use mast_nn::mask::Method;
use mast_nn::model::{ArchConfig, Model};
use mast_nn::report::metrics_csv;
use mast_nn::train::{NnCheckpoint, RunControl, TrainEnd, TrainSettings, Trainer};

/// The folder holding `images/sklearn-digits/digits.csv.gz`.
fn data_root() -> PathBuf {
    let candidates = [
        default_data_root(Path::new(env!("CARGO_MANIFEST_DIR"))),
        PathBuf::from("/work/shared/data"),
    ];
    candidates
        .iter()
        .find(|r| r.join("images/sklearn-digits/digits.csv.gz").exists())
        .cloned()
        .expect(
            "the sklearn digits data (images/sklearn-digits/digits.csv.gz under ../shared/data)",
        )
}

fn digits(n: usize) -> TrainTest {
    let mut d = load(DatasetName::Digits, &data_root(), 1).unwrap();
    d.train = d.train.head(n);
    d.test = d.test.head(100);
    d
}

fn settings(momentum: f64) -> TrainSettings {
    TrainSettings {
        epochs: 3,
        batch: 16,
        lr: 0.05,
        momentum,
        weight_decay: 0.0,
        sketch_bias: false,
        neuron_fast: true,
        eval_limit: None,
        prefetch_masks: true,
        max_steps_per_epoch: Some(7),
        device: Default::default(),
        threads: None,
    }
}

/// One run of `method`: uninterrupted, and stopped at `stop` then resumed; returns
/// (metrics, weights) of both.
fn both_ways(method: Method, stop: Stop) -> [(String, Vec<u8>); 2] {
    let data = digits(300);
    let model = Model::new(&ArchConfig::Mlp { hidden: vec![24] }, data.train.shape, 10).unwrap();
    let s = settings(0.9);
    let dir = common::temp_dir(&format!(
        "resume-{}-{stop:?}",
        method.to_string().replace(':', "-")
    ));
    let ck = dir.join("checkpoint.bin");

    let mut whole = Trainer::new(&model, method, &s, 5, None, None).unwrap();
    let rows = whole.train(&data.train, &data.test, |_| Ok(())).unwrap();
    let straight = (metrics_csv(&rows), whole.params().to_bytes());

    // First part: checkpoints after every step, then a crash or an interrupt.
    let mut first = Trainer::new(&model, method, &s, 5, None, None).unwrap();
    let interrupt = Interrupt::new();
    let control = RunControl {
        checkpoint: Some((ck.clone(), Duration::ZERO)),
        interrupt: interrupt.clone(),
    };
    let crash = first.train_with(&data.train, &data.test, &control, None, |row| {
        match stop {
            // kill -9 after the checkpoint of epoch 1's last step: the evaluation is lost.
            Stop::CrashAtEpoch(e) if row.epoch == e => {
                Err(mast_nn::NnError::param("test", "crash"))
            }
            Stop::InterruptAtEpoch(e) if row.epoch == e => {
                interrupt.raise();
                Ok(())
            }
            _ => Ok(()),
        }
    });
    match stop {
        Stop::CrashAtEpoch(_) => assert!(crash.is_err()),
        Stop::InterruptAtEpoch(_) => {
            assert!(matches!(crash.unwrap(), TrainEnd::Interrupted { .. }))
        }
    }
    drop(first);
    // Second part: a new process, from the checkpoint file only.
    let saved = NnCheckpoint::read(&ck).unwrap();
    assert!(
        saved.step() > 0 && saved.step() < 21,
        "stopped mid-run at {}",
        saved.step()
    );
    let mut rows = saved.rows().to_vec();
    let mut second = Trainer::new(&model, method, &s, 5, None, None).unwrap();
    let control = RunControl {
        checkpoint: Some((ck.clone(), Duration::from_secs(3600))),
        interrupt: Interrupt::new(),
    };
    let end = second
        .train_with(&data.train, &data.test, &control, Some(saved), |row| {
            rows.push(row.clone());
            Ok(())
        })
        .unwrap();
    let TrainEnd::Completed(all) = end else {
        panic!("not completed")
    };
    assert_eq!(metrics_csv(&all), metrics_csv(&rows));
    let resumed = (metrics_csv(&rows), second.params().to_bytes());
    let _ = std::fs::remove_dir_all(&dir);
    [straight, resumed]
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    CrashAtEpoch(usize),
    InterruptAtEpoch(usize),
}

#[test]
fn a_crashed_run_resumes_bit_for_bit() {
    for method in [
        Method::Bernoulli { keep_prob: 0.5 },
        Method::Dropout { drop_prob: 0.3 },
        Method::Neuron { keep_prob: 0.5 },
    ] {
        let [a, b] = both_ways(method, Stop::CrashAtEpoch(1));
        assert_eq!(a.0, b.0, "{method}: metrics differ");
        assert!(a.1 == b.1, "{method}: weights differ");
        assert_eq!(a.0.lines().count(), 5);
    }
}

#[test]
fn an_interrupted_run_resumes_bit_for_bit() {
    let [a, b] = both_ways(Method::RandK { fraction: 0.5 }, Stop::InterruptAtEpoch(2));
    assert_eq!(a.0, b.0);
    assert!(a.1 == b.1, "weights differ");
}

#[test]
fn a_checkpoint_of_another_run_is_refused() {
    let data = digits(100);
    let model = Model::new(&ArchConfig::Mlp { hidden: vec![8] }, data.train.shape, 10).unwrap();
    let s = TrainSettings {
        epochs: 1,
        ..settings(0.0)
    };
    let dir = common::temp_dir("resume-refused");
    let ck = dir.join("checkpoint.bin");
    let mut t = Trainer::new(&model, Method::Erm, &s, 1, None, None).unwrap();
    let control = RunControl {
        checkpoint: Some((ck.clone(), Duration::ZERO)),
        interrupt: Interrupt::new(),
    };
    t.train_with(&data.train, &data.test, &control, None, |_| Ok(()))
        .unwrap();
    let mut other = Trainer::new(&model, Method::Erm, &s, 2, None, None).unwrap();
    let saved = NnCheckpoint::read(&ck).unwrap();
    let e = other
        .train_with(&data.train, &data.test, &control, Some(saved), |_| Ok(()))
        .unwrap_err();
    assert!(e.to_string().contains("belongs to run"), "{e}");
    // A truncated file is a clear error, not a panic.
    let bytes = std::fs::read(&ck).unwrap();
    std::fs::write(&ck, &bytes[..bytes.len() / 2]).unwrap();
    let e = NnCheckpoint::read(&ck).unwrap_err();
    assert!(e.to_string().contains("checkpoint.bin"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn prune_config(dir: &Path) -> NnPruneConfig {
    let text = format!(
        r#"
name = "tiny"
seeds = [1, 2]
methods = ["erm", "bernoulli:0.5"]
[data]
dataset = "digits"
root = "{root}"
train_limit = 200
[model]
arch = "mlp"
hidden = [16]
[train]
epochs = 2
batch = 16
lr = 0.05
momentum = 0.9
max_steps_per_epoch = 6
eval_limit = 100
[prune]
q = [0.5]
masks = 2
test_limit = 100
"#,
        root = data_root().display()
    );
    let path = dir.join("tiny.toml");
    std::fs::write(&path, text).unwrap();
    NnPruneConfig::read(&path).unwrap()
}

/// `nn-prune` stopped in its third run (after a checkpoint) and resumed: finished
/// runs are skipped (untouched), and every table equals an uninterrupted experiment's.
#[test]
fn nn_prune_resumes_and_skips_finished_runs() {
    let dir = common::temp_dir("nn-prune-resume");
    let cfg = prune_config(&dir);
    let whole = dir.join("whole");
    run_nn_prune(&cfg, &whole, Existing::Refuse, &mut |_: &str| {}).unwrap();

    // The interrupted experiment: runs 1 and 2 finished; run 3 has a checkpoint
    // from the middle of its training (made by training it partly by hand).
    let part = dir.join("part");
    let two = NnPruneConfig {
        methods: vec![Method::Erm],
        ..cfg.clone()
    };
    run_nn_prune(&two, &part, Existing::Refuse, &mut |_: &str| {}).unwrap();
    std::fs::write(
        part.join("config.toml"),
        toml::to_string_pretty(&cfg).unwrap(),
    )
    .unwrap();
    for f in ["summary.json", "prune.csv", "curves.csv", "report.md"] {
        std::fs::remove_file(part.join(f)).unwrap();
    }
    let run3 = part.join("runs/bernoulli-0.5/seed-1");
    {
        let mut data = load(DatasetName::Digits, &data_root(), 1).unwrap();
        data.train = data.train.head(200);
        let model = Model::new(&cfg.model, data.train.shape, 10).unwrap();
        let method = Method::Bernoulli { keep_prob: 0.5 };
        let mut t = Trainer::new(&model, method, &cfg.train, 1, None, None).unwrap();
        let stop = Interrupt::new();
        let control = RunControl {
            checkpoint: Some((run3.join("checkpoint.bin"), Duration::from_secs(3600))),
            interrupt: stop.clone(),
        };
        let end = t
            .train_with(&data.train, &data.test, &control, None, |row| {
                if row.epoch == 1 {
                    stop.raise();
                }
                Ok(())
            })
            .unwrap();
        assert!(matches!(end, TrainEnd::Interrupted { step: 6, .. }));
    }
    let finished = part.join("runs/erm/seed-2/summary.json");
    let mtime = std::fs::metadata(&finished).unwrap().modified().unwrap();
    let mut lines = Vec::new();
    run_nn_prune(&cfg, &part, Existing::Resume, &mut |l: &str| {
        lines.push(l.to_string())
    })
    .unwrap();
    let skipped: Vec<&String> = lines.iter().filter(|l| l.contains("skipped")).collect();
    assert_eq!(skipped.len(), 2, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("bernoulli:0.5 seed 1: resumed from the checkpoint at step 6")),
        "{lines:#?}"
    );
    assert_eq!(
        std::fs::metadata(&finished).unwrap().modified().unwrap(),
        mtime
    );
    assert!(!run3.join("checkpoint.bin").exists());
    for f in [
        "prune.csv",
        "curves_summary.csv",
        "prune_summary.csv",
        "runs/bernoulli-0.5/seed-1/metrics.csv",
        "runs/bernoulli-0.5/seed-1/model.bin",
        "runs/bernoulli-0.5/seed-2/model.bin",
    ] {
        let a = std::fs::read(whole.join(f)).unwrap();
        let b = std::fs::read(part.join(f)).unwrap();
        assert!(a == b, "{f} differs");
    }
    // A folder holding another configuration is refused.
    let other = NnPruneConfig {
        seeds: vec![7],
        ..cfg.clone()
    };
    let e = run_nn_prune(&other, &part, Existing::Resume, &mut |_: &str| {}).unwrap_err();
    assert!(e.to_string().contains("another configuration"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
