//! Stopping and resuming the `mast` binary: Ctrl-C (SIGINT) on a linear run,
//! `kill -9` on a network run, and experiments that skip their finished runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

fn mast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mast"))
        .args(args)
        .output()
        .expect("the mast binary runs")
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mast"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the mast binary starts")
}

fn shipped(name: &str) -> String {
    format!("{}/../../data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mast-cli-int-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Waits (at most 60 s) until `path` exists.
fn wait_for(path: &Path) {
    let t = Instant::now();
    while !path.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// metrics.csv without its last column (wall time).
fn metrics_without_time(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    text.lines()
        .map(|l| l.rsplit_once(',').unwrap().0)
        .collect::<Vec<_>>()
        .join("\n")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// SIGINT to a running linear `mast train`: exit 130, a checkpoint, the resume
/// command printed; resuming it gives the metrics and model of a run that never stopped.
#[test]
fn ctrl_c_on_a_linear_run_checkpoints_and_resumes_identically() {
    let dir = tmp("sigint");
    let (a, b) = (dir.join("interrupted"), dir.join("straight"));
    let common = |out: &Path, steps: &str| {
        vec![
            "train".to_string(),
            "--train".into(),
            shipped("a5a.gz"),
            "--test".into(),
            shipped("a5a.t.gz"),
            "--sketch".into(),
            "bernoulli:0.5".into(),
            "--variant".into(),
            "minibatch".into(),
            "--batch".into(),
            "8".into(),
            "--step-size".into(),
            "0.05".into(),
            "--eval-every".into(),
            "500".into(),
            "--steps".into(),
            steps.into(),
            "--out".into(),
            out.display().to_string(),
            "--quiet".into(),
        ]
    };
    let args = common(&a, "1000000000");
    let child = spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    wait_for(&a.join("metrics.csv"));
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("resume with:") && err.contains(&format!("train --resume {}", a.display())),
        "{err}"
    );
    let step = json(&a.join("checkpoint.json"))["state"]["step"]
        .as_u64()
        .unwrap();
    assert!(step > 0, "interrupted at step {step}");
    assert!(!a.join("summary.json").exists());
    // Resume to a horizon just past the interruption, and run the same horizon straight.
    let total = (step / 500 + 2) * 500 + 17;
    let o = mast(&[
        "train",
        "--resume",
        a.to_str().unwrap(),
        "--steps",
        &total.to_string(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let args = common(&b, &total.to_string());
    let o = mast(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(metrics_without_time(&a), metrics_without_time(&b));
    assert_eq!(
        json(&a.join("model_final.json")),
        json(&b.join("model_final.json"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The folder holding `images/sklearn-digits/digits.csv.gz`.
fn data_root() -> PathBuf {
    let candidates = [
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")),
        PathBuf::from("/work/shared/data"),
    ];
    candidates
        .iter()
        .find(|r| r.join("images/sklearn-digits/digits.csv.gz").exists())
        .cloned()
        .expect("the sklearn digits data under ../shared/data")
}

/// `kill -9` on a network `mast train` after its first checkpoint, then
/// `--resume`: metrics.csv and model.bin equal an uninterrupted run's, byte for byte.
#[test]
fn kill_9_on_a_network_run_then_resume_is_bit_identical() {
    let dir = tmp("nn-kill");
    let config = |out: &str| {
        format!(
            "method = \"bernoulli:0.5\"\nseed = 4\n[data]\ndataset = \"digits\"\nroot = \"{}\"\ntrain_limit = 300\n\
             [model]\narch = \"mlp\"\nhidden = [16]\n\
             [train]\nepochs = 40\nbatch = 16\nlr = 0.05\nmomentum = 0.9\neval_limit = 100\n\
             [output]\ndir = \"{out}\"\ncheckpoint_every_s = 0.02\n",
            data_root().display()
        )
    };
    std::fs::write(dir.join("a.toml"), config("a")).unwrap();
    std::fs::write(dir.join("b.toml"), config("b")).unwrap();
    let child = spawn(&[
        "train",
        "--config",
        dir.join("a.toml").to_str().unwrap(),
        "--quiet",
    ]);
    let a = dir.join("a");
    wait_for(&a.join("checkpoint.bin"));
    signal(&child, "-KILL");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), None, "killed by a signal");
    assert!(
        !a.join("summary.json").exists(),
        "the run ended before the kill"
    );
    let o = mast(&["train", "--resume", a.to_str().unwrap(), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mast(&[
        "train",
        "--config",
        dir.join("b.toml").to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b = dir.join("b");
    for f in ["metrics.csv", "model.bin"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs");
    }
    let summary = json(&a.join("summary.json"));
    assert!(summary["resumed_from"].as_u64().is_some(), "{summary}");
    assert!(!a.join("checkpoint.bin").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

/// Re-running an experiment into its folder reads finished runs back (their
/// files untouched) and redoes a run whose configuration changed.
#[test]
fn an_experiment_rerun_skips_finished_runs() {
    let dir = tmp("exp-rerun");
    let curves = dir.join("curves.toml");
    let write = |steps: u64| {
        std::fs::write(
            &curves,
            format!(
                "name = \"tiny\"\nseeds = [1, 2]\nsteps = {steps}\neval_every = 10\n\
                 [data]\ntrain = \"{}\"\ntest = \"{}\"\n\
                 [[methods]]\nlabel = \"Rand-K 0.5\"\nsketch = \"rand-k:0.5\"\n",
                shipped("a5a.gz"),
                shipped("a5a.t.gz")
            ),
        )
        .unwrap()
    };
    write(40);
    let out = dir.join("out");
    let run = || {
        mast(&[
            "experiment",
            "curves",
            "--config",
            curves.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ])
    };
    let o = run();
    assert!(o.status.success(), "{}", stderr(&o));
    let summaries: Vec<PathBuf> = walk(&out)
        .into_iter()
        .filter(|p| p.ends_with("summary.json") && p.with_file_name("metrics.csv").exists())
        .collect();
    assert_eq!(summaries.len(), 2, "{summaries:?}");
    let before: Vec<SystemTime> = summaries.iter().map(|p| mtime(p)).collect();
    let table = std::fs::read(out.join("curves.csv")).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let o = run();
    assert!(o.status.success(), "{}", stderr(&o));
    let after: Vec<SystemTime> = summaries.iter().map(|p| mtime(p)).collect();
    assert_eq!(before, after, "finished runs were redone");
    assert!(std::fs::read(out.join("curves.csv")).unwrap() == table);
    // Another configuration: the runs are redone.
    write(50);
    let o = run();
    assert!(o.status.success(), "{}", stderr(&o));
    let redone: Vec<SystemTime> = summaries.iter().map(|p| mtime(p)).collect();
    assert!(redone.iter().zip(&before).all(|(a, b)| a > b));
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
