//! Training: same seed ⇒ bit-identical metrics and parameters (acceptance 4),
//! learning on tiny synthetic data, divergence, pruning, and the nn-prune
//! experiment end to end on a tiny synthetic IDX data root.

mod common;

use common::*;
use mast_nn::config::NnPruneConfig;
use mast_nn::experiment::{run_nn_prune, Existing};
use mast_nn::mask::Method;
use mast_nn::model::{ArchConfig, HostParams, Model};
use mast_nn::prune::{prune_model, pruned_params, PruneSettings};
use mast_nn::train::{EpochMetrics, TrainSettings, Trainer};
use mast_nn::NnError;

fn settings(epochs: usize) -> TrainSettings {
    TrainSettings {
        epochs,
        batch: 16,
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 0.0,
        sketch_bias: false,
        neuron_fast: true,
        prefetch_masks: true,
        eval_limit: None,
        max_steps_per_epoch: None,
        device: Default::default(),
        threads: None,
    }
}

fn run(model: &Model, method: &str, seed: u64, epochs: usize) -> (Vec<EpochMetrics>, HostParams) {
    let train = synthetic_set(96, 6, 6, 3, 1);
    let test = synthetic_set(30, 6, 6, 3, 2);
    let mut t = Trainer::new(
        model,
        method.parse().unwrap(),
        &settings(epochs),
        seed,
        None,
        None,
    )
    .unwrap();
    let rows = t.train(&train, &test, |_| Ok(())).unwrap();
    (rows, t.params())
}

fn bits(rows: &[EpochMetrics]) -> Vec<[u64; 3]> {
    rows.iter()
        .map(|r| {
            [
                r.train_loss.to_bits(),
                r.test_loss.to_bits(),
                r.test_accuracy.to_bits(),
            ]
        })
        .collect()
}

#[test]
fn same_seed_gives_identical_metrics_and_parameters() {
    let mlp = Model::new(
        &ArchConfig::Mlp {
            hidden: vec![16, 8],
        },
        [1, 6, 6],
        3,
    )
    .unwrap();
    for method in [
        "erm",
        "dropout:0.3",
        "dropconnect:0.6",
        "bernoulli:0.5",
        "rand-k:0.5",
        "neuron:0.5",
    ] {
        let (a, pa) = run(&mlp, method, 7, 2);
        let (b, pb) = run(&mlp, method, 7, 2);
        assert_eq!(
            bits(&a),
            bits(&b),
            "{method}: metrics differ between identical runs"
        );
        assert_eq!(pa, pb, "{method}: parameters differ between identical runs");
        let (c, _) = run(&mlp, method, 8, 2);
        assert_ne!(
            bits(&a),
            bits(&c),
            "{method}: another seed should change the run"
        );
    }
    let cnn = Model::new(
        &ArchConfig::Cnn {
            channels: [2, 3],
            fc: 8,
        },
        [1, 6, 6],
        3,
    )
    .unwrap();
    let (a, _) = run(&cnn, "bernoulli:0.5", 3, 1);
    let (b, _) = run(&cnn, "bernoulli:0.5", 3, 1);
    assert_eq!(bits(&a), bits(&b));
}

/// Masks drawn on the helper thread are the ones drawn inline (also around a
/// shift, where the host forms the offsets `v ⊙ (1 − m)`), and the run does not
/// depend on the number of threads burn's kernels use.
#[test]
fn prefetched_inline_and_single_threaded_runs_are_identical() {
    let mlp = Model::new(
        &ArchConfig::Mlp {
            hidden: vec![16, 8],
        },
        [1, 6, 6],
        3,
    )
    .unwrap();
    let train = synthetic_set(96, 6, 6, 3, 1);
    let test = synthetic_set(30, 6, 6, 3, 2);
    let v = mlp.init(&mut mast::rng::stream(99, mast::rng::Stream::Init));
    let go = |method: &str, prefetch: bool, shift: Option<&HostParams>| {
        let mut s = settings(2);
        s.prefetch_masks = prefetch;
        let mut t = Trainer::new(&mlp, method.parse().unwrap(), &s, 4, shift, shift).unwrap();
        let rows = t.train(&train, &test, |_| Ok(())).unwrap();
        (bits(&rows), t.params())
    };
    for method in [
        "bernoulli:0.5",
        "dropconnect:0.7",
        "rand-k:0.3",
        "neuron:0.5",
    ] {
        for shift in [None, Some(&v)] {
            let a = go(method, true, shift);
            let b = go(method, false, shift);
            assert_eq!(
                a,
                b,
                "{method} (shift: {}): prefetched vs inline",
                shift.is_some()
            );
            let c = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap()
                .install(|| go(method, true, shift));
            assert_eq!(
                a,
                c,
                "{method} (shift: {}): 1 thread vs default",
                shift.is_some()
            );
        }
    }
}

