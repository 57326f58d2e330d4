//! Step-time benchmark (acceptance 2): a plain SGD step vs MAST steps on the same
//! MLP 784-256-256-10 and batch of 128 (synthetic inputs, fixed seeds), with host
//! masks. Prints the median time per step and the ratio to the plain step.
//!
//!     cargo bench -p mast-nn --bench step [-- STEPS]

use std::time::Instant;

use mast::rng::{stream, Stream};
use mast_nn::mask::{MaskSampler, Method};
use mast_nn::model::{ArchConfig, Model};
use mast_nn::train::{TrainSettings, Trainer};
use rand::{Rng, SeedableRng};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let steps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(60);
    let batch = 128;
    let model = Model::new(
        &ArchConfig::Mlp {
            hidden: vec![256, 256],
        },
        [1, 28, 28],
        10,
    )
    .unwrap();
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    let x: Vec<f32> = (0..batch * 784)
        .map(|_| rng.random_range(-0.5..2.5f32))
        .collect();
    let y: Vec<u8> = (0..batch).map(|i| (i % 10) as u8).collect();
    let settings = TrainSettings {
        epochs: 1,
        batch,
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 0.0,
        sketch_bias: false,
        neuron_fast: true,
        prefetch_masks: true,
        eval_limit: None,
        max_steps_per_epoch: None,
    };
    let methods = [
        "erm",
        "bernoulli:0.5",
        "rand-k:0.5",
        "dropconnect:0.5",
        "dropout:0.5",
        "neuron:0.5",
    ];
    println!("MLP 784-256-256-10 ({} parameters), batch {batch}, {steps} steps per method in 4 interleaved blocks (3 warm-up steps each)", model.num_params());
    let mut trainers: Vec<Trainer> = methods
        .iter()
        .map(|m| {
            Trainer::new(
                &model,
                m.parse::<Method>().unwrap(),
                &settings,
                1,
                None,
                None,
            )
            .unwrap()
        })
        .collect();
    let mut dense_neuron = {
        let mut s = settings.clone();
        s.neuron_fast = false;
        Trainer::new(&model, "neuron:0.5".parse().unwrap(), &s, 1, None, None).unwrap()
    };
    let mut inline_bernoulli = {
        let mut s = settings.clone();
        s.prefetch_masks = false;
        Trainer::new(&model, "bernoulli:0.5".parse().unwrap(), &s, 1, None, None).unwrap()
    };
    let mut times = vec![Vec::new(); methods.len() + 2];
    // Blocks of consecutive steps per method, the blocks interleaved across methods:
    // while one method runs, the others' mask threads are idle (their queue is full).
    let rounds = 4;
    let block = steps.div_ceil(rounds) + 3;
    for _ in 0..rounds {
        let extra = [&mut dense_neuron, &mut inline_bernoulli];
        for (k, t) in trainers.iter_mut().chain(extra).enumerate() {
            for i in 0..block {
                let t0 = Instant::now();
                t.step(&x, &y).unwrap();
                if i >= 3 {
                    times[k].push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
    }
    let plain = median(&mut times[0].clone());
    let mut labels: Vec<String> = methods.iter().map(|m| m.to_string()).collect();
    labels.push("neuron:0.5 (dense masks)".into());
    labels.push("bernoulli:0.5 (inline masks)".into());
    println!("{:<28} {:>10} {:>8}", "method", "ms/step", "ratio");
    for (label, t) in labels.iter().zip(times.iter_mut()) {
        let m = median(t);
        println!("{label:<28} {m:>10.3} {:>8.3}", m / plain);
    }
    println!("\nhost mask draw alone (median of {steps}):");
    for m in ["bernoulli:0.5", "rand-k:0.5", "neuron:0.5"] {
        let mut sampler = MaskSampler::new(m.parse().unwrap(), model.specs(), false, true).unwrap();
        let mut rng = stream(1, Stream::Sketch);
        let mut t: Vec<f64> = (0..steps)
            .map(|_| {
                let t0 = Instant::now();
                std::hint::black_box(sampler.sample(&mut rng).unwrap());
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        println!("{m:<28} {:>10.3} ms", median(&mut t));
    }
}
