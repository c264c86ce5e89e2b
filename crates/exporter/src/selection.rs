//! `[export]`: which series `/metrics` carries, so large teams can keep scrapes small.

use salespulse_engine::Period;

/// What the exposition includes. The default is everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Periods whose windowed series are exported; the others are absent.
    pub periods: Vec<Period>,
    /// Whether the per-rep response-time histogram is exported (15 series per rep); the per-team
    /// one is exported either way.
    pub rep_histograms: bool,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            periods: Period::ALL.to_vec(),
            rep_histograms: true,
        }
    }
}

impl Selection {
    pub fn exports(&self, period: Period) -> bool {
        self.periods.contains(&period)
    }
}
