//! Step-time benchmark (acceptance 2): a plain SGD step vs MAST steps on the same
//! MLP 784-256-256-10 and batch of 128 (synthetic inputs, fixed seeds), with host
//! masks. Prints the median time per step and the ratio to the plain step
//! (median over rounds of paired block ratios, with its interquartile range).
//!
//!     cargo bench -p mast-nn --bench step [-- STEPS]

use std::time::Instant;

use mast::rng::{stream, Stream};
use mast_nn::mask::{MaskSampler, Method};
use mast_nn::model::{ArchConfig, Model};
use mast_nn::train::{TrainSettings, Trainer};
use rand::{Rng, SeedableRng};

/// Timed steps per block (after 3 warm-up steps).
const BLOCK: usize = 10;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let steps: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300);
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
        device: Default::default(),
        threads: None,
    };
    let methods = [
        "erm",
        "bernoulli:0.5",
        "rand-k:0.5",
        "dropconnect:0.5",
        "dropout:0.5",
        "neuron:0.5",
    ];
    println!(
        "MLP 784-256-256-10 ({} parameters), batch {batch}, {steps} steps per method in interleaved blocks of {BLOCK} (3 warm-up steps each)",
        model.num_params()
    );
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
    // Rounds of short blocks of consecutive steps per method (3 warm-up steps
    // each), the blocks interleaved across methods: while one method runs, the
    // others' mask threads are idle (their queue is full). The ratio of a method
    // is the median over rounds of its block median over the plain step's block
    // median in the same round, which cancels slow drifts of the machine's load.
    let rounds = steps.div_ceil(BLOCK).max(1);
    let n = methods.len() + 2;
    let mut times = vec![Vec::new(); n];
    let mut ratios = vec![Vec::new(); n];
    for _ in 0..rounds {
        let extra = [&mut dense_neuron, &mut inline_bernoulli];
        let mut block_medians = Vec::with_capacity(n);
        for (k, t) in trainers.iter_mut().chain(extra).enumerate() {
            let mut block = Vec::with_capacity(BLOCK);
            for i in 0..BLOCK + 3 {
                let t0 = Instant::now();
                t.step(&x, &y).unwrap();
                if i >= 3 {
                    block.push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
            times[k].extend_from_slice(&block);
            block_medians.push(median(&mut block));
        }
        for (k, m) in block_medians.iter().enumerate() {
            ratios[k].push(m / block_medians[0]);
        }
    }
    let mut labels: Vec<String> = methods.iter().map(|m| m.to_string()).collect();
    labels.push("neuron:0.5 (dense masks)".into());
    labels.push("bernoulli:0.5 (inline masks)".into());
    println!(
        "{:<28} {:>10} {:>8} {:>15}",
        "method", "ms/step", "ratio", "ratio IQR"
    );
    for ((label, t), r) in labels.iter().zip(times.iter_mut()).zip(ratios.iter_mut()) {
        let m = median(t);
        r.sort_by(f64::total_cmp);
        let q = |f: f64| r[((r.len() - 1) as f64 * f).round() as usize];
        let (lo, mid, hi) = (q(0.25), q(0.5), q(0.75));
        println!("{label:<28} {m:>10.3} {mid:>8.3}   [{lo:.3}, {hi:.3}]");
    }
    println!("\nhost mask draw alone (median of {steps}; neuron: dense per-entry masks):");
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
