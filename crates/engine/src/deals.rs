//! Deals: the counting close (C17) and its dimensions.

use rust_decimal::Decimal;
use salespulse_events::{DealAttributes, Outcome};
use serde::{Deserialize, Serialize};

use crate::stamped::{Stamped, keep_latest};

/// A close: who closed it, how, and the dimensions the close itself carried.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Close {
    pub(crate) rep: u32,
    pub(crate) outcome: Outcome,
    pub(crate) attributes: DealAttributes,
}

/// What is known about one deal: its latest open and latest close (a reopened deal counts once).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Deal {
    pub(crate) latest_open: Option<Stamped<DealAttributes>>,
    pub(crate) latest_close: Option<Stamped<Close>>,
}

/// A counting close with its dimensions resolved (close first, else the latest open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedClose<'a> {
    pub(crate) amount: Option<Decimal>,
    pub(crate) industry: Option<&'a str>,
    pub(crate) channel: Option<&'a str>,
}

impl Deal {
    pub(crate) fn offer_open(&mut self, open: Stamped<DealAttributes>) {
        keep_latest(&mut self.latest_open, open);
    }

    pub(crate) fn offer_close(&mut self, close: Stamped<Close>) {
        keep_latest(&mut self.latest_close, close);
    }

    /// The dimensions of the counting close: each from the close if present, else from the
    /// deal's latest open.
    pub(crate) fn resolve<'a>(&'a self, close: &'a Close) -> ResolvedClose<'a> {
        let open = self.latest_open.as_ref().map(|open| &open.value);
        ResolvedClose {
            amount: close
                .attributes
                .amount
                .or_else(|| open.and_then(|open| open.amount)),
            industry: close
                .attributes
                .industry
                .as_deref()
                .or_else(|| open.and_then(|open| open.industry.as_deref())),
            channel: close
                .attributes
                .channel
                .as_deref()
                .or_else(|| open.and_then(|open| open.channel.as_deref())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use salespulse_events::Timestamp;

    fn at(day: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0)
            .single()
            .expect("valid test instant")
    }

    fn attributes(amount: Option<i64>, industry: Option<&str>) -> DealAttributes {
        DealAttributes {
            amount: amount.map(Decimal::from),
            industry: industry.map(String::from),
            ..DealAttributes::default()
        }
    }

    #[test]
    fn latest_close_counts_and_takes_missing_dimensions_from_the_open() {
        let mut deal = Deal::default();
        deal.offer_open(Stamped::new(
            at(1),
            "o1",
            attributes(Some(500), Some("retail")),
        ));
        deal.offer_open(Stamped::new(at(2), "o2", attributes(Some(900), None)));
        let lost = Close {
            rep: 1,
            outcome: Outcome::Lost,
            attributes: attributes(None, None),
        };
        let won = Close {
            rep: 2,
            outcome: Outcome::Won,
            attributes: attributes(None, Some("medical")),
        };
        deal.offer_close(Stamped::new(at(9), "c2", won));
        deal.offer_close(Stamped::new(at(5), "c1", lost));
        let close = &deal.latest_close.as_ref().expect("closed").value;
        assert_eq!(close.outcome, Outcome::Won);
        let resolved = deal.resolve(close);
        assert_eq!(resolved.amount, Some(Decimal::from(900)));
        assert_eq!(resolved.industry, Some("medical"));
        assert_eq!(resolved.channel, None);
    }
}
