//! `mast data synth` end to end: the files named as documented, the same bytes for any
//! thread count, `mast erm` runs on them, and bad flags give one clear error line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mast"))
        .args(args)
        .output()
        .expect("the mast binary runs")
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mast-cli-synth-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn synth(dir: &Path, threads: &str) -> Output {
    let out = dir.to_str().unwrap();
    let o = mast(&[
        "data",
        "synth",
        "rcv1",
        "--scale",
        "0.01",
        "--nnz",
        "20",
        "--out",
        out,
        "--threads",
        threads,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn synth_writes_train_and_test_files_identical_for_any_thread_count() {
    let (one, two) = (fresh_dir("t1"), fresh_dir("t2"));
    let printed = String::from_utf8(synth(&one, "1").stdout).unwrap();
    synth(&two, "2");
    assert!(
        printed.contains("202 rows, d = 472, max index 472"),
        "{printed}"
    );
    for name in ["rcv1-like", "rcv1-like.t"] {
        let (a, b) = (
            std::fs::read(one.join(name)).unwrap(),
            std::fs::read(two.join(name)).unwrap(),
        );
        assert!(!a.is_empty());
        assert_eq!(a, b, "{name}");
    }
    let train = one.join("rcv1-like");
    let test = one.join("rcv1-like.t");
    let o = mast(&[
        "erm",
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("n = 202, d = 472"), "{text}");
    for dir in [one, two] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn synth_refuses_bad_flags_with_one_line() {
    let dir = fresh_dir("bad");
    let out = dir.to_str().unwrap();
    for (args, expected) in [
        (
            vec!["data", "synth", "news21", "--out", out],
            "unknown shape 'news21'",
        ),
        (
            vec!["data", "synth", "epsilon", "--nnz", "5", "--out", out],
            "dense",
        ),
        (
            vec![
                "data", "synth", "rcv1", "--cols", "10", "--nnz", "11", "--out", out,
            ],
            "nonzeros a row must be in 1..=cols (10)",
        ),
        (
            vec!["data", "synth", "url", "--scale", "0", "--out", out],
            "scale",
        ),
    ] {
        let o = mast(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            err.starts_with("error: ") && err.contains(expected),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    assert!(!dir.exists(), "nothing written on bad flags");
}
