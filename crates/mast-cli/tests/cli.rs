//! The `mast` binary end to end: bad input gives one clear error line and a
//! non-zero exit, never a panic; train and erm run on the shipped data.

use std::path::PathBuf;
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
    std::env::temp_dir().join(format!("mast-cli-{}-{name}", std::process::id()))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Acceptance 5 of the core issue: each malformed file gives one error line naming
/// the file (and line), exit code ≠ 0, no panic.
#[test]
fn malformed_libsvm_files_give_one_clear_error_line() {
    let cases: [(&str, &str, &str, Option<usize>); 6] = [
        (
            "order",
            "+1 1:1 5:1\n-1 4:1 2:1\n",
            "strictly increasing",
            Some(2),
        ),
        ("value", "+1 1:1\n-1 2:abc\n", "not a number", Some(2)),
        (
            "labels",
            "+1 1:1\n-1 2:1\n+1 3:1\n2 1:1\n",
            "third distinct label",
            Some(4),
        ),
        ("empty", "", "no data rows", None),
        ("colon", "+1 1:1\n-1 2\n", "index:value", Some(2)),
        ("zero", "+1 0:1\n-1 2:1\n", "below 1", Some(1)),
    ];
    for (name, text, needle, line) in cases {
        let path = tmp(&format!("{name}.svm"));
        std::fs::write(&path, text).unwrap();
        let p = path.display().to_string();
        for args in [
            vec!["erm", "--train", p.as_str()],
            vec![
                "train",
                "--train",
                p.as_str(),
                "--steps",
                "5",
                "--quiet",
                "--out",
                "/tmp/mast-cli-never",
            ],
        ] {
            let out = mast(&args);
            let err = stderr(&out);
            assert!(!out.status.success(), "{name}: should fail");
            assert_eq!(out.status.code(), Some(1), "{name}");
            assert!(!err.contains("panicked"), "{name}: {err}");
            assert_eq!(
                err.trim().lines().count(),
                1,
                "{name}: one line expected, got {err}"
            );
            assert!(err.starts_with("error: "), "{name}: {err}");
            assert!(err.contains(needle), "{name}: {err}");
            let location = match line {
                Some(l) => format!("{p}:{l}:"),
                None => p.clone(),
            };
            assert!(
                err.contains(&location),
                "{name}: wanted {location} in {err}"
            );
        }
        std::fs::remove_file(&path).unwrap();
    }
    let missing = tmp("does-not-exist.svm").display().to_string();
    let out = mast(&["erm", "--train", &missing]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains(&missing) && err.contains("cannot open") && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1);
}