#[test]
fn every_method_and_network_learns_the_synthetic_task() {
    let mlp = Model::new(&ArchConfig::Mlp { hidden: vec![16] }, [1, 6, 6], 3).unwrap();
    for method in [
        "erm",
        "dropout:0.3",
        "dropconnect:0.7",
        "bernoulli:0.7",
        "rand-k:0.7",
        "neuron:0.7",
    ] {
        let (rows, _) = run(&mlp, method, 1, 4);
        let (first, last) = (&rows[0], rows.last().unwrap());
        assert!(
            last.test_accuracy >= 0.9,
            "{method}: accuracy {} after training",
            last.test_accuracy
        );
        assert!(
            last.test_loss < first.test_loss,
            "{method}: test loss did not fall"
        );
        assert_eq!(last.step, 4 * 6);
    }
    for arch in [
        ArchConfig::Cnn {
            channels: [4, 4],
            fc: 8,
        },
        ArchConfig::ResNet {
            channels: vec![4, 4],
        },
    ] {
        let m = Model::new(&arch, [1, 6, 6], 3).unwrap();
        let (rows, _) = run(&m, "erm", 1, 15);
        assert!(
            rows.last().unwrap().test_accuracy >= 0.9,
            "{arch:?}: {rows:?}"
        );
    }
}

#[test]
fn divergence_stops_with_a_clear_error_and_keeps_the_rows() {
    let m = Model::new(&ArchConfig::Mlp { hidden: vec![16] }, [1, 6, 6], 3).unwrap();
    let train = synthetic_set(96, 6, 6, 3, 1);
    let mut s = settings(3);
    s.lr = 1e6;
    s.momentum = 0.0;
    let mut t = Trainer::new(&m, Method::Erm, &s, 1, None, None).unwrap();
    let mut seen = 0;
    let e = t.train(&train, &train, |_| {
        seen += 1;
        Ok(())
    });
    match e {
        Err(NnError::Diverged { epoch, loss, .. }) => {
            assert!(!loss.is_finite());
            assert!(epoch >= 1);
            assert!(
                seen >= 1,
                "the epoch-0 row was handed out before the failure"
            );
        }
        other => panic!("expected divergence, got {other:?}"),
    }
    let mut bad = settings(1);
    bad.lr = -1.0;
    assert!(Trainer::new(&m, Method::Erm, &bad, 1, None, None).is_err());
}

#[test]
fn pruning_keeps_the_right_fraction_and_is_paired_across_models() {
    let m = Model::new(&ArchConfig::Mlp { hidden: vec![10] }, [1, 6, 6], 3).unwrap();
    let x = m.init(&mut mast::rng::stream(1, mast::rng::Stream::Init));
    let d = 36 * 10 + 10 * 3;
    let sketch = mast::sketch::RandK::with_fraction(d, 0.3).unwrap();
    let mut draw = mast::sketch::SketchDraw::new();
    mast::sketch::Sketch::draw(
        &sketch,
        &mut mast::rng::stream(1, mast::rng::Stream::Prune),
        &mut draw,
    );
    for rescale in [false, true] {
        let p = pruned_params(&m, &x, None, &draw, rescale, false);
        let nonzero: usize = [0, 2]
            .iter()
            .map(|&i| p.values[i].iter().filter(|&&v| v != 0.0).count())
            .sum();
        assert_eq!(nonzero, 117, "round(0.3 · 390) weights kept");
        assert_eq!(p.values[1], x.values[1], "biases untouched");
        let c = if rescale { 390.0 / 117.0 } else { 1.0 };
        for (a, b) in p.values[0].iter().zip(&x.values[0]) {
            assert!(*a == 0.0 || (a - c * b).abs() < 1e-6);
        }
    }
    // With a shift, dropped entries fall back to v.
    let v = m.init(&mut mast::rng::stream(2, mast::rng::Stream::Init));
    let p = pruned_params(&m, &x, Some(&v), &draw, false, false);
    let back_to_v = p.values[0]
        .iter()
        .zip(&v.values[0])
        .filter(|(a, b)| a == b)
        .count();
    assert!(back_to_v >= 360 - 117);
    let test = synthetic_set(30, 6, 6, 3, 2);
    let s = PruneSettings {
        q: vec![0.2, 1.0],
        masks: 3,
        ..Default::default()
    };
    let r1 = prune_model(&m, &x, None, &test, &s, 5).unwrap();
    let r2 = prune_model(&m, &x, None, &test, &s, 5).unwrap();
    assert_eq!(r1, r2);
    assert_eq!(r1.len(), 6);
    assert!(
        r1[3..]
            .iter()
            .all(|r| r.test_accuracy == r1[3].test_accuracy),
        "q = 1 keeps everything"
    );
    assert!(prune_model(
        &m,
        &x,
        None,
        &test,
        &PruneSettings {
            q: vec![1.5],
            ..Default::default()
        },
        5
    )
    .is_err());
}

