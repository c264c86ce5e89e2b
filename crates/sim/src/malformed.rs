//! Bad input on purpose: a valid event turned into a line the pipeline must reject, each with the
//! rejection reason of EVENTS.md it is meant to get. The reason is written into the line itself
//! (a `_sim_defect` field, or `_sim_defect=<reason>` in the non-JSON ones), which a consumer
//! ignores (unknown fields are ignored) and a test can read back with [`crate::intended_reason`].

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::dice::Dice;

/// The marker naming the intended rejection reason.
pub(crate) const DEFECT_FIELD: &str = "_sim_defect";

/// The kinds of damage, named by the rejection reason each must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Defect {
    InvalidJson,
    UnknownType,
    BadTimestamp,
    MissingField,
    InvalidField,
    NegativeAmount,
    ForeignCurrency,
}

impl Defect {
    pub(crate) const ALL: [Defect; 7] = [
        Defect::InvalidJson,
        Defect::UnknownType,
        Defect::BadTimestamp,
        Defect::MissingField,
        Defect::InvalidField,
        Defect::NegativeAmount,
        Defect::ForeignCurrency,
    ];

    /// The EVENTS.md rejection reason this defect must get.
    pub(crate) const fn reason(self) -> &'static str {
        match self {
            Defect::InvalidJson => "invalid_json",
            Defect::UnknownType => "unknown_type",
            Defect::BadTimestamp => "bad_timestamp",
            Defect::MissingField => "missing_field",
            Defect::InvalidField => "invalid_field",
            Defect::NegativeAmount => "negative_amount",
            Defect::ForeignCurrency => "foreign_currency",
        }
    }
}

/// The types whose `currency` is checked (SEMANTICS C5).
const MONEY_TYPES: [&str; 5] = [
    "deal_opened",
    "deal_closed",
    "expense",
    "revenue",
    "customer_cost",
];

/// The required fields of each type (EVENTS.md), without the envelope's `occurred_at`.
fn required_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "activity" => &["rep_id", "contact_id", "channel", "established"],
        "appointment_set" => &["rep_id", "contact_id"],
        "lead_created" => &["lead_id", "event_id"],
        "lead_assigned" => &["lead_id", "rep_id"],
        "lead_disqualified" => &["lead_id", "type"],
        "lead_qualified" => &["lead_id", "stage"],
        "deal_opened" => &["deal_id", "rep_id"],
        "deal_closed" => &["deal_id", "rep_id", "outcome"],
        "customer_acquired" => &["customer_id", "type"],
        "expense" => &["amount", "category"],
        "revenue" => &["customer_id", "amount", "recurring"],
        "customer_cost" => &["customer_id", "amount"],
        _ => &["event_id", "type"],
    }
}

/// Ill-typed or out-of-range values for fields of each type (`invalid_field`).
fn invalid_values(kind: &str) -> Vec<(&'static str, Value)> {
    let text = |s: &str| Value::String(s.to_owned());
    match kind {
        "activity" => vec![
            ("channel", text("fax")),
            ("channel", text("Call")),
            ("established", text("yes")),
            ("established", Value::from(1)),
        ],
        "appointment_set" => vec![
            ("contact_id", Value::from(17)),
            ("scheduled_for", Value::from(1_700_000_000)),
        ],
        "lead_created" => vec![
            ("rep_id", text("")),
            ("segment", Value::from(3)),
            ("source", Value::Bool(true)),
        ],
        "lead_assigned" => vec![("rep_id", text("")), ("lead_id", Value::from(42))],
        "lead_disqualified" => vec![("reason", Value::from(3)), ("lead_id", text(""))],
        "lead_qualified" => vec![("stage", text("SQL")), ("stage", text("opportunity"))],
        "deal_opened" => vec![("amount", text("12,50")), ("industry", Value::from(7))],
        "deal_closed" => vec![("outcome", text("Won")), ("outcome", text("pending"))],
        "customer_acquired" => vec![
            ("customer_id", Value::from(42)),
            ("segment", Value::Bool(false)),
        ],
        "expense" => vec![("category", text("travel")), ("amount", text("abc"))],
        "revenue" => vec![("recurring", text("true")), ("amount", Value::Bool(true))],
        "customer_cost" => vec![("amount", text("n/a")), ("customer_id", text(""))],
        _ => vec![("schema_version", text("1"))],
    }
}

/// Whether `defect` can be made of `body`, a valid event of type `kind`: a negative amount
/// needs an `amount`, a foreign currency a money-carrying type; the rest fit every event.
pub(crate) fn applicable(defect: Defect, kind: &str, body: &Map<String, Value>) -> bool {
    match defect {
        Defect::NegativeAmount => body.get("amount").is_some_and(|amount| !amount.is_null()),
        Defect::ForeignCurrency => MONEY_TYPES.contains(&kind),
        _ => true,
    }
}

