//! Acceptance 3: the gradient w.r.t. x of the masked loss equals
//! Sᵀ∇f(v + S(x − v)), and both agree with central finite differences, in f64,
//! for a tiny MLP and a tiny CNN, with a non-zero shift v.
//!
//! This binary switches the flex device to f64 before any tensor exists, so it
//! holds only tests that want f64.

use burn::tensor::{DType, Device, FloatDType, Tensor, TensorData};
use mast::rng::{stream, Stream};
use mast_nn::burn;
use mast_nn::mask::{ActHook, MaskSampler, Method, StepMasks};
use mast_nn::model::{tensor_to_vec, ArchConfig, HostParams, Model};
use mast_nn::train::{batch_tensors, cpu, masked_loss, DeviceMasks};

fn f64_devices() -> (Device, Device) {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let mut d = cpu();
        let _ = d.configure(FloatDType::F64);
        let mut a = cpu().autodiff();
        let _ = a.configure(FloatDType::F64);
    });
    (cpu(), cpu().autodiff())
}

struct Case {
    model: Model,
    x: HostParams,
    v: HostParams,
    inputs: Vec<f32>,
    labels: Vec<u8>,
    classes: usize,
}

fn case(arch: ArchConfig, input: [usize; 3], classes: usize, seed: u64) -> Case {
    let model = Model::new(&arch, input, classes).unwrap();
    let x = model.init(&mut stream(seed, Stream::Init));
    let v = model.init(&mut stream(seed + 100, Stream::Init));
    let dim: usize = input.iter().product();
    let b = 4;
    let mut rng = stream(seed, Stream::Synthetic);
    let inputs = (0..b * dim)
        .map(|_| rand::Rng::random_range(&mut rng, -1.0..1.0f32))
        .collect();
    let labels = (0..b).map(|i| (i % classes) as u8).collect();
    Case {
        model,
        x,
        v,
        inputs,
        labels,
        classes,
    }
}

/// Loss at the masked model for parameter tensors `p` (any device).
fn loss(c: &Case, p: &[Tensor<1>], v: &[Tensor<1>], masks: &StepMasks, dev: &Device) -> Tensor<1> {
    let (xi, yi) = batch_tensors(&c.inputs, &c.labels, c.classes, dev);
    let m = DeviceMasks::upload(masks.clone(), dev, false);
    masked_loss(&c.model, p, Some(v), &m, &mut ActHook::none(), xi, yi)
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f64>()
}

