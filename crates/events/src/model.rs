//! Typed events, as they are after validation.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An instant, kept to the nanosecond. Every window is decided by event time, in UTC internally.
pub type Timestamp = DateTime<Utc>;

/// One accepted input event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event_id: String,
    pub occurred_at: Timestamp,
    pub kind: EventKind,
}

/// The thirteen event types of EVENTS.md with their fields. Optional free-text fields that arrive
/// as `""` are `None` (SEMANTICS C17, C21: an empty string counts as missing).
///
/// Serializable for the engine's saved state (pending events); amounts go through their exact
/// decimal text. New variants go at the end: binary formats encode a variant by its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Activity {
        rep_id: String,
        contact_id: String,
        channel: Channel,
        established: bool,
        lead_id: Option<String>,
    },
    AppointmentSet {
        rep_id: String,
        contact_id: String,
    },
    LeadCreated {
        lead_id: String,
        rep_id: Option<String>,
    },
    LeadAssigned {
        lead_id: String,
        rep_id: String,
    },
    /// v1.1: the lead leaves the live queue without needing a response (junk, duplicate, …).
    LeadDisqualified {
        lead_id: String,
        rep_id: Option<String>,
    },
    LeadQualified {
        lead_id: String,
        stage: Stage,
        rep_id: Option<String>,
    },
    DealOpened {
        deal_id: String,
        rep_id: String,
        attributes: DealAttributes,
    },
    DealClosed {
        deal_id: String,
        rep_id: String,
        outcome: Outcome,
        attributes: DealAttributes,
    },
    CustomerAcquired {
        customer_id: String,
        segment: Option<String>,
    },
    Expense {
        #[serde(with = "rust_decimal::serde::str")]
        amount: Decimal,
        category: ExpenseCategory,
        segment: Option<String>,
    },
    Revenue {
        customer_id: String,
        #[serde(with = "rust_decimal::serde::str")]
        amount: Decimal,
        recurring: bool,
        segment: Option<String>,
    },
    CustomerCost {
        customer_id: String,
        #[serde(with = "rust_decimal::serde::str")]
        amount: Decimal,
    },
    RepUpserted {
        rep_id: String,
        record: RosterRecord,
    },
}

/// A rep's roster record (SEMANTICS C10): what a `rep_upserted` carries and a `[[roster]]` entry
/// seeds, kept whole by the engine (a newer upsert replaces all of it). One type for the event,
/// the configuration and the engine, so a new roster field is added once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterRecord {
    pub team: String,
    pub role: Role,
    /// `None` falls back to the configured default capacity.
    pub max_daily_leads: Option<u64>,
    pub max_daily_deals: Option<u64>,
    pub active: bool,
}

/// The optional dimensions a `deal_opened` or `deal_closed` may carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealAttributes {
    #[serde(with = "rust_decimal::serde::str_option")]
    pub amount: Option<Decimal>,
    pub industry: Option<String>,
    pub channel: Option<String>,
    pub segment: Option<String>,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling (case-sensitive).
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the exact wire spelling.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// The `type` field.
    EventType {
        Activity = "activity",
        AppointmentSet = "appointment_set",
        LeadCreated = "lead_created",
        LeadAssigned = "lead_assigned",
        LeadDisqualified = "lead_disqualified",
        LeadQualified = "lead_qualified",
        DealOpened = "deal_opened",
        DealClosed = "deal_closed",
        CustomerAcquired = "customer_acquired",
        Expense = "expense",
        Revenue = "revenue",
        CustomerCost = "customer_cost",
        RepUpserted = "rep_upserted",
    }
);
string_enum!(
    /// How an `activity` reached the contact.
    Channel { Call = "call", Email = "email", Chat = "chat" }
);
string_enum!(
    /// A `lead_qualified` stage.
    Stage { Mql = "mql", Sql = "sql" }
);
string_enum!(
    /// A `deal_closed` outcome.
    Outcome { Won = "won", Lost = "lost" }
);
string_enum!(
    /// An `expense` category.
    ExpenseCategory { Sales = "sales", Marketing = "marketing" }
);
string_enum!(
    /// A rep's role on the roster.
    Role { Bdr = "bdr", Ae = "ae", Other = "other" }
);

impl Event {
    /// The event's `type`.
    pub fn event_type(&self) -> EventType {
        match &self.kind {
            EventKind::Activity { .. } => EventType::Activity,
            EventKind::AppointmentSet { .. } => EventType::AppointmentSet,
            EventKind::LeadCreated { .. } => EventType::LeadCreated,
            EventKind::LeadAssigned { .. } => EventType::LeadAssigned,
            EventKind::LeadDisqualified { .. } => EventType::LeadDisqualified,
            EventKind::LeadQualified { .. } => EventType::LeadQualified,
            EventKind::DealOpened { .. } => EventType::DealOpened,
            EventKind::DealClosed { .. } => EventType::DealClosed,
            EventKind::CustomerAcquired { .. } => EventType::CustomerAcquired,
            EventKind::Expense { .. } => EventType::Expense,
            EventKind::Revenue { .. } => EventType::Revenue,
            EventKind::CustomerCost { .. } => EventType::CustomerCost,
            EventKind::RepUpserted { .. } => EventType::RepUpserted,
        }
    }

    /// The rep the event names, if any (every such rep becomes a known rep, SEMANTICS C11).
    pub fn rep_id(&self) -> Option<&str> {
        match &self.kind {
            EventKind::Activity { rep_id, .. }
            | EventKind::AppointmentSet { rep_id, .. }
            | EventKind::LeadAssigned { rep_id, .. }
            | EventKind::DealOpened { rep_id, .. }
            | EventKind::DealClosed { rep_id, .. }
            | EventKind::RepUpserted { rep_id, .. } => Some(rep_id),
            EventKind::LeadCreated { rep_id, .. }
            | EventKind::LeadDisqualified { rep_id, .. }
            | EventKind::LeadQualified { rep_id, .. } => rep_id.as_deref(),
            EventKind::CustomerAcquired { .. }
            | EventKind::Expense { .. }
            | EventKind::Revenue { .. }
            | EventKind::CustomerCost { .. } => None,
        }
    }

    /// Finance events feed lifetime sums, so their duplicates must be caught forever.
    pub fn is_finance(&self) -> bool {
        matches!(
            self.kind,
            EventKind::CustomerAcquired { .. }
                | EventKind::Expense { .. }
                | EventKind::Revenue { .. }
                | EventKind::CustomerCost { .. }
        )
    }
}
