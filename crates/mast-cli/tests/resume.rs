//! `mast train --resume DIR` continues a run with the settings it was started
//! with: every flag that would change the run is refused (naming the setting,
//! its old and new value, and how to start a fresh run instead), while the
//! length of the run, the thread count and presentational flags may change.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mast"))
        .args(args)
        .output()
        .expect("the mast binary runs")
}

fn shipped(name: &str) -> String {
    format!("{}/../../data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mast-cli-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

/// A short finished linear run on a5a (minibatch, 20 steps, a row every 10:
/// metrics.csv has 1 + 3 lines), whose folder keeps its checkpoint.
fn linear_run(dir: &Path) {
    let d = dir.display().to_string();
    let out = mast(&[
        "train",
        "--train",
        &shipped("a5a.gz"),
        "--test",
        &shipped("a5a.t.gz"),
        "--sketch",
        "rand-k:0.3",
        "--variant",
        "minibatch",
        "--batch",
        "16",
        "--steps",
        "20",
        "--eval-every",
        "10",
        "--seed",
        "5",
        "--out",
        &d,
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("checkpoint.json").exists());
}

/// Every flag that changes a linear run, with a value other than the run's:
/// (flag, value, the config key the error names, the saved value it shows).
fn refused_flags(a5a_t: &str, a5a: &str) -> Vec<(&'static str, String, &'static str, String)> {
    let v = |s: &str| s.to_string();
    vec![
        ("--train", v(a5a_t), "data.train", v("a5a.gz")),
        ("--test", v(a5a), "data.test", v("a5a.t.gz")),
        ("--val-fraction", v("0.2"), "data.val_fraction", v("0.1")),
        ("--n-features", v("200"), "data.n_features", v("(unset)")),
        (
            "--loss",
            v("least-squares"),
            "objective.loss",
            v("\"logistic\""),
        ),
        ("--lambda", v("0.1"), "objective.lambda", v("\"1/n\"")),
        (
            "--sketch",
            v("bernoulli:0.5"),
            "sketch",
            v("\"rand-k:q=0.3\""),
        ),
        ("--method", v("gd"), "algorithm.method", v("\"dsgd\"")),
        ("--nodes", v("2"), "distributed.nodes", v("4")),
        (
            "--sharding",
            v("by-label"),
            "distributed.sharding",
            v("\"iid\""),
        ),
        (
            "--engine",
            v("in-process"),
            "algorithm.method",
            v("\"dsgd\""),
        ),
        (
            "--n-sketches",
            v("10"),
            "algorithm.n_sketches",
            v("(unset)"),
        ),
        ("--ref-batch", v("5"), "algorithm.ref_batch", v("(unset)")),
        ("--rho", v("0.5"), "algorithm.rho", v("(unset)")),
        (
            "--variant",
            v("exact"),
            "algorithm.variant",
            v("\"minibatch\""),
        ),
        ("--batch", v("32"), "algorithm.batch", v("16")),
        (
            "--step-size",
            v("0.5"),
            "algorithm.step_size",
            v("\"theory\""),
        ),
        (
            "--step-multiplier",
            v("0.5"),
            "algorithm.step_multiplier",
            v("1.0"),
        ),
        ("--decay-t0", v("10"), "algorithm.decay_t0", v("1000.0")),
        ("--eval-every", v("5"), "algorithm.eval_every", v("10")),
        ("--seed", v("7"), "seed", v("5")),
    ]
}

/// Each refused flag: exit 1, one error naming the setting (and its flag), the
/// saved and the given value, and the command for a fresh run; the folder is
/// left as it was.
#[test]
fn resume_refuses_every_flag_that_changes_the_run() {
    let dir = tmp("refused");
    linear_run(&dir);
    let d = dir.display().to_string();
    let metrics = std::fs::read(dir.join("metrics.csv")).unwrap();
    let config = std::fs::read(dir.join("config.toml")).unwrap();
    let (a5a_t, a5a) = (shipped("a5a.t.gz"), shipped("a5a.gz"));
    let mut failures = Vec::new();
    for (flag, value, key, saved) in refused_flags(&a5a_t, &a5a) {
        let out = mast(&["train", "--resume", &d, flag, &value, "--quiet"]);
        let err = stderr(&out);
        let line = err
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap_or("");
        let ok = out.status.code() == Some(1)
            && err.starts_with(&format!("error: cannot resume the run in {d}"))
            && line.contains(&saved)
            && line.contains("in the run")
            && line.contains(" now")
            && err.contains("start a fresh run")
            && err.contains("--out NEW_DIR")
            && err.contains(&format!("{}", dir.join("config.toml").display()));
        // The changed setting's flag is named when the key has one.
        let named = key == "algorithm.method" || line.contains(flag);
        if !(ok && named) {
            failures.push(format!(
                "{flag} {value}: status {:?}\n{err}",
                out.status.code()
            ));
        }
        assert_eq!(
            std::fs::read(dir.join("metrics.csv")).unwrap(),
            metrics,
            "{flag}"
        );
        assert_eq!(
            std::fs::read(dir.join("config.toml")).unwrap(),
            config,
            "{flag}"
        );
    }
    assert!(
        failures.is_empty(),
        "not refused as expected:\n{}",
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Several changes at once are all listed; the same value as the run's is no change.
#[test]
fn resume_lists_every_change_and_accepts_unchanged_values() {
    let dir = tmp("several");
    linear_run(&dir);
    let d = dir.display().to_string();
    let out = mast(&[
        "train", "--resume", &d, "--lambda", "0.1", "--batch", "32", "--seed", "9", "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("3 settings differ"), "{err}");
    for l in [
        "objective.lambda (--lambda): \"1/n\" in the run, 0.1 now",
        "algorithm.batch (--batch): 16 in the run, 32 now",
        "seed (--seed): 5 in the run, 9 now",
        "--out NEW_DIR --batch 32 --lambda 0.1 --seed 9",
    ] {
        assert!(err.contains(l), "{l} missing in\n{err}");
    }
    // Giving the run's own values changes nothing: the resume goes ahead.
    let out = mast(&[
        "train",
        "--resume",
        &d,
        "--train",
        &shipped("a5a.gz"),
        "--sketch",
        "rand-k:0.3",
        "--seed",
        "5",
        "--batch",
        "16",
        "--lambda",
        "1/n",
        "--steps",
        "30",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&dir.join("metrics.csv")), 1 + 4);
    let _ = std::fs::remove_dir_all(&dir);
}

/// --out, --force and --config make no sense with --resume: refused by the parser.
#[test]
fn resume_conflicts_with_out_force_and_config() {
    let dir = tmp("conflicts");
    linear_run(&dir);
    let d = dir.display().to_string();
    let other = tmp("conflicts-other").display().to_string();
    let config = dir.join("config.toml").display().to_string();
    for extra in [
        vec!["--out", other.as_str()],
        vec!["--force"],
        vec!["--config", config.as_str()],
    ] {
        let mut args = vec!["train", "--resume", d.as_str(), "--quiet"];
        args.extend(&extra);
        let out = mast(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot be used with"),
            "{}",
            stderr(&out)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The length of the run (--steps, --epochs), the thread count and the
/// presentational flags (--quiet, --name, --no-cache) may change.
#[test]
fn resume_allows_steps_epochs_threads_and_presentation() {
    let dir = tmp("allowed");
    linear_run(&dir);
    let d = dir.display().to_string();
    let out = mast(&[
        "train",
        "--resume",
        &d,
        "--steps",
        "40",
        "--threads",
        "1",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&dir.join("metrics.csv")), 1 + 5);
    // 0.1 epochs of 5,773 training rows in batches of 16: 37 steps, fewer than done.
    // 0.2 epochs: 73 steps, rows at 50, 60, 70 and the last step 73.
    let out = mast(&[
        "train",
        "--resume",
        &d,
        "--epochs",
        "0.2",
        "--threads",
        "2",
        "--name",
        "renamed",
        "--no-cache",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&dir.join("metrics.csv")), 1 + 9);
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    assert!(summary.contains("\"steps\": 73"), "{summary}");
    assert!(summary.contains("\"name\": \"renamed\""), "{summary}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A moved run folder resumes where it is now (its config.toml still names the
/// old place).
#[test]
fn a_moved_run_folder_resumes_in_place() {
    let dir = tmp("moved-from");
    linear_run(&dir);
    let moved = tmp("moved-to");
    std::fs::rename(&dir, &moved).unwrap();
    let out = mast(&[
        "train",
        "--resume",
        &moved.display().to_string(),
        "--steps",
        "30",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.exists());
    assert_eq!(lines(&moved.join("metrics.csv")), 1 + 4);
    let _ = std::fs::remove_dir_all(&moved);
}

/// A network run folder (config.toml with a `[model]` table): every linear flag
/// and --seed are refused on --resume, before any data is read.
#[test]
fn network_resume_refuses_flags() {
    let dir = tmp("network");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "method = \"bernoulli:0.5\"\nseed = 4\n[data]\ndataset = \"digits\"\n\
         [model]\narch = \"mlp\"\nhidden = [16]\n[train]\nepochs = 2\nbatch = 16\nlr = 0.05\n",
    )
    .unwrap();
    let d = dir.display().to_string();
    let a5a = shipped("a5a.gz");
    let flags: [(&str, &str); 24] = [
        ("--train", &a5a),
        ("--test", &a5a),
        ("--val-fraction", "0.2"),
        ("--n-features", "200"),
        ("--loss", "least-squares"),
        ("--lambda", "0.1"),
        ("--sketch", "bernoulli:0.5"),
        ("--method", "gd"),
        ("--nodes", "2"),
        ("--sharding", "by-label"),
        ("--engine", "in-process"),
        ("--n-sketches", "10"),
        ("--ref-batch", "5"),
        ("--rho", "0.5"),
        ("--variant", "exact"),
        ("--batch", "32"),
        ("--steps", "10"),
        ("--epochs", "3"),
        ("--step-size", "0.5"),
        ("--step-multiplier", "0.5"),
        ("--decay-t0", "10"),
        ("--eval-every", "5"),
        ("--threads", "2"),
        ("--seed", "7"),
    ];
    for (flag, value) in flags {
        let out = mast(&["train", "--resume", &d, flag, value, "--quiet"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{flag}: {err}");
        assert!(err.contains(flag), "{flag}: {err}");
        if flag == "--seed" {
            assert!(err.contains("cannot resume the run in"), "{err}");
            assert!(err.contains("seed (--seed): 4 in the run, 7 now"), "{err}");
            assert!(err.contains("--out NEW_DIR --seed 7"), "{err}");
        } else {
            assert!(err.contains("is for linear runs"), "{flag}: {err}");
        }
    }
    // The run's own seed is no change: the resume goes on (and finds no checkpoint here).
    let out = mast(&["train", "--resume", &d, "--seed", "4", "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has no checkpoint.bin"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
