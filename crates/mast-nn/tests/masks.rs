//! Masks: scales, unbiasedness, DropConnect unscaled, Rand-K exact counts,
//! neuron-level structure, and the neuron fast forward against the dense one.

use burn::tensor::{Tensor, TensorData};
use mast::rng::{stream, Stream};
use mast_nn::burn;
use mast_nn::mask::{fill_bernoulli, ActHook, MaskSampler, Method, ParamMask};
use mast_nn::model::{tensor_to_vec, ArchConfig, HostParams, Model, ParamKind};
use mast_nn::train::{batch_tensors, cpu, masked_loss, DeviceMasks, TrainSettings, Trainer};

fn mlp(d_in: usize, hidden: Vec<usize>, classes: usize) -> Model {
    Model::new(&ArchConfig::Mlp { hidden }, [1, 1, d_in], classes).unwrap()
}

fn dense(m: &ParamMask) -> &[f32] {
    match m {
        ParamMask::Dense(v) => v,
        ParamMask::Identity => panic!("expected a dense mask"),
    }
}

#[test]
fn method_specs_round_trip_and_reject_bad_values() {
    for s in [
        "erm",
        "dropout:0.5",
        "dropconnect:0.25",
        "bernoulli:0.5",
        "rand-k:0.1",
        "neuron:0.75",
    ] {
        let m: Method = s.parse().unwrap();
        assert_eq!(m.to_string(), s);
    }
    for bad in [
        "bernoulli:0",
        "bernoulli:1.5",
        "dropout:1",
        "rand-k",
        "neuron:x",
        "magic:0.5",
        "erm:1",
    ] {
        assert!(bad.parse::<Method>().is_err(), "{bad} should be rejected");
    }
    assert!(!"dropout:0.5".parse::<Method>().unwrap().is_mast());
    assert!("neuron:0.5".parse::<Method>().unwrap().is_mast());
}

#[test]
fn fast_bernoulli_has_the_right_rate() {
    let mut rng = stream(1, Stream::Sketch);
    let mut m = vec![0.0f32; 200_001];
    fill_bernoulli(&mut rng, 0.3, 2.0, &mut m);
    assert!(m.iter().all(|&v| v == 0.0 || v == 2.0));
    let kept = m.iter().filter(|&&v| v > 0.0).count() as f64 / m.len() as f64;
    assert!((kept - 0.3).abs() < 0.005, "kept fraction {kept}");
    fill_bernoulli(&mut rng, 1.0, 1.0, &mut m);
    assert!(m.iter().all(|&v| v == 1.0));
}

#[test]
fn bernoulli_masks_are_scaled_and_unbiased_dropconnect_is_not() {
    let model = mlp(300, vec![200], 10);
    let specs = model.specs();
    let mut rng = stream(3, Stream::Sketch);
    let mut s = MaskSampler::new("bernoulli:0.4".parse().unwrap(), specs, false, true).unwrap();
    let masks = s.sample(&mut rng).unwrap();
    for (spec, m) in specs.iter().zip(&masks.params) {
        if spec.kind == ParamKind::Bias {
            assert_eq!(
                *m,
                ParamMask::Identity,
                "biases are not sketched by default"
            );
            continue;
        }
        let v = dense(m);
        assert!(
            v.iter().all(|&x| x == 0.0 || x == 2.5),
            "entries are 0 or 1/p"
        );
        if spec.numel() > 10_000 {
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
            assert!((mean - 1.0).abs() < 0.03, "E[mask] ≈ 1, got {mean}");
        }
    }
    let mut s = MaskSampler::new("dropconnect:0.4".parse().unwrap(), specs, true, true).unwrap();
    let masks = s.sample(&mut rng).unwrap();
    let v = dense(&masks.params[0]);
    assert!(
        v.iter().all(|&x| x == 0.0 || x == 1.0),
        "DropConnect is unscaled"
    );
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    assert!(
        (mean - 0.4).abs() < 0.01,
        "E[DropConnect mask] = p, got {mean}"
    );
    assert!(
        matches!(masks.params[1], ParamMask::Dense(_)),
        "sketch_bias masks biases"
    );
}

