//! The seeded random source and the few distributions the simulator draws from. Every draw is
//! total: probabilities outside `[0, 1]` (or NaN) and empty choices never panic.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp1, StandardNormal};

#[derive(Debug, Clone)]
pub(crate) struct Dice {
    rng: StdRng,
}

impl Dice {
    pub(crate) fn new(seed: u64) -> Dice {
        Dice {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A uniform draw in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// True with probability `p` (false for NaN or `p <= 0`, true for `p >= 1`).
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniform draw in `[low, high)`.
    pub(crate) fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// An exponential draw with the given mean.
    pub(crate) fn exponential(&mut self, mean: f64) -> f64 {
        let draw: f64 = Exp1.sample(&mut self.rng);
        draw * mean
    }

    /// A lognormal draw with the given median and shape `sigma`.
    pub(crate) fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        let z: f64 = StandardNormal.sample(&mut self.rng);
        median * (sigma * z).exp()
    }

    /// A uniform index below `len` (0 when `len` is 0).
    pub(crate) fn index(&mut self, len: usize) -> usize {
        if len == 0 {
            0
        } else {
            self.rng.random_range(0..len)
        }
    }

    /// One of `items`, uniformly.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let index = self.index(items.len());
        items.get(index)
    }

    /// One of `items` by weight (the last one if rounding leaves a remainder; `""` if empty).
    pub(crate) fn weighted(&mut self, items: &[(&'static str, f64)]) -> &'static str {
        let total: f64 = items.iter().map(|(_, weight)| weight.max(0.0)).sum();
        let mut draw = self.unit() * total;
        for (item, weight) in items {
            let weight = weight.max(0.0);
            if draw < weight {
                return item;
            }
            draw -= weight;
        }
        items.last().map_or("", |(item, _)| item)
    }
}
