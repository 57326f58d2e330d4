//! Progress display: a bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mast::run::{MetricsRow, Observer, RunStart, RunStatus};

/// Shows training progress on stderr.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    last_line: Option<Instant>,
    every: Duration,
    quiet: bool,
}

impl Progress {
    /// A display; `quiet` shows nothing.
    pub fn new(quiet: bool) -> Self {
        Progress {
            bar: None,
            total: 0,
            last_line: None,
            every: Duration::from_secs(2),
            quiet,
        }
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.4}"))
}

impl Observer for Progress {
    fn on_start(&mut self, start: &RunStart) -> mast::Result<()> {
        self.total = start.total_steps;
        if self.quiet {
            return Ok(());
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(start.total_steps);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} steps {msg} ({elapsed} < {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(start.name.clone());
            bar.set_position(start.first_step);
            self.bar = Some(bar);
        } else {
            eprintln!(
                "{}: steps {}..{}",
                start.name, start.first_step, start.total_steps
            );
        }
        Ok(())
    }

    fn on_eval(&mut self, row: &MetricsRow, _all: &[MetricsRow]) -> mast::Result<()> {
        if self.quiet {
            return Ok(());
        }
        let msg = format!(
            "loss {:.6} val {} test {}",
            row.loss,
            fmt_opt(row.val_accuracy),
            fmt_opt(row.test_accuracy)
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(row.step);
                bar.set_message(msg);
            }
            None => {
                if self.last_line.is_none_or(|t| t.elapsed() >= self.every)
                    || row.step == self.total
                {
                    eprintln!(
                        "step {:>8}/{} ({:>3.0}%) epoch {:.2} {msg} [{:.1}s]",
                        row.step,
                        self.total,
                        100.0 * row.step as f64 / self.total.max(1) as f64,
                        row.epoch,
                        row.wall_time_s
                    );
                    self.last_line = Some(Instant::now());
                }
            }
        }
        Ok(())
    }

    fn on_finish(&mut self, status: &RunStatus, _all: &[MetricsRow]) -> mast::Result<()> {
        if let Some(bar) = self.bar.take() {
            match status {
                RunStatus::Completed => bar.finish(),
                RunStatus::Diverged { .. } | RunStatus::Interrupted { .. } => bar.abandon(),
            }
        }
        Ok(())
    }
}
