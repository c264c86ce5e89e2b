//! `[export]`: which series `/metrics` carries, so large teams can keep scrapes small.

use salespulse_engine::Period;

/// What the exposition includes. The default is everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Periods whose windowed series are exported; the others are absent.
    pub periods: Vec<Period>,
    /// The response-time histogram per rep (`true`) or per team only (`false`, labels `team`):
    /// team-level percentiles and heatmaps keep working at a fraction of the series.
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
