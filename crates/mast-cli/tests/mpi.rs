//! Algorithm 2 over MPI, end to end: `mpirun -np M mast train --engine mpi` gives
//! the in-process engine's metrics bit for bit, and a rank that dies ends the
//! job within 30 s. Needs `mpirun` (Debian: openmpi-bin) and a build with
//! `--features mpi`:
//!
//! ```sh
//! cargo test -p mast-cli --features mpi --test mpi
//! ```
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn shipped(name: &str) -> String {
    format!("{}/../../data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("mast-mpi-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// `mpirun` with the flags a test machine needs (root in containers, fewer cores than ranks).
fn mpirun(np: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.args([
        "--allow-run-as-root",
        "--oversubscribe",
        "-np",
        &np.to_string(),
    ]);
    // Single-threaded nodes: M ranks on a small machine.
    c.env("RAYON_NUM_THREADS", "1");
    c
}

fn mast() -> &'static str {
    env!("CARGO_BIN_EXE_mast")
}

fn run(mut c: Command) -> Output {
    let out = c.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{c:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The shared flags of a distributed run on the shipped a5a data.
fn train_args(out: &Path, m: usize, steps: u64, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "train",
        "--train",
        &shipped("a5a.gz"),
        "--test",
        &shipped("a5a.t.gz"),
        "--method",
        "distributed",
        "--nodes",
        &m.to_string(),
        "--steps",
        &steps.to_string(),
        "--eval-every",
        "25",
        "--seed",
        "11",
        "--quiet",
        "--force",
        "--out",
        &out.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// metrics.csv without the wall-time column: (header, rows).
fn metrics_without_time(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).expect("metrics.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let t = header
        .iter()
        .position(|h| *h == "wall_time_s")
        .expect("a wall_time_s column");
    std::iter::once(header.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .chain(lines.map(|l| l.split(',').map(str::to_string).collect()))
        .map(|mut row: Vec<String>| {
            row.remove(t);
            row
        })
        .collect()
}

fn traffic(dir: &Path) -> serde_json::Value {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let mut t = s["traffic"].clone();
    t.as_object_mut().expect("traffic").remove("mpi_bytes");
    t
}

fn compare(m: usize, name: &str, extra: &[&str]) {
    let ip = tmp(&format!("{name}-{m}-inprocess"));
    let mp = tmp(&format!("{name}-{m}-mpi"));
    let mut c = Command::new(mast());
    c.args(train_args(&ip, m, 300, extra));
    run(c);
    let mut c = mpirun(m);
    c.arg(mast())
        .args(train_args(&mp, m, 300, extra))
        .args(["--engine", "mpi"]);
    let out = run(c);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(M = "), "{stdout}");
    assert!(stdout.contains(", mpi)"), "the mpi engine ran: {stdout}");
    assert!(
        stdout.contains("bytes per round actually crossed"),
        "{stdout}"
    );
    let (a, b) = (metrics_without_time(&ip), metrics_without_time(&mp));
    assert_eq!(a.len(), 300 / 25 + 2, "{name}: rows");
    assert_eq!(a, b, "{name}, M = {m}: in-process and MPI metrics differ");
    assert_eq!(traffic(&ip), traffic(&mp), "{name}, M = {m}: traffic");
    // Only rank 0 writes: the run folder holds one run's files and nothing else.
    let mut files: Vec<String> = std::fs::read_dir(&mp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    files.sort();
    assert!(files.contains(&"summary.json".to_string()), "{files:?}");
    let _ = std::fs::remove_dir_all(&ip);
    let _ = std::fs::remove_dir_all(&mp);
}

/// Acceptance 1: 2 and 4 ranks, Perm-K and Bernoulli minibatches: identical metrics.
#[test]
fn mpi_metrics_equal_in_process_bit_for_bit() {
    for m in [2, 4] {
        let permk = format!("perm-k:{m}");
        compare(m, "permk", &["--sketch", &permk]);
        compare(
            m,
            "bernoulli",
            &[
                "--sketch",
                "bernoulli:0.5",
                "--variant",
                "minibatch",
                "--batch",
                "32",
            ],
        );
    }
}

/// A run checkpointed and resumed under MPI (minibatch samplers live on the
/// ranks) equals one uninterrupted in-process run.
#[test]
fn mpi_resume_equals_one_in_process_run() {
    let ip = tmp("resume-inprocess");
    let mp = tmp("resume-mpi");
    let extra = [
        "--sketch",
        "bernoulli:0.5",
        "--variant",
        "minibatch",
        "--batch",
        "16",
    ];
    let mut c = Command::new(mast());
    c.args(train_args(&ip, 2, 300, &extra));
    run(c);
    let mut c = mpirun(2);
    c.arg(mast())
        .args(train_args(&mp, 2, 150, &extra))
        .args(["--engine", "mpi"]);
    run(c);
    let mut c = mpirun(2);
    c.arg(mast()).args([
        "train",
        "--resume",
        &mp.display().to_string(),
        "--steps",
        "300",
        "--quiet",
    ]);
    run(c);
    assert_eq!(metrics_without_time(&ip), metrics_without_time(&mp));
    // A resume that would change the run is refused on every rank, rank 0 saying why
    // (once), and the folder is left as it was; so is one with another number of ranks.
    let before = std::fs::read(mp.join("metrics.csv")).unwrap();
    for (np, flags, says) in [
        (
            2,
            ["--lambda", "0.1"],
            "objective.lambda (--lambda): \"1/n\" in the run, 0.1 now",
        ),
        (
            3,
            ["--steps", "400"],
            "distributed.nodes (--nodes): 2 in the run, 3 now",
        ),
    ] {
        let mut c = mpirun(np);
        c.arg(mast())
            .args(["train", "--resume", &mp.display().to_string(), "--quiet"])
            .args(flags);
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains(says), "{err}");
        assert_eq!(err.matches("cannot resume the run").count(), 1, "{err}");
        assert_eq!(std::fs::read(mp.join("metrics.csv")).unwrap(), before);
    }
    let _ = std::fs::remove_dir_all(&ip);
    let _ = std::fs::remove_dir_all(&mp);
}

/// Per-node files (`{rank}` in the training path): each rank reads only its own
/// file (after its own validation holdout); rank 0 evaluates on their union.
#[test]
fn per_node_files_run_and_report() {
    let dir = tmp("parts");
    std::fs::create_dir_all(&dir).unwrap();
    // Two node files cut from a small LIBSVM text.
    let rows = |label: &str, k: usize| -> String {
        (0..40)
            .map(|i| {
                format!(
                    "{label} {}:1 {}:0.5\n",
                    1 + (i + k) % 7,
                    8 + (i * 3 + k) % 5
                )
            })
            .collect()
    };
    std::fs::write(dir.join("part-0.svm"), rows("+1", 0) + &rows("-1", 1)).unwrap();
    std::fs::write(dir.join("part-1.svm"), rows("-1", 2) + &rows("+1", 3)).unwrap();
    let out = dir.join("run");
    let mut c = mpirun(2);
    c.arg(mast()).args([
        "train",
        "--engine",
        "mpi",
        "--train",
        &dir.join("part-{rank}.svm").display().to_string(),
        "--nodes",
        "2",
        "--sketch",
        "perm-k:2",
        "--steps",
        "50",
        "--quiet",
        "--out",
        &out.display().to_string(),
    ]);
    let o = run(c);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("144 train / 16 validation"), "{stdout}");
    assert!(out.join("summary.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The pids of `parent`'s children whose environment says MPI rank `rank`.
fn rank_pid(parent: u32, rank: usize) -> Option<u32> {
    let want = format!("OMPI_COMM_WORLD_RANK={rank}");
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let after = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
        let ppid: u32 = after
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if ppid != parent {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if env.split(|&b| b == 0).any(|v| v == want.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

/// Waits for `child` at most `limit`; kills it (and fails) past that.
fn wait_within(child: &mut Child, limit: Duration) -> (std::process::ExitStatus, Duration) {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return (s, t0.elapsed());
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("the job did not end within {limit:?} after a rank died");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn long_run(out: &Path, m: usize) -> Command {
    let mut c = mpirun(m);
    c.arg(mast())
        .args(train_args(
            out,
            m,
            100_000_000,
            &["--sketch", &format!("perm-k:{m}")],
        ))
        .args(["--engine", "mpi"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Acceptance 3 (deterministic): rank 1 exits at round 200 without a word; the
/// others end with an error within 30 s, and the run folder keeps its config.
#[test]
fn a_rank_that_exits_ends_the_job_with_an_error() {
    let out = tmp("die");
    let mut c = long_run(&out, 2);
    c.env("MAST_TEST_DIE_AT_ROUND", "200");
    let mut child = c.spawn().expect("mpirun starts");
    let (status, took) = wait_within(&mut child, Duration::from_secs(60));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    eprintln!("rank 1 exited; the job ended in {took:?} (status {status})");
    assert!(!status.success(), "{err}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(err.contains("exiting at round 200"), "{err}");
    assert!(out.join("config.toml").exists());
    let _ = std::fs::remove_dir_all(&out);
}

/// Acceptance 3 (a real crash): `kill -9` of rank 1 mid-run ends the job within 30 s.
#[test]
fn killing_a_rank_ends_the_job_within_30_s() {
    let out = tmp("kill");
    let mut child = long_run(&out, 2).spawn().expect("mpirun starts");
    // Wait until the run is under way (rank 0 wrote its config), then kill rank 1.
    let t0 = Instant::now();
    let pid = loop {
        if out.join("config.toml").exists() {
            if let Some(pid) = rank_pid(child.id(), 1) {
                break pid;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the run did not start"
        );
        assert!(child.try_wait().unwrap().is_none(), "mpirun ended early");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (status, took) = wait_within(&mut child, Duration::from_secs(60));
    eprintln!("rank 1 (pid {pid}) killed; the job ended in {took:?} (status {status})");
    assert!(!status.success());
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(out.join("config.toml").exists());
    let _ = std::fs::remove_dir_all(&out);
}