#[test]
fn rand_k_keeps_exactly_k_per_tensor() {
    let model = mlp(50, vec![20], 3);
    let mut s =
        MaskSampler::new("rand-k:0.25".parse().unwrap(), model.specs(), false, true).unwrap();
    let mut rng = stream(5, Stream::Sketch);
    let masks = s.sample(&mut rng).unwrap();
    let w = dense(&masks.params[0]);
    assert_eq!(w.len(), 1000);
    assert_eq!(w.iter().filter(|&&x| x != 0.0).count(), 250);
    assert!(w.iter().all(|&x| x == 0.0 || x == 4.0));
    let again = s.sample(&mut rng).unwrap();
    assert_ne!(masks, again, "a fresh draw every step");
}

#[test]
fn neuron_masks_drop_whole_units_and_are_unbiased() {
    let model = mlp(6, vec![40, 30], 4);
    let specs = model.specs();
    let mut s = MaskSampler::new("neuron:0.5".parse().unwrap(), specs, false, true).unwrap();
    let mut rng = stream(9, Stream::Sketch);
    let mut sum = vec![0.0f64; specs[0].numel()];
    let draws = 2000;
    for _ in 0..draws {
        let m = s.sample(&mut rng).unwrap();
        let (kept, scale) = m.neurons.clone().unwrap();
        assert_eq!(scale, 2.0);
        assert!(kept[2].is_none(), "the output layer is never dropped");
        assert_eq!(m.params[4], ParamMask::Identity);
        assert_eq!(m.params[5], ParamMask::Identity);
        let w = dense(&m.params[0]);
        let b = dense(&m.params[1]);
        let units = kept[0].as_ref().unwrap();
        for j in 0..40 {
            let want = if units.contains(&j) { 2.0 } else { 0.0 };
            assert_eq!(b[j], want);
            for i in 0..6 {
                assert_eq!(w[i * 40 + j], want, "weight ({i}, {j}) follows its unit");
            }
        }
        for (a, &x) in sum.iter_mut().zip(w) {
            *a += x as f64;
        }
    }
    let mean = sum.iter().sum::<f64>() / (sum.len() * draws) as f64;
    assert!((mean - 1.0).abs() < 0.02, "E[mask] ≈ 1, got {mean}");
}

#[test]
fn same_seed_same_masks() {
    let model = mlp(8, vec![5], 3);
    let draw = |seed| {
        let mut s =
            MaskSampler::new("bernoulli:0.5".parse().unwrap(), model.specs(), true, true).unwrap();
        s.sample(&mut stream(seed, Stream::Sketch)).unwrap()
    };
    assert_eq!(draw(11), draw(11));
    assert_ne!(draw(11), draw(12));
}

#[test]
fn dropout_zeroes_at_the_drop_rate_and_rescales() {
    let dev = cpu();
    let h = Tensor::<2>::from_data(TensorData::new(vec![1.0f32; 50_000], [100, 500]), &dev);
    let mut rng = stream(2, Stream::Sketch);
    let out = tensor_to_vec(ActHook::dropout(0.2, &mut rng).apply(h.clone()));
    assert!(out.iter().all(|&x| x == 0.0 || (x - 1.25).abs() < 1e-6));
    let dropped = out.iter().filter(|&&x| x == 0.0).count() as f64 / out.len() as f64;
    assert!((dropped - 0.2).abs() < 0.01, "dropped fraction {dropped}");
    assert_eq!(tensor_to_vec(ActHook::none().apply(h)), vec![1.0; 50_000]);
}

#[test]
fn neuron_fast_forward_equals_dense_masked_forward() {
    let model = mlp(12, vec![16, 9], 5);
    let x = model.init(&mut stream(1, Stream::Init));
    let mut s =
        MaskSampler::new("neuron:0.5".parse().unwrap(), model.specs(), false, true).unwrap();
    let mut rng = stream(4, Stream::Sketch);
    let inputs: Vec<f32> = (0..7 * 12)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0)
        .collect();
    let labels = [0u8, 1, 2, 3, 4, 0, 1];
    let dev = cpu().autodiff();
    for _ in 0..5 {
        let masks = s.sample(&mut rng).unwrap();
        let mut fast_masks = masks.clone();
        fast_masks
            .params
            .iter_mut()
            .for_each(|m| *m = ParamMask::Identity);
        assert!(fast_masks.fast_neurons().is_some() && masks.fast_neurons().is_none());
        let run = |m: mast_nn::mask::StepMasks| {
            let p: Vec<Tensor<1>> = x
                .to_tensors(&dev)
                .into_iter()
                .map(|t| t.require_grad())
                .collect();
            let (xi, yi) = batch_tensors(&inputs, &labels, 5, &dev);
            let loss = masked_loss(
                &model,
                &p,
                None,
                &DeviceMasks::upload(m, &dev, true),
                &mut ActHook::none(),
                xi,
                yi,
            );
            let g = loss.backward();
            let grads = HostParams::from_tensors(
                &p.iter().map(|t| t.grad(&g).unwrap()).collect::<Vec<_>>(),
            );
            (loss.inner().into_scalar::<f64>(), grads)
        };
        let (l_dense, g_dense) = run(masks);
        let (l_fast, g_fast) = run(fast_masks);
        assert!(
            (l_dense - l_fast).abs() < 1e-5,
            "loss {l_dense} vs {l_fast}"
        );
        for (a, b) in g_dense.values.iter().zip(&g_fast.values) {
            for (u, v) in a.iter().zip(b) {
                assert!((u - v).abs() < 1e-5, "gradient {u} vs {v}");
            }
        }
    }
}

