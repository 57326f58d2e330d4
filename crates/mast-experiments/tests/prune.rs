//! The pruning experiment: reproducible CSVs, paired masks, the rescaling
//! option, and clear errors for bad settings.

use std::path::PathBuf;

use mast_experiments::common::{DataSettings, Silent};
use mast_experiments::prune::{run_prune, PruneConfig, PruneSketch};

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(format!("{}/../../data/{name}", env!("CARGO_MANIFEST_DIR")))
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("mast-prune-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn small() -> PruneConfig {
    let mut cfg = PruneConfig::new(DataSettings::new(shipped("a5a.gz"), shipped("a5a.t.gz")));
    cfg.q = vec![0.2, 0.5];
    cfg.masks = 15;
    cfg.steps = 200;
    cfg.eval_every = 20;
    cfg
}

#[test]
fn same_seed_reproduces_the_csvs_and_masks_are_paired() {
    let cfg = small();
    let (a, b) = (tmp("a"), tmp("b"));
    let out = run_prune(&cfg, &a, &Silent).unwrap();
    run_prune(&cfg, &b, &Silent).unwrap();
    for f in ["prune.csv", "prune_summary.csv", "models.csv"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert_eq!(x, y, "{f} differs between two runs with the same seed");
    }
    let csv = std::fs::read_to_string(a.join("prune.csv")).unwrap();
    assert!(
        csv.starts_with("q,method,mask,kept,test_accuracy\n"),
        "{csv}"
    );
    assert_eq!(out.rows.len(), 2 * 15 * 2);
    // Rand-K keeps exactly round(q d) weights; ERM and MAST see the same masks.
    let d = 123;
    for r in &out.rows {
        assert_eq!(r.kept, (r.q * d as f64).round() as usize);
        assert!((0.0..=1.0).contains(&r.test_accuracy));
    }
    for q in [0.2, 0.5] {
        let erm: Vec<_> = out
            .rows
            .iter()
            .filter(|r| r.q == q && r.method == "erm")
            .collect();
        let mast: Vec<_> = out
            .rows
            .iter()
            .filter(|r| r.q == q && r.method == "mast")
            .collect();
        assert_eq!(erm.len(), 15);
        assert!(erm
            .iter()
            .zip(&mast)
            .all(|(e, m)| e.mask == m.mask && e.kept == m.kept));
    }
    // A different seed gives different masks.
    let mut other = cfg.clone();
    other.seed += 1;
    let c = tmp("c");
    run_prune(&other, &c, &Silent).unwrap();
    assert_ne!(
        std::fs::read(a.join("prune.csv")).unwrap(),
        std::fs::read(c.join("prune.csv")).unwrap()
    );
    for f in [
        "index.html",
        "figures/prune_boxplot.png",
        "figures/prune_boxplot.svg",
        "config.toml",
    ] {
        assert!(a.join(f).exists(), "{f}");
    }
    let html = std::fs::read_to_string(a.join("index.html")).unwrap();
    assert!(html.contains("data:image/png;base64,") && html.contains("experiment prune --config"));
    // The summary has one row per (q, method) with ordered quartiles.
    assert_eq!(out.summary.len(), 4);
    for (_, _, s) in &out.summary {
        assert!(s.min <= s.q1 && s.q1 <= s.median && s.median <= s.q3 && s.q3 <= s.max);
    }
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn rescaling_does_not_change_a_linear_classifier_without_bias() {
    // sign(aᵀ(c x∘m)) = sign(aᵀ(x∘m)) for c > 0: the documented equivalence.
    let mut cfg = small();
    cfg.q = vec![0.3];
    cfg.sketch = PruneSketch::bernoulli();
    let (a, b) = (tmp("plain"), tmp("rescaled"));
    let plain = run_prune(&cfg, &a, &Silent).unwrap();
    cfg.rescale = true;
    let rescaled = run_prune(&cfg, &b, &Silent).unwrap();
    let acc = |o: &mast_experiments::prune::PruneOutcome| {
        o.rows.iter().map(|r| r.test_accuracy).collect::<Vec<_>>()
    };
    assert_eq!(acc(&plain), acc(&rescaled));
    // Bernoulli masks keep a random number of weights.
    let kept: Vec<usize> = plain.rows.iter().map(|r| r.kept).collect();
    assert!(kept.iter().any(|&k| k != kept[0]));
    for d in [a, b] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn bad_settings_are_named() {
    let out = tmp("bad");
    let mut cfg = small();
    cfg.q = vec![0.5, 1.5];
    let err = run_prune(&cfg, &out, &Silent).unwrap_err().to_string();
    assert!(err.contains("`q`") && err.contains("1.5"), "{err}");
    let mut cfg = small();
    cfg.masks = 0;
    assert!(run_prune(&cfg, &out, &Silent)
        .unwrap_err()
        .to_string()
        .contains("masks"));
    let mut cfg = small();
    cfg.data.test = shipped("missing.t");
    let err = run_prune(&cfg, &out, &Silent).unwrap_err().to_string();
    assert!(err.contains("missing.t"), "{err}");
    let path = tmp("cfg.toml");
    std::fs::write(
        &path,
        "masks = 3\nmaks = 4\n[data]\ntrain = \"a\"\ntest = \"b\"\n",
    )
    .unwrap();
    let err = PruneConfig::load(&path).unwrap_err().to_string();
    assert!(err.contains("maks") && err.contains("cfg.toml"), "{err}");
}

#[test]
fn compare_trains_one_more_model_per_template_pruned_by_the_same_masks() {
    let mut cfg = small();
    cfg.q = vec![0.5];
    cfg.sketch = PruneSketch::bernoulli();
    cfg.compare = vec!["gaussian:p={q}".into(), "hadamard:bernoulli:{q}".into()];
    let out = run_prune(&cfg, &tmp("compare"), &Silent).unwrap();
    let methods = [
        "erm",
        "mast",
        "mast gaussian:p=q",
        "mast hadamard:bernoulli:q",
    ];
    for m in methods {
        let rows: Vec<_> = out.rows.iter().filter(|r| r.method == m).collect();
        assert_eq!(rows.len(), 15, "{m}: one row per mask");
        assert!(
            out.models.iter().any(|r| r.method == m),
            "{m} has no model row"
        );
    }
    // The same masks for every model: the kept counts agree mask by mask.
    for mask in 0..15 {
        let kept: Vec<usize> = methods
            .iter()
            .map(|m| {
                out.rows
                    .iter()
                    .find(|r| r.method == *m && r.mask == mask)
                    .unwrap()
                    .kept
            })
            .collect();
        assert!(
            kept.windows(2).all(|w| w[0] == w[1]),
            "mask {mask}: {kept:?}"
        );
    }
    // A template without `{q}`, or one that does not parse, is named.
    for (bad, what) in [("gaussian:1", "{q}"), ("nosuch:{q}", "unknown sketch")] {
        let mut c = small();
        c.compare = vec![bad.into()];
        let err = c.check().unwrap_err().to_string();
        assert!(err.contains("compare") && err.contains(what), "{err}");
    }
}
