//! Which data a step sees ([`Variant`]) and minibatches ([`BatchSampler`]):
//! each epoch a seeded reshuffle of the samples, cut into batches. Used by the
//! algorithms and by the engines' nodes (re-exported by [`crate::algorithm`]).

use rand::seq::SliceRandom;

pub(crate) mod shuffle_ahead;

use crate::error::{MastError, Result};
use crate::objective::Rows;
use crate::rng::MastRng;
use shuffle_ahead::ShuffleAhead;

/// Which data the gradient sees at each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// (I): the full-data gradient at the sketched model.
    Exact,
    /// (II): a minibatch of this many samples (epoch-wise reshuffled).
    Minibatch(usize),
}

/// Draws minibatches without replacement within an epoch; reshuffles when fewer
/// than a batch of samples remain (the tail of an epoch is skipped).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BatchSampler {
    order: Vec<usize>,
    pos: usize,
    rng: MastRng,
}

impl BatchSampler {
    /// A sampler over `n` samples using `rng`.
    pub fn new(n: usize, rng: MastRng) -> Self {
        BatchSampler {
            order: (0..n).collect(),
            pos: n, // forces a shuffle before the first batch
            rng,
        }
    }

    /// The next batch of `size` sample indices.
    pub fn next_batch(&mut self, size: usize) -> Result<&[usize]> {
        self.next_batch_with(size, None)
    }

    /// [`BatchSampler::next_batch`], with reshuffles from `ahead` where given (the
    /// same batches).
    pub(crate) fn next_batch_with(
        &mut self,
        size: usize,
        ahead: Option<&mut ShuffleAhead>,
    ) -> Result<&[usize]> {
        let n = self.order.len();
        if size == 0 || size > n {
            return Err(MastError::param(
                "batch",
                format!("batch size must be in 1..={n} (the number of samples), got {size}"),
            ));
        }
        if self.pos + size > n {
            match ahead {
                Some(ahead) => ahead.reshuffle(&mut self.order, &mut self.rng),
                None => self.order.shuffle(&mut self.rng),
            }
            self.pos = 0;
        }
        let b = &self.order[self.pos..self.pos + size];
        self.pos += size;
        Ok(b)
    }

    /// The batch of `size` that [`BatchSampler::next_batch`] will return next,
    /// if it is already known (`None` when a reshuffle comes first).
    pub fn peek(&self, size: usize) -> Option<&[usize]> {
        self.order.get(self.pos..self.pos + size)
    }

    /// Reshuffles made ahead on a helper thread, from this sampler's state on.
    pub(crate) fn shuffle_ahead(&self) -> ShuffleAhead {
        ShuffleAhead::start(&self.order, &self.rng)
    }
}

/// The rows a step uses: all of them for [`Variant::Exact`], the sampler's next
/// batch for [`Variant::Minibatch`]; with the number of samples that makes, and
/// the batch after it where already known (for prefetching).
pub(crate) fn step_rows<'a>(
    sampler: &'a mut Option<BatchSampler>,
    ahead: Option<&mut ShuffleAhead>,
    variant: Variant,
    n: usize,
) -> Result<(Rows<'a>, usize, Option<&'a [usize]>)> {
    match (sampler, variant) {
        (Some(s), Variant::Minibatch(b)) => {
            s.next_batch_with(b, ahead)?;
            let s = &*s;
            let batch = &s.order[s.pos - b..s.pos];
            Ok((Rows::Batch(batch), b, s.peek(b)))
        }
        _ => Ok((Rows::All, n, None)),
    }
}
