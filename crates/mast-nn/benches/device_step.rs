//! Training-step time on a chosen device (CPU, or a GPU in builds with `cuda` /
//! `wgpu`), on real MNIST minibatches, for `bench/gpu/run.sh` and
//! `bench/peers-nn/`. Three modes:
//!
//! - `time` (default): interleaved rounds, one block of `--block` timed steps per
//!   method per round (after `--warmup` untimed steps per method), until each
//!   method has `--steps` timed steps; prints one `RESULT` line per method:
//!   `RESULT <TAB> device <TAB> model <TAB> method <TAB> median ms/step <TAB> steps`.
//! - `serve`: builds one trainer per method, then answers lines `METHOD STEPS` on
//!   stdin with `TIMES t1 t2 …` (ms per step, one per step run) and `quit` with
//!   nothing; another program (bench/peers-nn) interleaves its own steps.
//! - `train`: trains each method for `--epochs` epochs on all of MNIST and prints
//!   `ACC <TAB> method <TAB> epoch <TAB> test accuracy <TAB> train seconds`.
//!
//! ```text
//! cargo bench -p mast-nn --bench device_step -- [time|serve|train] [--device cpu|cuda|cuda:N|wgpu]
//!     [--model mlp|resnet] [--methods erm,bernoulli:0.5,dropout:0.5] [--steps 100]
//!     [--warmup 5] [--block 10] [--epochs 1] [--lr 0.02] [--momentum 0.9]
//!     [--seed 1] [--data ROOT]   (ROOT holds images/mnist; default ../shared/data)
//!     [--hidden 256,256]   (the MLP's hidden widths)
//!     [--threads N]        (the step's threads; default: mast-nn's per-model choice)
//! ```

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Instant;

use mast::rng::{stream, Stream};
use mast_nn::data::{self, Batches, DatasetName, ImageSet};
use mast_nn::device::DeviceChoice;
use mast_nn::mask::Method;
use mast_nn::model::{ArchConfig, Model};
use mast_nn::train::{TrainSettings, Trainer};

/// Minibatches cycled through by the timing modes.
const POOL: usize = 32;
/// Minibatch size (the MNIST MLP of the paper's experiments).
const BATCH: usize = 128;