fn check(c: &Case, method: Method, seed: u64) {
    let (plain, ad) = f64_devices();
    let specs = c.model.specs();
    let mut sampler = MaskSampler::new(method, specs, true, true).unwrap();
    let masks = sampler.sample(&mut stream(seed, Stream::Sketch)).unwrap();

    // Autodiff gradient of x ↦ f(v + S(x − v)).
    let p: Vec<Tensor<1>> =
        c.x.to_tensors(&ad)
            .into_iter()
            .map(|t| t.require_grad())
            .collect();
    let v_ad = c.v.to_tensors(&ad);
    let l = loss(c, &p, &v_ad, &masks, &ad);
    assert_eq!(l.dtype(), DType::F64, "the check runs in f64");
    let grads = l.backward();
    let g_x: Vec<Vec<f64>> = p
        .iter()
        .map(|t| {
            t.grad(&grads)
                .unwrap()
                .into_data()
                .convert::<f64>()
                .try_into_vec::<f64>()
                .unwrap()
        })
        .collect();

    // Sᵀ∇f(y) at y = v + S(x − v): the plain gradient at y, times the mask.
    let v_plain = c.v.to_tensors(&plain);
    let y: Vec<Tensor<1>> =
        c.x.to_tensors(&plain)
            .into_iter()
            .zip(&v_plain)
            .zip(DeviceMasks::upload(masks.clone(), &plain, false).dense_tensors())
            .map(|((x, v), m)| match m {
                Some(m) => v.clone() + (x - v.clone()) * m,
                None => x,
            })
            .map(|t| t.autodiff().require_grad())
            .collect();
    let ident = StepMasks::identity(specs.len());
    let ly = loss(c, &y, &c.v.to_tensors(&ad), &ident, &ad);
    let gy = ly.backward();
    let host_masks = DeviceMasks::upload(masks.clone(), &plain, false).dense_tensors();
    for (i, t) in y.iter().enumerate() {
        let g = t.grad(&gy).unwrap();
        let st_g = match &host_masks[i] {
            Some(m) => g * m.clone(),
            None => g,
        };
        let st_g = st_g
            .into_data()
            .convert::<f64>()
            .try_into_vec::<f64>()
            .unwrap();
        for (j, (a, b)) in g_x[i].iter().zip(&st_g).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                "{} [{j}]: ∇_x {a} vs Sᵀ∇f {b}",
                specs[i].name
            );
        }
    }

    // Central finite differences, perturbing x in f64 on the device.
    let h = 1e-6;
    let x_plain = c.x.to_tensors(&plain);
    let mut checked = 0;
    for (i, spec) in specs.iter().enumerate() {
        let n = spec.numel();
        let step = (n / 7).max(1);
        for j in (0..n).step_by(step) {
            let mut e = vec![0.0f32; n];
            e[j] = 1.0;
            let e = Tensor::<1>::from_data(TensorData::new(e, [n]), &plain).mul_scalar(h);
            let at = |sign: f64| {
                let mut px = x_plain.clone();
                px[i] = px[i].clone() + e.clone().mul_scalar(sign);
                scalar(loss(c, &px, &v_plain, &masks, &plain))
            };
            let fd = (at(1.0) - at(-1.0)) / (2.0 * h);
            let a = g_x[i][j];
            assert!(
                (fd - a).abs() <= 1e-6 * (1.0 + a.abs()),
                "{method} {} [{j}]: finite difference {fd} vs autodiff {a}",
                spec.name
            );
            checked += 1;
        }
    }
    assert!(checked > 20);
    // The masked coordinates get exactly zero gradient.
    let zeroed = DeviceMasks::upload(masks, &plain, false)
        .dense_tensors()
        .into_iter()
        .zip(&g_x)
        .filter_map(|(m, g)| m.map(|m| (tensor_to_vec(m), g)))
        .flat_map(|(m, g)| {
            m.into_iter()
                .zip(g.iter())
                .filter(|(mm, _)| *mm == 0.0)
                .map(|(_, gg)| *gg)
                .collect::<Vec<_>>()
        })
        .collect::<Vec<f64>>();
    assert!(!zeroed.is_empty() && zeroed.iter().all(|&g| g == 0.0));
}

#[test]
fn mlp_gradient_is_sketched_gradient_and_matches_finite_differences() {
    let c = case(ArchConfig::Mlp { hidden: vec![6, 5] }, [1, 1, 7], 3, 1);
    check(&c, "bernoulli:0.5".parse().unwrap(), 1);
    check(&c, "rand-k:0.5".parse().unwrap(), 2);
    check(&c, "neuron:0.6".parse().unwrap(), 3);
}

#[test]
fn cnn_gradient_is_sketched_gradient_and_matches_finite_differences() {
    let c = case(
        ArchConfig::Cnn {
            channels: [2, 3],
            fc: 4,
        },
        [1, 4, 4],
        3,
        2,
    );
    check(&c, "bernoulli:0.5".parse().unwrap(), 4);
}

#[test]
fn resnet_gradient_is_sketched_gradient_and_matches_finite_differences() {
    let c = case(
        ArchConfig::ResNet {
            channels: vec![2, 3],
        },
        [1, 4, 4],
        3,
        3,
    );
    check(&c, "bernoulli:0.7".parse().unwrap(), 5);
}