#[test]
fn nn_prune_experiment_writes_its_run_folder() {
    let dir = temp_dir("experiment");
    synthetic_mnist_root(&dir, 120, 40, 6);
    let cfg_text = format!(
        r#"
name = "tiny"
seeds = [1, 2]
methods = ["erm", "dropout:0.2", "bernoulli:0.7", "neuron:0.7"]

[data]
dataset = "mnist"
root = "{root}"

[model]
arch = "mlp"
hidden = [12]

[train]
epochs = 2
batch = 16
lr = 0.05
momentum = 0.9

[prune]
q = [0.3, 0.7]
masks = 2

[shift]
epochs = 1
"#,
        root = dir.display()
    );
    let cfg_path = dir.join("tiny.toml");
    std::fs::write(&cfg_path, &cfg_text).unwrap();
    let cfg = NnPruneConfig::read(&cfg_path).unwrap();
    let out = dir.join("runs").join("tiny");
    let mut lines = Vec::new();
    let summary = run_nn_prune(&cfg, &out, Existing::Refuse, &mut |l: &str| {
        lines.push(l.to_string())
    })
    .unwrap();
    assert_eq!(summary.methods.len(), 4);
    assert!(summary.shifted);
    for f in [
        "config.toml",
        "summary.json",
        "report.md",
        "curves.csv",
        "curves_summary.csv",
        "prune.csv",
        "prune_summary.csv",
        "prune_summary.md",
        "runs/bernoulli-0.7/seed-2/metrics.csv",
        "runs/bernoulli-0.7/seed-2/summary.json",
        "runs/bernoulli-0.7/seed-2/model.bin",
        "shift/seed-1/model.bin",
        "index.html",
        "figures/prune_boxplot.png",
        "figures/prune_boxplot.svg",
        "figures/prune_medians.png",
        "figures/curves_test_accuracy.png",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("data:image/png;base64,") && html.contains("experiment nn-prune"));
    let prune = std::fs::read_to_string(out.join("prune.csv")).unwrap();
    assert!(prune.starts_with("q,method,seed,mask,test_accuracy"));
    assert_eq!(prune.lines().count(), 1 + 4 * 2 * 2 * 2);
    let curves = std::fs::read_to_string(out.join("curves.csv")).unwrap();
    assert_eq!(curves.lines().count(), 1 + 4 * 2 * 3);
    let model_bytes = std::fs::read(out.join("runs/erm/seed-1/model.bin")).unwrap();
    let p = HostParams::from_bytes(&model_bytes, &out).unwrap();
    assert_eq!(p.values.len(), 4);
    // The resolved config reads back.
    let again = NnPruneConfig::read(&out.join("config.toml")).unwrap();
    assert_eq!(again.methods, cfg.methods);
    // A second run refuses the folder unless told to replace it.
    let e = run_nn_prune(&cfg, &out, Existing::Refuse, &mut |_: &str| {}).unwrap_err();
    assert!(e.to_string().contains("--force"), "{e}");
}

#[test]
fn config_errors_are_clear() {
    let p = std::path::Path::new("bad.toml");
    let base = r#"name = "x"
seeds = [1]
methods = ["erm"]
[data]
dataset = "mnist"
[train]
epochs = 1
lr = 0.1
"#;
    assert!(NnPruneConfig::from_toml(base, p).unwrap().check().is_ok());
    let e = NnPruneConfig::from_toml(&base.replace("\"erm\"", "\"bernoulli:2\""), p).unwrap_err();
    assert!(e.to_string().contains("bernoulli:2"), "{e}");
    let e = NnPruneConfig::from_toml(&base.replace("mnist", "cifar"), p).unwrap_err();
    assert!(e.to_string().contains("bad.toml"), "{e}");
    let e = NnPruneConfig::from_toml(&base.replace("lr = 0.1", "lr = 0.1\nlearning_rate = 1"), p)
        .unwrap_err();
    assert!(e.to_string().contains("learning_rate"), "{e}");
    let c = NnPruneConfig::from_toml(&base.replace("[1]", "[]"), p).unwrap();
    assert!(c.check().is_err());
}