#[test]
fn neuron_dense_masks_follow_the_units_of_conv_and_linear_layers() {
    let model = Model::new(
        &ArchConfig::Cnn {
            channels: [3, 4],
            fc: 5,
        },
        [1, 8, 8],
        3,
    )
    .unwrap();
    let specs = model.specs();
    let mut s = MaskSampler::new("neuron:0.5".parse().unwrap(), specs, false, true).unwrap();
    let mut rng = stream(6, Stream::Sketch);
    for _ in 0..20 {
        let m = s.sample(&mut rng).unwrap();
        let (kept, scale) = m.neurons.clone().unwrap();
        for (spec, mask) in specs.iter().zip(&m.params) {
            match kept.get(spec.layer).and_then(|k| k.as_ref()) {
                Some(units) if spec.droppable => {
                    let v = dense(mask);
                    assert_eq!(v.len(), spec.numel());
                    for (i, &x) in v.iter().enumerate() {
                        let want = if units.contains(&spec.unit_of(i)) {
                            scale
                        } else {
                            0.0
                        };
                        assert_eq!(x, want, "{} [{i}]", spec.name);
                    }
                }
                _ => assert_eq!(*mask, ParamMask::Identity, "{}", spec.name),
            }
        }
    }
}

/// Around a shift, the trainer forms `m ⊙ x + v ⊙ (1 − m)` with a host-made
/// offset; it equals `v + m ⊙ (x − v)` (loss and gradient, up to f32 rounding).
#[test]
fn shifted_forward_with_host_offsets_equals_the_plain_formula() {
    let model = mlp(20, vec![16, 12], 4);
    let x = model.init(&mut stream(1, Stream::Init));
    let v = model.init(&mut stream(2, Stream::Init));
    let inputs: Vec<f32> = (0..9 * 20)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0)
        .collect();
    let labels = [0u8, 1, 2, 3, 0, 1, 2, 3, 0];
    let dev = cpu().autodiff();
    for (k, method) in ["bernoulli:0.7", "rand-k:0.4", "neuron:0.5"]
        .iter()
        .enumerate()
    {
        let mut s = MaskSampler::new(method.parse().unwrap(), model.specs(), true, true).unwrap();
        let masks = s.sample(&mut stream(k as u64, Stream::Sketch)).unwrap();
        let run = |dm: DeviceMasks| {
            let p: Vec<Tensor<1>> = x
                .to_tensors(&dev)
                .into_iter()
                .map(|t| t.require_grad())
                .collect();
            let vt = v.to_tensors(&cpu());
            let (xi, yi) = batch_tensors(&inputs, &labels, 4, &dev);
            let loss = masked_loss(&model, &p, Some(&vt), &dm, &mut ActHook::none(), xi, yi);
            let g = loss.backward();
            let grads = HostParams::from_tensors(
                &p.iter().map(|t| t.grad(&g).unwrap()).collect::<Vec<_>>(),
            );
            (loss.inner().into_scalar::<f64>(), grads)
        };
        let (l_plain, g_plain) = run(DeviceMasks::upload(masks.clone(), &dev, false));
        let (l_fused, g_fused) = run(DeviceMasks::upload_shifted(
            masks.clone(),
            Some(&v),
            &dev,
            false,
        ));
        assert!(
            (l_plain - l_fused).abs() < 1e-5 * (1.0 + l_plain.abs()),
            "{method}: loss {l_plain} vs {l_fused}"
        );
        for (a, b) in g_plain.values.iter().zip(&g_fused.values) {
            for (u, w) in a.iter().zip(b) {
                assert!((u - w).abs() < 1e-5, "{method}: gradient {u} vs {w}");
            }
        }
    }
}