#[test]
fn bad_flags_are_named() {
    let out = mast(&[
        "train",
        "--train",
        &shipped("a5a.gz"),
        "--sketch",
        "bernoulli:1.5",
        "--steps",
        "3",
        "-q",
        "--out",
        &tmp("x").display().to_string(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("keep_prob") && err.contains("1.5"), "{err}");
    let out = mast(&[
        "train",
        "--train",
        &shipped("a5a.gz"),
        "--sketch",
        "sideways:2",
        "--steps",
        "3",
    ]);
    assert!(stderr(&out).contains("unknown sketch"));
}

#[test]
fn erm_reports_the_known_optimum() {
    let out = mast(&[
        "erm",
        "--train",
        &shipped("a5a.gz"),
        "--test",
        &shipped("a5a.t.gz"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("f*          = 0.32362128"), "{text}");
    assert!(text.contains("test acc    = 0.8455"), "{text}");
}

#[test]
fn train_writes_a_run_folder_and_resumes() {
    let dir = tmp("run");
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.display().to_string();
    let args = [
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
        "60",
        "--eval-every",
        "20",
        "--out",
        &d,
        "--quiet",
    ];
    let out = mast(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    for f in [
        "config.toml",
        "metrics.csv",
        "summary.json",
        "model_final.json",
        "model_best.json",
        "checkpoint.json",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("step,epoch,loss,sketched_loss,grad_norm,train_accuracy,val_accuracy,test_accuracy,coords_touched,gamma"));
    assert_eq!(csv.lines().count(), 1 + 4);
    // Refuses to overwrite; resumes to more steps.
    let again = mast(&args);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--resume"));
    let out = mast(&["train", "--resume", &d, "--steps", "100", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_example_config_parses_and_runs_briefly() {
    let dir = tmp("example");
    let out = mast(&[
        "train",
        "--config",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/a5a.toml"),
        "--steps",
        "30",
        "--out",
        &dir.display().to_string(),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rand-k"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--batch` alone asks for minibatch steps (variant II); `--variant exact` still wins.
#[test]
fn batch_implies_the_minibatch_variant() {
    for (extra, want) in [
        (&[][..], "dsgd(II, batch 16)"),
        (&["--variant", "exact"][..], "dsgd(I)"),
    ] {
        let dir = tmp(&format!("batch-variant-{}", extra.len()));
        let dir_s = dir.display().to_string();
        let train = shipped("a5a.gz");
        let mut args = vec!["train", "--train", &train, "--batch", "16", "--steps", "5"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", &dir_s, "--force", "--quiet"]);
        let out = mast(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(want), "{extra:?}: {text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// `mast theory` prints the table for a config without running or writing anything.
#[test]
fn theory_prints_constants_and_step_rules() {
    let out = mast(&[
        "theory",
        "--train",
        &shipped("a5a.gz"),
        "--sketch",
        "perm-k:4",
        "--method",
        "distributed",
        "--nodes",
        "4",
        "--sharding",
        "by-label",
        "--steps",
        "100",
        "--out",
        tmp("theory-never-written").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "L_f",
        "μ_D",
        "L_S^max",
        "κ_D",
        "γ non-convex",
        "D_max",
        "contraction",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
    assert!(!tmp("theory-never-written").exists());
    let out = mast(&[
        "theory",
        "--train",
        &shipped("a5a.gz"),
        "--sketch",
        "dropconnect:0.5",
        "--steps",
        "10",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["report"]["unbiased"], false);
    let out = mast(&[
        "theory",
        "--train",
        &shipped("a5a.gz"),
        "--sketch",
        "dropout:0.5",
        "--steps",
        "10",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("ambiguous"), "{}", stderr(&out));
}

/// Algorithm 2 and the Dropout baseline run through `mast train` and report
/// traffic and theory.
#[test]
fn train_runs_algorithm2_and_the_dropconnect_baseline() {
    let dir = tmp("dist");
    let _ = std::fs::remove_dir_all(&dir);
    let out = mast(&[
        "train",
        "--train",
        &shipped("a5a.gz"),
        "--method",
        "distributed",
        "--sketch",
        "perm-k:4",
        "--nodes",
        "4",
        "--variant",
        "minibatch",
        "--batch",
        "16",
        "--steps",
        "200",
        "--out",
        dir.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("traffic") && stdout.contains("model floats per round"),
        "{stdout}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["traffic"]["rounds"], 200);
    assert_eq!(summary["distributed"]["nodes"], 4);
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(
        config.contains("[distributed]") && config.contains("nodes = 4"),
        "{config}"
    );

    let dir2 = tmp("dropconnect");
    let _ = std::fs::remove_dir_all(&dir2);
    let out = mast(&[
        "train",
        "--train",
        &shipped("a5a.gz"),
        "--sketch",
        "dropconnect:0.5",
        "--steps",
        "50",
        "--out",
        dir2.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir2.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["theory"]["unbiased"], false);
    assert_eq!(summary["sketch"], "dropconnect:0.5");
    for d in [dir, dir2] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

/// `mast experiment prune` from flags writes prune.csv with the documented columns.
#[test]
fn experiment_prune_from_flags() {
    let dir = tmp("prune");
    let _ = std::fs::remove_dir_all(&dir);
    let out = mast(&[
        "experiment",
        "prune",
        "--train",
        &shipped("a5a.gz"),
        "--test",
        &shipped("a5a.t.gz"),
        "--q",
        "0.3,0.5",
        "--masks",
        "4",
        "--steps",
        "60",
        "--out",
        dir.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.join("prune.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("q,method,mask,kept,test_accuracy"));
    assert_eq!(lines.count(), 2 * 4 * 2);
    assert!(dir.join("index.html").exists());
    let out = mast(&[
        "experiment",
        "prune",
        "--train",
        &shipped("a5a.gz"),
        "--q",
        "0.3",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--test"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `mast experiment curves` and `grid` run from config files; a bad config names
/// the file and the setting.
#[test]
fn experiment_curves_and_grid_from_configs() {
    let dir = tmp("exp-configs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = format!(
        "[data]\ntrain = \"{}\"\ntest = \"{}\"\n",
        shipped("a5a.gz"),
        shipped("a5a.t.gz")
    );
    let curves = dir.join("curves.toml");
    std::fs::write(
        &curves,
        format!(
            "name = \"tiny\"\nseeds = [1, 2]\nsteps = 40\neval_every = 10\n{data}\n\
             [[methods]]\nlabel = \"GD\"\nmethod = \"gd\"\n\n\
             [[methods]]\nlabel = \"Rand-K 0.5\"\nsketch = \"rand-k:0.5\"\n"
        ),
    )
    .unwrap();
    let out = dir.join("curves-out");
    let o = mast(&[
        "experiment",
        "curves",
        "--config",
        curves.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("curves.csv").exists() && out.join("index.html").exists());
    let grid = dir.join("grid.toml");
    std::fs::write(
        &grid,
        format!(
            "name = \"tiny\"\nsteps = 30\ngammas = [0.1, 1e4]\n{data}\n\
             [[panels]]\nlabel = \"Rand-K\"\nmethod = \"dsgd\"\nsketch_kind = \"rand-k\"\nsparsities = [0.5]\n"
        ),
    )
    .unwrap();
    let out = dir.join("grid-out");
    let o = mast(&[
        "experiment",
        "grid",
        "--config",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("grid.csv")).unwrap();
    assert!(
        csv.contains("converged") && csv.contains("diverged"),
        "{csv}"
    );
    std::fs::write(&grid, "name = \"x\"\nstepz = 3\n").unwrap();
    let o = mast(&["experiment", "grid", "--config", grid.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("grid.toml") && stderr(&o).contains("stepz"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_registered_sketches_are_listed_by_the_help_and_mast_sketches() {
    let out = mast(&["sketches"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    let help = mast(&["train", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let theory = mast(&["theory", "--help"]);
    let theory = String::from_utf8_lossy(&theory.stdout).to_string();
    for e in mast::sketch::registry::registered() {
        assert!(list.contains(e.usage) && list.contains(e.about), "{list}");
        assert!(help.contains(e.usage), "{help}");
        assert!(theory.contains(e.usage), "{theory}");
    }
}
