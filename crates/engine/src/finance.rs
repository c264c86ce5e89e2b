//! Company finance: spend, new customers, recurring revenue (windowed) and lifetime value.

use rust_decimal::Decimal;
use salespulse_events::Timestamp;
use serde::{Deserialize, Serialize};

use crate::interner::{Interner, Keyed};
use crate::money::add;
use crate::stamped::{Stamped, keep_earliest};
use crate::state::codec;

/// An amount booked at an instant, in a segment (`None`: counts in `all` only, C21).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct MoneyFact {
    #[serde(with = "codec::timestamp")]
    pub(crate) at: Timestamp,
    pub(crate) segment: Option<u32>,
    #[serde(with = "codec::decimal")]
    pub(crate) amount: Decimal,
}

/// Lifetime facts about one customer (C21, C23).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Customer {
    /// The first `customer_acquired`, with that event's own segment: when and where it is new.
    pub(crate) first_acquired: Option<Stamped<Option<u32>>>,
    pub(crate) first_segmented_acquired: Option<Stamped<u32>>,
    pub(crate) first_segmented_revenue: Option<Stamped<u32>>,
    #[serde(with = "codec::decimal")]
    pub(crate) revenue: Decimal,
    #[serde(with = "codec::decimal")]
    pub(crate) cost: Decimal,
}

impl Customer {
    /// The customer's lifetime segment (C23): its first segmented acquisition, else its first
    /// segmented revenue, else none.
    pub(crate) fn segment(&self) -> Option<u32> {
        self.first_segmented_acquired
            .as_ref()
            .or(self.first_segmented_revenue.as_ref())
            .map(|stamped| stamped.value)
    }
}

/// All finance state. Windowed facts are kept back to the quarter before the previous one (the
/// magic number's oldest input); lifetime sums and customers are kept forever.
#[derive(Debug, Default)]
pub(crate) struct Finance {
    pub(crate) segments: Interner,
    pub(crate) expenses: Vec<MoneyFact>,
    pub(crate) recurring_revenue: Vec<MoneyFact>,
    /// Lifetime S&M expense per segment index, and in total (`all`).
    pub(crate) lifetime_expense: Vec<Decimal>,
    pub(crate) lifetime_expense_all: Decimal,
    pub(crate) customers: Keyed<Customer>,
}

impl Finance {
    pub(crate) fn segment(&mut self, name: Option<&str>) -> Option<u32> {
        let segment = self.segments.intern(name?);
        if segment as usize >= self.lifetime_expense.len() {
            self.lifetime_expense
                .resize(segment as usize + 1, Decimal::ZERO);
        }
        Some(segment)
    }

    fn customer(&mut self, customer_id: &str) -> &mut Customer {
        self.customers.entry_or_default(customer_id)
    }

    pub(crate) fn expense(&mut self, fact: MoneyFact, keep_for_windows: bool) {
        add(&mut self.lifetime_expense_all, fact.amount);
        if let Some(total) = fact
            .segment
            .and_then(|segment| self.lifetime_expense.get_mut(segment as usize))
        {
            add(total, fact.amount);
        }
        if keep_for_windows {
            self.expenses.push(fact);
        }
    }

    pub(crate) fn acquired(&mut self, customer_id: &str, acquisition: Stamped<Option<u32>>) {
        let customer = self.customer(customer_id);
        if let Some(segment) = acquisition.value {
            keep_earliest(
                &mut customer.first_segmented_acquired,
                Stamped::new(acquisition.at, acquisition.event_id.as_str(), segment),
            );
        }
        keep_earliest(&mut customer.first_acquired, acquisition);
    }

    pub(crate) fn revenue(
        &mut self,
        customer_id: &str,
        revenue: Stamped<MoneyFact>,
        recurring: bool,
        keep_for_windows: bool,
    ) {
        let fact = revenue.value;
        let customer = self.customer(customer_id);
        add(&mut customer.revenue, fact.amount);
        if let Some(segment) = fact.segment {
            keep_earliest(
                &mut customer.first_segmented_revenue,
                Stamped::new(revenue.at, revenue.event_id.as_str(), segment),
            );
        }
        if recurring && keep_for_windows {
            self.recurring_revenue.push(fact);
        }
    }

    pub(crate) fn cost(&mut self, customer_id: &str, amount: Decimal) {
        add(&mut self.customer(customer_id).cost, amount);
    }

    /// Drops windowed facts older than `horizon`.
    pub(crate) fn forget_before(&mut self, horizon: Timestamp) {
        self.expenses.retain(|fact| fact.at >= horizon);
        self.recurring_revenue.retain(|fact| fact.at >= horizon);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(day: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0)
            .single()
            .expect("valid test instant")
    }

    #[test]
    fn customer_segment_prefers_acquisition_over_revenue() {
        let mut finance = Finance::default();
        let smb = finance.segment(Some("smb"));
        let ent = finance.segment(Some("ent"));
        let revenue = MoneyFact {
            at: at(1),
            segment: smb,
            amount: Decimal::from(10),
        };
        finance.revenue("cu-1", Stamped::new(at(1), "r1", revenue), true, true);
        assert_eq!(
            finance.customers.get("cu-1").and_then(Customer::segment),
            smb
        );
        finance.acquired("cu-1", Stamped::new(at(5), "a2", None));
        finance.acquired("cu-1", Stamped::new(at(6), "a1", ent));
        let customer = finance.customers.get("cu-1").expect("a customer");
        assert_eq!(customer.segment(), ent);
        assert_eq!(
            customer.first_acquired.as_ref().map(|a| a.value),
            Some(None)
        );
        assert_eq!(customer.revenue, Decimal::from(10));
    }
}