#[test]
fn a_gpu_device_missing_from_the_build_is_a_clear_error() {
    use mast_nn::device::DeviceChoice;
    let m = Model::new(&ArchConfig::Mlp { hidden: vec![8] }, [1, 6, 6], 3).unwrap();
    for device in [DeviceChoice::Cuda(0), DeviceChoice::Wgpu] {
        let mut s = settings(1);
        s.device = device;
        let built = Trainer::new(&m, Method::Erm, &s, 1, None, None);
        let compiled_in = (cfg!(feature = "cuda") && device == DeviceChoice::Cuda(0))
            || (cfg!(feature = "wgpu") && device == DeviceChoice::Wgpu);
        if !compiled_in {
            let err = built.unwrap_err().to_string();
            assert!(
                err.contains("train.device") && err.contains("--features mast-cli/"),
                "{err}"
            );
        }
    }
    // And a config names it as a string.
    let s: TrainSettings = toml::from_str("epochs = 1\nlr = 0.1\ndevice = \"cuda:2\"").unwrap();
    assert_eq!(s.device, DeviceChoice::Cuda(2));
    let err = toml::from_str::<TrainSettings>("epochs = 1\nlr = 0.1\ndevice = \"tpu\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown device `tpu`"), "{err}");
}

/// `[train] threads` (the step's rayon pool) changes nothing in the results: the
/// same rows and parameters, bit for bit, on 1, 2 and 3 threads and with the
/// per-model default, for an MLP whose products are large enough for burn's
/// kernels to split them over threads (128 × 256 × 256) and for a conv net.
#[test]
fn the_step_threads_do_not_change_the_results() {
    let train = synthetic_set(384, 6, 6, 3, 1);
    let test = synthetic_set(30, 6, 6, 3, 2);
    let mlp = Model::new(
        &ArchConfig::Mlp {
            hidden: vec![256, 256],
        },
        [1, 6, 6],
        3,
    )
    .unwrap();
    let cnn = Model::new(
        &ArchConfig::Cnn {
            channels: [4, 4],
            fc: 8,
        },
        [1, 6, 6],
        3,
    )
    .unwrap();
    for (model, method) in [
        (&mlp, "erm"),
        (&mlp, "bernoulli:0.5"),
        (&mlp, "neuron:0.5"),
        (&mlp, "dropout:0.5"),
        (&cnn, "erm"),
    ] {
        let go = |threads: Option<usize>| {
            let s = TrainSettings {
                batch: 128,
                threads,
                ..settings(2)
            };
            let mut t = Trainer::new(model, method.parse().unwrap(), &s, 5, None, None).unwrap();
            let rows = t.train(&train, &test, |_| Ok(())).unwrap();
            (bits(&rows), t.params())
        };
        let auto = go(None);
        for n in [1, 2, 3] {
            assert_eq!(go(Some(n)), auto, "{method}: {n} thread(s) vs the default");
        }
    }
    let zero = TrainSettings {
        threads: Some(0),
        ..settings(1)
    };
    assert!(zero.check().is_err());
}

/// The per-model default: one thread for MLPs under 1 GFLOP a step (the MNIST
/// MLP 784-256-256-10 at batch 128), the caller's pool for larger MLPs and for
/// the conv nets; `[train] threads` in a config overrides it.
#[test]
fn auto_threads_follows_the_flops_of_a_step() {
    use mast_nn::train::auto_threads;
    let mlp =
        |hidden: Vec<usize>| Model::new(&ArchConfig::Mlp { hidden }, [1, 28, 28], 10).unwrap();
    assert_eq!(auto_threads(&mlp(vec![256, 256]), 128), Some(1));
    assert_eq!(auto_threads(&mlp(vec![1024, 1024]), 128), None);
    assert_eq!(auto_threads(&mlp(vec![256, 256]), 1024), None);
    let resnet = Model::new(
        &ArchConfig::ResNet {
            channels: vec![16, 32],
        },
        [1, 28, 28],
        10,
    )
    .unwrap();
    assert_eq!(auto_threads(&resnet, 128), None);
    let s: TrainSettings = toml::from_str("epochs = 1\nlr = 0.1\nthreads = 2\n").unwrap();
    assert_eq!(s.threads, Some(2));
    let s: TrainSettings = toml::from_str("epochs = 1\nlr = 0.1\n").unwrap();
    assert_eq!(s.threads, None);
}