/// `body` (a valid event of type `kind` at `at`) damaged by `defect` (which the caller checked
/// is [`applicable`]; otherwise the line is made invalid JSON) so that it must be rejected.
pub(crate) fn malform(
    dice: &mut Dice,
    defect: Defect,
    kind: &str,
    at: DateTime<Utc>,
    mut body: Map<String, Value>,
) -> Vec<u8> {
    let defect = if applicable(defect, kind, &body) {
        defect
    } else {
        Defect::InvalidJson
    };
    let text = |s: &str| Value::String(s.to_owned());
    match defect {
        Defect::InvalidJson => {
            if dice.chance(0.5) {
                // A line cut short (a producer crashed mid-write): never a complete object.
                let full = serialize(marked(body, defect));
                let mut cut = full.len() * 3 / 5;
                while cut > 0 && !full.is_char_boundary(cut) {
                    cut -= 1;
                }
                return full.as_bytes().get(..cut).unwrap_or_default().to_vec();
            }
            // A log-style line from a misconfigured producer.
            let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or("-");
            return format!(
                "{DEFECT_FIELD}={} event_id={} type={kind} occurred_at={}",
                defect.reason(),
                field("event_id"),
                field("occurred_at"),
            )
            .into_bytes();
        }
        Defect::UnknownType => {
            let names = [
                "meeting",
                "Activity",
                "lead_deleted",
                "deal_updated",
                "note",
            ];
            let name = dice.pick(&names).copied().unwrap_or("meeting");
            body.insert("type".to_owned(), text(name));
        }
        Defect::BadTimestamp => {
            let value = match dice.index(5) {
                0 => text(&at.format("%Y-%m-%dT%H:%M:%S").to_string()),
                1 => text(&at.format("%Y-%m-%d").to_string()),
                2 => text(&at.format("%d/%m/%Y %H:%M").to_string()),
                3 => Value::from(at.timestamp()),
                _ => text(&at.format("%Y-%m-%dT%H:%M:%S+5").to_string()),
            };
            body.insert("occurred_at".to_owned(), value);
        }
        Defect::MissingField => {
            let fields = required_fields(kind);
            let field = dice.pick(fields).copied().unwrap_or("event_id");
            if dice.chance(0.3) {
                body.insert(field.to_owned(), Value::Null);
            } else {
                body.remove(field);
            }
        }
        Defect::InvalidField => {
            let mut values = invalid_values(kind);
            let index = dice.index(values.len());
            if index < values.len() {
                let (field, value) = values.swap_remove(index);
                body.insert(field.to_owned(), value);
            } else {
                body.insert("schema_version".to_owned(), text("1"));
            }
        }
        Defect::NegativeAmount => {
            let negative = body.get("amount").map_or(Value::from(-1), negate);
            body.insert("amount".to_owned(), negative);
        }
        Defect::ForeignCurrency => {
            let codes = ["EUR", "GBP", "CAD", "usd"];
            let code = dice.pick(&codes).copied().unwrap_or("EUR");
            body.insert("currency".to_owned(), text(code));
        }
    }
    serialize(marked(body, defect)).into_bytes()
}

/// A positive amount with its sign flipped, in the same form (string or number).
fn negate(amount: &Value) -> Value {
    match amount {
        Value::String(text) => Value::String(format!("-{text}")),
        Value::Number(number) => {
            serde_json::from_str(&format!("-{number}")).unwrap_or_else(|_| Value::from(-1))
        }
        _ => Value::from(-1),
    }
}

/// `body` with the marker as its first field (first both in sorted and in insertion order).
fn marked(body: Map<String, Value>, defect: Defect) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        DEFECT_FIELD.to_owned(),
        Value::String(defect.reason().to_owned()),
    );
    out.extend(body);
    out
}

fn serialize(body: Map<String, Value>) -> String {
    Value::Object(body).to_string()
}

/// The reason named by the marker in a malformed line, if there is one.
pub(crate) fn intended_reason(payload: &[u8]) -> Option<&'static str> {
    let marker = DEFECT_FIELD.as_bytes();
    let start = payload
        .windows(marker.len())
        .position(|window| window == marker)?
        + marker.len();
    let rest = payload.get(start..)?;
    let rest: Vec<u8> = rest
        .iter()
        .copied()
        .skip_while(|byte| matches!(byte, b'"' | b':' | b'=' | b' '))
        .take_while(|byte| byte.is_ascii_lowercase() || *byte == b'_')
        .collect();
    Defect::ALL
        .into_iter()
        .map(Defect::reason)
        .find(|reason| reason.as_bytes() == rest.as_slice())
}