struct Args {
    mode: String,
    device: DeviceChoice,
    model: String,
    methods: Vec<Method>,
    steps: usize,
    warmup: usize,
    block: usize,
    epochs: usize,
    lr: f64,
    momentum: f64,
    seed: u64,
    data: PathBuf,
    hidden: Vec<usize>,
    threads: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        mode: "time".into(),
        device: DeviceChoice::Cpu,
        model: "mlp".into(),
        methods: vec![Method::Erm],
        steps: 100,
        warmup: 5,
        block: 10,
        epochs: 1,
        lr: 0.02,
        momentum: 0.9,
        seed: 1,
        data: data::default_data_root(&std::env::current_dir().map_err(|e| e.to_string())?),
        hidden: vec![256, 256],
        threads: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let num =
            |name: &str, v: String| v.parse::<f64>().map_err(|e| format!("{name} `{v}`: {e}"));
        match arg.as_str() {
            "time" | "serve" | "train" => a.mode = arg.clone(),
            // cargo bench passes --bench to harness-less benches.
            "--bench" => {}
            "--device" => a.device = value("--device")?.parse().map_err(|e| format!("{e}"))?,
            "--model" => a.model = value("--model")?,
            "--methods" => {
                a.methods = value("--methods")?
                    .split(',')
                    .map(|m| m.parse::<Method>().map_err(|e| format!("{e}")))
                    .collect::<Result<_, _>>()?
            }
            "--steps" => a.steps = num("--steps", value("--steps")?)? as usize,
            "--warmup" => a.warmup = num("--warmup", value("--warmup")?)? as usize,
            "--block" => a.block = (num("--block", value("--block")?)? as usize).max(1),
            "--epochs" => a.epochs = num("--epochs", value("--epochs")?)? as usize,
            "--lr" => a.lr = num("--lr", value("--lr")?)?,
            "--momentum" => a.momentum = num("--momentum", value("--momentum")?)?,
            "--seed" => a.seed = num("--seed", value("--seed")?)? as u64,
            "--data" => a.data = PathBuf::from(value("--data")?),
            "--hidden" => {
                a.hidden = value("--hidden")?
                    .split(',')
                    .map(|w| {
                        w.parse::<usize>()
                            .map_err(|e| format!("--hidden `{w}`: {e}"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "--threads" => a.threads = Some(num("--threads", value("--threads")?)? as usize),
            other => return Err(format!("unknown argument `{other}` (see the file's docs)")),
        }
    }
    Ok(a)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if let Err(e) = run() {
        eprintln!("device_step: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let a = parse_args()?;
    let sets = data::load(DatasetName::Mnist, &a.data, a.seed).map_err(|e| e.to_string())?;
    let arch = match a.model.as_str() {
        "mlp" => ArchConfig::Mlp {
            hidden: a.hidden.clone(),
        },
        "resnet" => ArchConfig::ResNet {
            channels: vec![16, 32],
        },
        m => return Err(format!("unknown model `{m}`: expected mlp or resnet")),
    };
    let model =
        Model::new(&arch, sets.train.shape, sets.train.classes).map_err(|e| e.to_string())?;
    let settings = TrainSettings {
        epochs: a.epochs,
        batch: BATCH,
        lr: a.lr,
        momentum: a.momentum,
        weight_decay: 0.0,
        sketch_bias: false,
        neuron_fast: true,
        prefetch_masks: true,
        eval_limit: None,
        max_steps_per_epoch: None,
        device: a.device,
        threads: a.threads,
    };
    let new_trainer = |m: Method| {
        Trainer::new(&model, m, &settings, a.seed, None, None).map_err(|e| e.to_string())
    };
    if a.mode == "train" {
        for &m in &a.methods {
            let mut t = new_trainer(m)?;
            t.train(&sets.train, &sets.test, |row| {
                println!(
                    "ACC\t{m}\t{}\t{:.4}\t{:.2}",
                    row.epoch, row.test_accuracy, row.train_s
                );
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        }
        return Ok(());
    }
    let pool = batch_pool(&sets.train, a.seed)?;
    let mut trainers: Vec<Trainer> = a
        .methods
        .iter()
        .map(|&m| new_trainer(m))
        .collect::<Result<_, _>>()?;
    let mut cursor = 0usize;
    let mut run_steps = |t: &mut Trainer, n: usize| -> Result<Vec<f64>, String> {
        (0..n)
            .map(|_| {
                let (x, y) = &pool[cursor % pool.len()];
                cursor += 1;
                // The minibatch is assembled before the clock starts, as PyTorch's
                // side takes tensors made beforehand: the step alone is timed.
                let x = x.clone();
                let t0 = Instant::now();
                // The loss is read back to the host, so a GPU step has finished here.
                t.step_owned(x, y).map_err(|e| e.to_string())?;
                Ok(t0.elapsed().as_secs_f64() * 1e3)
            })
            .collect()
    };
    if a.mode == "serve" {
        return serve(&a.methods, &mut trainers, &mut run_steps);
    }
    for t in trainers.iter_mut() {
        run_steps(t, a.warmup)?;
    }
    let mut times = vec![Vec::new(); trainers.len()];
    while times[0].len() < a.steps {
        let n = a.block.min(a.steps - times[0].len());
        for (k, t) in trainers.iter_mut().enumerate() {
            times[k].extend(run_steps(t, n)?);
        }
    }
    for (m, t) in a.methods.iter().zip(times.iter_mut()) {
        println!(
            "RESULT\t{}\t{}\t{m}\t{:.4}\t{}",
            a.device,
            a.model,
            median(t),
            t.len()
        );
    }
    Ok(())
}

/// The first [`POOL`] minibatches of a seeded epoch order.
/// A batch's pixels and labels.
type Batch = (Vec<f32>, Vec<u8>);

fn batch_pool(train: &ImageSet, seed: u64) -> Result<Vec<Batch>, String> {
    let mut batches = Batches::new(train.n, BATCH).map_err(|e| e.to_string())?;
    let mut rng = stream(seed, Stream::Data);
    Ok(batches
        .epoch(&mut rng)
        .take(POOL)
        .map(|rows| {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            train.gather(rows, &mut x, &mut y);
            (x, y)
        })
        .collect())
}

/// Answers `METHOD STEPS` lines on stdin with the per-step times.
fn serve(
    methods: &[Method],
    trainers: &mut [Trainer],
    run_steps: &mut impl FnMut(&mut Trainer, usize) -> Result<Vec<f64>, String>,
) -> Result<(), String> {
    println!("READY");
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        let mut words = line.split_whitespace();
        let (Some(m), Some(n)) = (words.next(), words.next()) else {
            if line.trim() == "quit" {
                return Ok(());
            }
            return Err(format!(
                "serve: expected `METHOD STEPS` or `quit`, got `{line}`"
            ));
        };
        let m: Method = m.parse().map_err(|e| format!("{e}"))?;
        let n: usize = n.parse().map_err(|e| format!("serve: steps `{n}`: {e}"))?;
        let k = methods
            .iter()
            .position(|&x| x == m)
            .ok_or(format!("serve: `{m}` was not in --methods"))?;
        let t = run_steps(&mut trainers[k], n)?;
        let text: Vec<String> = t.iter().map(|v| format!("{v:.5}")).collect();
        let mut out = stdout.lock();
        writeln!(out, "TIMES {}", text.join(" ")).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}
