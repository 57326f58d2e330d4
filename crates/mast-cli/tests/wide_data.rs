//! Issue 14's large-d acceptance files through the `mast` binary: one row with
//! feature index 3,000,000,000, and two rows whose largest index is 5·10⁷. Each
//! gives one clear error line (or a run), never an abort, a backtrace or a kill.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A fresh folder for one test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mast-wide-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mast(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mast"));
    cmd.args(args).env("MAST_NO_CACHE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the mast binary runs")
}

/// Checks a failure with exactly one line on stderr, `error: ` first, containing `words`.
fn one_error_line(o: &Output, words: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "succeeded: {err}");
    assert_eq!(o.status.code(), Some(1), "not a clean exit: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for w in words {
        assert!(lines[0].contains(w), "`{err}` lacks `{w}`");
    }
    err
}

#[test]
fn feature_index_3e9_is_refused_at_its_line() {
    let tmp = TempDir::new("3e9");
    let file = tmp.0.join("wide.svm");
    std::fs::write(&file, "+1 1:1\n-1 2:0.5 3000000000:1\n").unwrap();
    let f = file.to_str().unwrap();
    let out = tmp.0.join("run");
    let place = format!("{f}:2: feature index 3000000000 makes d = 3e9");
    // Whatever this machine's memory, a limit below three 3e9-vectors (72 GB).
    let env = [("MAST_MEMORY_LIMIT", "64G")];
    one_error_line(
        &mast(&["erm", "--train", f], &env),
        &[&place, "the model alone needs"],
    );
    one_error_line(
        &mast(
            &[
                "train",
                "--train",
                f,
                "--steps",
                "10",
                "--out",
                out.to_str().unwrap(),
                "--quiet",
            ],
            &env,
        ),
        &[&place, "more than this machine's memory ("],
    );
}

#[test]
fn two_rows_with_index_5e7() {
    let tmp = TempDir::new("5e7");
    let file = tmp.0.join("two.svm");
    std::fs::write(&file, "+1 1:1 7:0.5\n-1 3:2 50000000:1\n").unwrap();
    let f = file.to_str().unwrap();
    let out = tmp.0.join("run");
    // mast train: refused before its vectors of d are allocated (their 13 GB
    // would be spent on columns no row uses).
    one_error_line(
        &mast(
            &[
                "train",
                "--train",
                f,
                "--steps",
                "10",
                "--out",
                out.to_str().unwrap(),
                "--quiet",
            ],
            &[],
        ),
        &[
            "rows use only 4 of its 5e7 columns",
            "renumber the features",
        ],
    );
    assert!(!out.join("summary.json").exists());
    // mast erm solves on the 4 used columns: a fast run, even under a 2 GB limit.
    let start = std::time::Instant::now();
    let o = mast(&["erm", "--train", f], &[("MAST_MEMORY_LIMIT", "2G")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("f*"), "{err}");
    assert!(start.elapsed().as_secs_f64() < 30.0);
}
