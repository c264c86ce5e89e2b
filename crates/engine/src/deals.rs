//! Deals: the counting close (C17) and its dimensions.

use compact_str::CompactString;
use rust_decimal::Decimal;
use salespulse_events::{DealAttributes, Outcome};
use serde::{Deserialize, Serialize};

use crate::stamped::{Stamped, keep_latest};
use crate::state::codec;

/// A close as the event gives it: who closed it, how, and the dimensions it carried.
#[derive(Debug, Clone)]
pub(crate) struct Close {
    pub(crate) rep: u32,
    pub(crate) outcome: Outcome,
    pub(crate) attributes: DealAttributes,
}

/// A close as kept: [`Close`] with its dimensions in their compact form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeptClose {
    pub(crate) rep: u32,
    pub(crate) outcome: Outcome,
    pub(crate) dimensions: Dimensions,
}

/// The attributes of a deal event that metrics read (C17, C18): the amount, industry and channel.
/// The `segment` a deal event may carry is not kept: company segments come from `expense`,
/// `customer_acquired` and `revenue` events only (C21). Industry and channel names are short, so
/// they are stored inline rather than as two heap strings per event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Dimensions {
    #[serde(with = "codec::option_decimal")]
    pub(crate) amount: Option<Decimal>,
    pub(crate) industry: Option<CompactString>,
    pub(crate) channel: Option<CompactString>,
}

impl From<&DealAttributes> for Dimensions {
    fn from(attributes: &DealAttributes) -> Self {
        Dimensions {
            amount: attributes.amount,
            industry: attributes.industry.as_deref().map(CompactString::new),
            channel: attributes.channel.as_deref().map(CompactString::new),
        }
    }
}

/// What is known about one deal: its latest open and latest close (a reopened deal counts once).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Deal {
    pub(crate) latest_open: Option<Stamped<Dimensions>>,
    pub(crate) latest_close: Option<Stamped<KeptClose>>,
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
        let Stamped {
            at,
            event_id,
            value,
        } = open;
        let open = Stamped {
            at,
            event_id,
            value: Dimensions::from(&value),
        };
        keep_latest(&mut self.latest_open, open);
    }

    pub(crate) fn offer_close(&mut self, close: Stamped<Close>) {
        let Stamped {
            at,
            event_id,
            value,
        } = close;
        let close = Stamped {
            at,
            event_id,
            value: KeptClose {
                rep: value.rep,
                outcome: value.outcome,
                dimensions: Dimensions::from(&value.attributes),
            },
        };
        keep_latest(&mut self.latest_close, close);
    }

    /// The dimensions of the counting close: each from the close if present, else from the
    /// deal's latest open.
    pub(crate) fn resolve<'a>(&'a self, close: &'a KeptClose) -> ResolvedClose<'a> {
        let open = self.latest_open.as_ref().map(|open| &open.value);
        let close = &close.dimensions;
        let name = |of: fn(&Dimensions) -> &Option<CompactString>| {
            of(close)
                .as_ref()
                .or_else(|| open.and_then(|open| of(open).as_ref()))
                .map(CompactString::as_str)
        };
        ResolvedClose {
            amount: close.amount.or_else(|| open.and_then(|open| open.amount)),
            industry: name(|dimensions| &dimensions.industry),
            channel: name(|dimensions| &dimensions.channel),
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
    fn dimensions_keep_amount_industry_and_channel_only() {
        let attributes = DealAttributes {
            amount: Some(Decimal::new(1250, 2)),
            industry: Some("retail".to_owned()),
            channel: Some("a-partner-channel-name-of-30-bytes".to_owned()),
            segment: Some("smb".to_owned()),
        };
        let dimensions = Dimensions::from(&attributes);
        assert_eq!(dimensions.amount, Some(Decimal::new(1250, 2)));
        assert_eq!(
            dimensions.industry.as_ref().map(CompactString::as_str),
            Some("retail")
        );
        assert_eq!(
            dimensions.channel.as_ref().map(CompactString::as_str),
            Some("a-partner-channel-name-of-30-bytes")
        );
        assert_eq!(
            Dimensions::from(&DealAttributes::default()),
            Dimensions::default()
        );
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
