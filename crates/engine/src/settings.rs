//! Everything the engine needs to know about the business, already validated.

use chrono::TimeDelta;
use rust_decimal::Decimal;
use salespulse_calendar::CalendarSettings;
use salespulse_events::{Role, ValidationRules};

/// A roster entry seeded from the configuration file (`[[roster]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterSeed {
    pub rep_id: String,
    pub team: String,
    pub role: Role,
    pub max_daily_leads: Option<u64>,
    pub max_daily_deals: Option<u64>,
    pub active: bool,
}

/// The engine's whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub calendar: CalendarSettings,
    pub validation: ValidationRules,
    pub lead_response_sla: TimeDelta,
    /// Leads waiting longer than this leave the live queue (v1.1); `None` = no limit.
    pub lead_queue_max_age: Option<TimeDelta>,
    /// Upper bounds of `small` and `medium`; at or above the second is `large`.
    pub deal_size_bands: [Decimal; 2],
    pub default_max_daily_leads: u64,
    pub default_max_daily_deals: u64,
    pub roster: Vec<RosterSeed>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            calendar: CalendarSettings::default(),
            validation: ValidationRules::default(),
            lead_response_sla: TimeDelta::seconds(300),
            lead_queue_max_age: Some(TimeDelta::days(30)),
            deal_size_bands: [Decimal::from(10_000), Decimal::from(100_000)],
            default_max_daily_leads: 40,
            default_max_daily_deals: 5,
            roster: Vec::new(),
        }
    }
}