/// A trainer step (host offsets around a shift, SGD with and without momentum and
/// weight decay) equals the reference: autodiff through `v + m ⊙ (x − v)` with the
/// same masks, then the SGD update by hand. Every weight-masking method, with and
/// without a shift (the neuron-level draw without a shift takes the trainer's
/// kept-parameter step, the reference [`masked_loss`]'s `select` forward).
#[test]
fn trainer_steps_equal_the_reference_steps_through_masked_loss() {
    for (mom, wd) in [(0.9f32, 1e-3f32), (0.9, 0.0), (0.0, 1e-3), (0.0, 0.0)] {
        trainer_steps_equal_the_reference(mom, wd);
    }
}

fn trainer_steps_equal_the_reference(mom: f32, wd: f32) {
    let model = mlp(20, vec![16, 12], 4);
    let x0 = model.init(&mut stream(1, Stream::Init));
    let v0 = model.init(&mut stream(2, Stream::Init));
    let batch: Vec<f32> = (0..9 * 20)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0)
        .collect();
    let labels = [0u8, 1, 2, 3, 0, 1, 2, 3, 0];
    let lr = 0.05f32;
    let settings = TrainSettings {
        epochs: 1,
        batch: 9,
        lr: lr as f64,
        momentum: mom as f64,
        weight_decay: wd as f64,
        sketch_bias: false,
        neuron_fast: true,
        prefetch_masks: false,
        eval_limit: None,
        max_steps_per_epoch: None,
        device: Default::default(),
        threads: None,
    };
    let dev = cpu().autodiff();
    for method in [
        "erm",
        "bernoulli:0.7",
        "dropconnect:0.6",
        "rand-k:0.4",
        "neuron:0.5",
    ] {
        for shift in [None, Some(&v0)] {
            let seed = 3;
            let mut t = Trainer::new(
                &model,
                method.parse().unwrap(),
                &settings,
                seed,
                Some(&x0),
                shift,
            )
            .unwrap();
            let fast_ok = shift.is_none();
            let mut sampler =
                MaskSampler::new(method.parse().unwrap(), model.specs(), false, !fast_ok).unwrap();
            let mut rng = stream(seed, Stream::Sketch);
            let mut x = x0.clone();
            let mut u: Vec<Vec<f32>> = x.values.iter().map(|v| vec![0.0; v.len()]).collect();
            for step in 0..3 {
                let got_loss = t.step(&batch, &labels).unwrap();
                let masks = DeviceMasks::upload(sampler.sample(&mut rng).unwrap(), &dev, fast_ok);
                let p: Vec<Tensor<1>> = x
                    .to_tensors(&dev)
                    .into_iter()
                    .map(|t| t.require_grad())
                    .collect();
                let vt = shift.map(|v| v.to_tensors(&cpu()));
                let (xi, yi) = batch_tensors(&batch, &labels, 4, &dev);
                let loss = masked_loss(
                    &model,
                    &p,
                    vt.as_deref(),
                    &masks,
                    &mut ActHook::none(),
                    xi,
                    yi,
                );
                let g = loss.backward();
                let want_loss = loss.inner().into_scalar::<f64>();
                assert!(
                    (got_loss - want_loss).abs() < 1e-5 * (1.0 + want_loss.abs()),
                    "{method} step {step}: loss {got_loss} vs {want_loss}"
                );
                for (i, pt) in p.iter().enumerate() {
                    let gi = tensor_to_vec(pt.grad(&g).unwrap());
                    for ((xj, uj), gj) in x.values[i].iter_mut().zip(&mut u[i]).zip(&gi) {
                        *uj = *uj * mom + (gj + *xj * wd);
                        *xj -= *uj * lr;
                    }
                }
                let got = t.params();
                for (a, b) in got.values.iter().zip(&x.values) {
                    for (p, q) in a.iter().zip(b) {
                        assert!(
                            (p - q).abs() < 1e-5 * (1.0 + q.abs()),
                            "{method} (shift: {}, momentum {mom}, decay {wd}) step {step}: {p} vs {q}",
                            shift.is_some()
                        );
                    }
                }
            }
        }
    }
}
