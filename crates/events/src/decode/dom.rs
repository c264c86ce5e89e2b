//! The decoder as it was before it stopped building a `serde_json::Value` tree, kept for the
//! tests only: a property test feeds both the same lines and wants the same outcome.

use std::fmt::{self, Display};

use rust_decimal::Decimal;
use serde::de::{Deserialize, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::{IdRule, MAX_ID_CHARS, SCHEMA_VERSION, ValidationRules, quote, reject};
use crate::amount::parse_amount;
use crate::model::{
    Channel, DealAttributes, Event, EventKind, EventType, ExpenseCategory, Outcome, Role,
    RosterRecord, Stage, Timestamp,
};
use crate::reason::{RejectReason, Rejection};
use crate::timestamp::parse_timestamp;

/// The old [`super::decode`], unchanged.
pub(super) fn decode(line: &[u8], rules: &ValidationRules) -> Result<Event, Rejection> {
    if let Err(error) = std::str::from_utf8(line) {
        return Err(reject(
            RejectReason::InvalidJson,
            format!("not valid UTF-8: {error}"),
        ));
    }
    let map = parse_object(line)?;
    let fields = Fields(&map);

    check_schema_version(fields.get("schema_version"))?;
    let event_id = fields.id("event_id", IdRule::Bounded)?;
    let event_type = fields.event_type()?;
    let occurred_at = fields.occurred_at()?;
    let kind = decode_kind(event_type, &fields)?;
    check_money(event_type, &kind, &fields, rules)?;

    Ok(Event {
        event_id,
        occurred_at,
        kind,
    })
}

/// The top-level JSON object of a line (UTF-8 already checked), each key at most once.
///
/// `serde_json::Value` keeps the last of two equal keys, so a producer's `"rep_id"` written twice
/// would silently count for one of them: the object is read member by member instead
/// ([`UniqueKeys`]). Keys are compared after unescaping (`"a"` and `"\u0061"` are equal).
fn parse_object(line: &[u8]) -> Result<Map<String, Value>, Rejection> {
    let opens_an_object = line
        .iter()
        .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
        == Some(&b'{');
    if !opens_an_object {
        return Err(match serde_json::from_slice::<IgnoredAny>(line) {
            Ok(_) => reject(RejectReason::InvalidJson, "not a JSON object"),
            Err(error) => reject(
                RejectReason::InvalidJson,
                format!("not valid JSON: {error}"),
            ),
        });
    }
    serde_json::from_slice::<UniqueKeys>(line)
        .map(|object| object.0)
        .map_err(|error| {
            // The values are `Value`s, which accept anything: the only data error is ours.
            let detail = if error.is_data() {
                error.to_string()
            } else {
                format!("not valid JSON: {error}")
            };
            reject(RejectReason::InvalidJson, detail)
        })
}

/// A JSON object read member by member, refusing a key it has already seen.
struct UniqueKeys(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueKeys, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value::<Value>()?;
            if map.contains_key(&key) {
                return Err(A::Error::custom(format_args!(
                    "duplicate key {}",
                    quote(&key)
                )));
            }
            map.insert(key, value);
        }
        Ok(UniqueKeys(map))
    }
}

fn check_schema_version(value: Option<&Value>) -> Result<(), Rejection> {
    let Some(value) = value else {
        return Ok(());
    };
    // The number's exact JSON text (arbitrary_precision): `1.0` and `1e0` are not integers, and
    // an integer too large for i64/u64 is still an integer, so still `unsupported_version`.
    let integer = match value {
        Value::Number(number) => {
            let text = number.as_str();
            let digits = text.strip_prefix('-').unwrap_or(text);
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(text)
        }
        _ => None,
    };
    match integer {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(other) => Err(reject(
            RejectReason::UnsupportedVersion,
            format!("unsupported `schema_version` {other} (this build reads {SCHEMA_VERSION})"),
        )),
        None => Err(reject(
            RejectReason::InvalidField,
            "`schema_version` must be an integer",
        )),
    }
}

/// Decodes the type-specific fields, required ones first, then optional ones, each group in
/// the order of the EVENTS.md table. Fields validated but not kept in the model (`source`,
/// `appointment_id`, …) are still type-checked: a wrong type rejects the event (C4).
fn decode_kind(event_type: EventType, f: &Fields<'_>) -> Result<EventKind, Rejection> {
    Ok(match event_type {
        EventType::Activity => {
            let rep_id = f.id("rep_id", IdRule::Bounded)?;
            let contact_id = f.id("contact_id", IdRule::NonEmpty)?;
            let channel = f.choice("channel", Channel::parse, Channel::ALL)?;
            let established = f.flag("established")?;
            let lead_id = f.opt_id("lead_id", IdRule::NonEmpty)?;
            EventKind::Activity {
                rep_id,
                contact_id,
                channel,
                established,
                lead_id,
            }
        }
        EventType::AppointmentSet => {
            let rep_id = f.id("rep_id", IdRule::Bounded)?;
            let contact_id = f.id("contact_id", IdRule::NonEmpty)?;
            f.opt_string("appointment_id")?;
            f.opt_string("scheduled_for")?;
            EventKind::AppointmentSet { rep_id, contact_id }
        }
        EventType::LeadCreated => {
            let lead_id = f.id("lead_id", IdRule::NonEmpty)?;
            let rep_id = f.opt_id("rep_id", IdRule::Bounded)?;
            f.opt_string("source")?;
            // Not kept today, but a segment is a label wherever it is used: checked as one.
            f.opt_text("segment")?;
            EventKind::LeadCreated { lead_id, rep_id }
        }
        EventType::LeadAssigned => {
            let lead_id = f.id("lead_id", IdRule::NonEmpty)?;
            let rep_id = f.id("rep_id", IdRule::Bounded)?;
            EventKind::LeadAssigned { lead_id, rep_id }
        }
        EventType::LeadDisqualified => {
            let lead_id = f.id("lead_id", IdRule::NonEmpty)?;
            let rep_id = f.opt_id("rep_id", IdRule::Bounded)?;
            f.opt_string("reason")?;
            EventKind::LeadDisqualified { lead_id, rep_id }
        }
        EventType::LeadQualified => {
            let lead_id = f.id("lead_id", IdRule::NonEmpty)?;
            let stage = f.choice("stage", Stage::parse, Stage::ALL)?;
            let rep_id = f.opt_id("rep_id", IdRule::Bounded)?;
            EventKind::LeadQualified {
                lead_id,
                stage,
                rep_id,
            }
        }
        EventType::DealOpened => {
            let deal_id = f.id("deal_id", IdRule::NonEmpty)?;
            let rep_id = f.id("rep_id", IdRule::Bounded)?;
            let attributes = f.deal_attributes()?;
            EventKind::DealOpened {
                deal_id,
                rep_id,
                attributes,
            }
        }
        EventType::DealClosed => {
            let deal_id = f.id("deal_id", IdRule::NonEmpty)?;
            let rep_id = f.id("rep_id", IdRule::Bounded)?;
            let outcome = f.choice("outcome", Outcome::parse, Outcome::ALL)?;
            let attributes = f.deal_attributes()?;
            EventKind::DealClosed {
                deal_id,
                rep_id,
                outcome,
                attributes,
            }
        }
        EventType::CustomerAcquired => {
            let customer_id = f.id("customer_id", IdRule::NonEmpty)?;
            let segment = f.opt_text("segment")?;
            f.opt_id("deal_id", IdRule::NonEmpty)?;
            EventKind::CustomerAcquired {
                customer_id,
                segment,
            }
        }
        EventType::Expense => {
            let amount = f.amount()?;
            let category = f.choice("category", ExpenseCategory::parse, ExpenseCategory::ALL)?;
            let segment = f.opt_text("segment")?;
            EventKind::Expense {
                amount,
                category,
                segment,
            }
        }
        EventType::Revenue => {
            let customer_id = f.id("customer_id", IdRule::NonEmpty)?;
            let amount = f.amount()?;
            let recurring = f.flag("recurring")?;
            let segment = f.opt_text("segment")?;
            EventKind::Revenue {
                customer_id,
                amount,
                recurring,
                segment,
            }
        }
        EventType::CustomerCost => {
            let customer_id = f.id("customer_id", IdRule::NonEmpty)?;
            let amount = f.amount()?;
            EventKind::CustomerCost {
                customer_id,
                amount,
            }
        }
        EventType::RepUpserted => {
            let rep_id = f.id("rep_id", IdRule::Bounded)?;
            let team = f.id("team", IdRule::NonEmpty)?;
            let role = f.choice("role", Role::parse, Role::ALL)?;
            let max_daily_leads = f.opt_count("max_daily_leads")?;
            let max_daily_deals = f.opt_count("max_daily_deals")?;
            let active = f.opt_flag("active")?.unwrap_or(true);
            EventKind::RepUpserted {
                rep_id,
                record: RosterRecord {
                    team,
                    role,
                    max_daily_leads,
                    max_daily_deals,
                    active,
                },
            }
        }
    })
}

/// The money checks of SEMANTICS C5, run after the structure is known to be valid.
fn check_money(
    event_type: EventType,
    kind: &EventKind,
    fields: &Fields<'_>,
    rules: &ValidationRules,
) -> Result<(), Rejection> {
    let amount = match kind {
        EventKind::DealOpened { attributes, .. } | EventKind::DealClosed { attributes, .. } => {
            attributes.amount
        }
        EventKind::Expense { amount, .. }
        | EventKind::Revenue { amount, .. }
        | EventKind::CustomerCost { amount, .. } => Some(*amount),
        _ => None,
    };
    // parse_amount turns -0 into 0, so `-0` passes.
    if amount.is_some_and(|amount| amount < Decimal::ZERO) {
        return Err(reject(
            RejectReason::NegativeAmount,
            "`amount` must not be negative",
        ));
    }

    let carries_money = matches!(
        event_type,
        EventType::DealOpened
            | EventType::DealClosed
            | EventType::Expense
            | EventType::Revenue
            | EventType::CustomerCost
    );
    if !carries_money {
        return Ok(());
    }
    match fields.get("currency") {
        None => Ok(()),
        Some(Value::String(currency)) if *currency == rules.reporting_currency => Ok(()),
        Some(Value::String(currency)) => Err(reject(
            RejectReason::ForeignCurrency,
            format!(
                "`currency` {} is not the reporting currency {:?}",
                quote(currency),
                rules.reporting_currency
            ),
        )),
        Some(_) => Err(reject(
            RejectReason::InvalidField,
            "`currency` must be a string",
        )),
    }
}

/// The top-level object, with `null` read as absent.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    fn required(&self, name: &str) -> Result<&'a Value, Rejection> {
        self.get(name).ok_or_else(|| {
            reject(
                RejectReason::MissingField,
                format!("missing field `{name}`"),
            )
        })
    }

    fn id(&self, name: &str, rule: IdRule) -> Result<String, Rejection> {
        check_id(name, self.required(name)?, rule)
    }

    fn opt_id(&self, name: &str, rule: IdRule) -> Result<Option<String>, Rejection> {
        self.get(name)
            .map(|value| check_id(name, value, rule))
            .transpose()
    }

    /// An optional string of any content, e.g. `scheduled_for` (only its type is checked).
    fn opt_string(&self, name: &str) -> Result<Option<&'a str>, Rejection> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(invalid(name, "must be a string")),
        }
    }

    /// An optional free-text dimension, exported as a label: `""` means missing (SEMANTICS
    /// C17, C21).
    fn opt_text(&self, name: &str) -> Result<Option<String>, Rejection> {
        let text = self.opt_string(name)?;
        if let Some(text) = text {
            check_no_control_characters(name, text)?;
        }
        Ok(text.filter(|text| !text.is_empty()).map(str::to_owned))
    }

    fn event_type(&self) -> Result<EventType, Rejection> {
        match self.required("type")? {
            Value::String(text) => EventType::parse(text).ok_or_else(|| {
                reject(
                    RejectReason::UnknownType,
                    format!("unknown `type` {}", quote(text)),
                )
            }),
            _ => Err(invalid("type", "must be a string")),
        }
    }

    fn occurred_at(&self) -> Result<Timestamp, Rejection> {
        let value = self.required("occurred_at")?;
        value.as_str().and_then(parse_timestamp).ok_or_else(|| {
            reject(
                RejectReason::BadTimestamp,
                "`occurred_at` must be an RFC 3339 timestamp with an offset",
            )
        })
    }

    /// A required, case-sensitive enumeration.
    fn choice<T: Display>(
        &self,
        name: &str,
        parse: fn(&str) -> Option<T>,
        all: &[T],
    ) -> Result<T, Rejection> {
        self.required(name)?
            .as_str()
            .and_then(parse)
            .ok_or_else(|| {
                let names: Vec<String> = all.iter().map(ToString::to_string).collect();
                invalid(name, &format!("must be one of {}", names.join(", ")))
            })
    }

    fn flag(&self, name: &str) -> Result<bool, Rejection> {
        check_flag(name, self.required(name)?)
    }

    fn opt_flag(&self, name: &str) -> Result<Option<bool>, Rejection> {
        self.get(name)
            .map(|value| check_flag(name, value))
            .transpose()
    }

    fn opt_count(&self, name: &str) -> Result<Option<u64>, Rejection> {
        self.get(name)
            .map(|value| {
                // JSON `-0` is the integer 0 (C5 treats `-0` as not negative, too).
                value
                    .as_u64()
                    .or_else(|| (value.as_number()?.as_str() == "-0").then_some(0))
                    .ok_or_else(|| invalid(name, "must be a non-negative integer"))
            })
            .transpose()
    }

    fn amount(&self) -> Result<Decimal, Rejection> {
        check_amount(self.required("amount")?)
    }

    fn opt_amount(&self) -> Result<Option<Decimal>, Rejection> {
        self.get("amount").map(check_amount).transpose()
    }

    /// A deal's dimensions; an empty string counts as missing (C17), for the amount too.
    fn deal_attributes(&self) -> Result<DealAttributes, Rejection> {
        let amount = match self.get("amount") {
            Some(Value::String(text)) if text.is_empty() => None,
            _ => self.opt_amount()?,
        };
        let industry = self.opt_text("industry")?;
        let channel = self.opt_text("channel")?;
        let segment = self.opt_text("segment")?;
        Ok(DealAttributes {
            amount,
            industry,
            channel,
            segment,
        })
    }
}

fn check_id(name: &str, value: &Value, rule: IdRule) -> Result<String, Rejection> {
    let text = value.as_str().unwrap_or_default();
    match rule {
        IdRule::Bounded if !(1..=MAX_ID_CHARS).contains(&text.chars().count()) => Err(invalid(
            name,
            &format!("must be a string of 1-{MAX_ID_CHARS} characters"),
        )),
        IdRule::NonEmpty if text.is_empty() => Err(invalid(name, "must be a non-empty string")),
        IdRule::Bounded | IdRule::NonEmpty => {
            check_no_control_characters(name, text)?;
            Ok(text.to_owned())
        }
    }
}

/// Identifiers become label values and map keys: a control character (C0, DEL or C1, what
/// [`char::is_control`] names) would make an exposition line or a log line ambiguous, and JSON
/// lets one in escaped (`\u0000`), so it is refused after unescaping.
fn check_no_control_characters(name: &str, text: &str) -> Result<(), Rejection> {
    if text.chars().any(char::is_control) {
        return Err(invalid(
            name,
            "must not contain control characters (U+0000-U+001F, U+007F-U+009F)",
        ));
    }
    Ok(())
}

fn check_flag(name: &str, value: &Value) -> Result<bool, Rejection> {
    value
        .as_bool()
        .ok_or_else(|| invalid(name, "must be true or false"))
}

fn check_amount(value: &Value) -> Result<Decimal, Rejection> {
    parse_amount(value)
        .ok_or_else(|| invalid("amount", "must be a JSON number or a decimal string"))
}

fn invalid(name: &str, what: &str) -> Rejection {
    reject(RejectReason::InvalidField, format!("`{name}` {what}"))
}

/// The decoder against this reference: the same outcome, to the detail text and the amount's
/// scale, on lines built to reach every check and on damaged copies of real lines.
mod tests {
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use proptest::sample::select;
    use salespulse_sim::{SimConfig, Simulator};

    use super::super::ValidationRules;

    /// Both decoders' outcome, in a form that tells `1.50` from `1.5`.
    fn outcomes(line: &[u8], rules: &ValidationRules) -> (String, String) {
        (
            format!("{:?}", super::super::decode(line, rules)),
            format!("{:?}", super::decode(line, rules)),
        )
    }

    fn assert_same(line: &[u8], rules: &ValidationRules) {
        let (new, old) = outcomes(line, rules);
        assert_eq!(new, old, "{}", String::from_utf8_lossy(line));
    }

    fn rules(euro: bool) -> ValidationRules {
        ValidationRules {
            reporting_currency: if euro { "EUR" } else { "USD" }.to_owned(),
            ..ValidationRules::default()
        }
    }

    /// Every field name, names of no field, and keys that only unescape to a field name.
    const KEYS: &[&str] = &[
        r#""schema_version""#,
        r#""event_id""#,
        r#""type""#,
        r#""occurred_at""#,
        r#""rep_id""#,
        r#""contact_id""#,
        r#""channel""#,
        r#""established""#,
        r#""lead_id""#,
        r#""appointment_id""#,
        r#""scheduled_for""#,
        r#""source""#,
        r#""segment""#,
        r#""reason""#,
        r#""stage""#,
        r#""deal_id""#,
        r#""outcome""#,
        r#""amount""#,
        r#""industry""#,
        r#""customer_id""#,
        r#""category""#,
        r#""recurring""#,
        r#""team""#,
        r#""role""#,
        r#""max_daily_leads""#,
        r#""max_daily_deals""#,
        r#""active""#,
        r#""currency""#,
        r#""note""#,
        r#""Rep_id""#,
        r#""""#,
        r#""$serde_json::private::Number""#,
        r#""rep\u005fid""#,
        r#""\u0074ype""#,
        r#""n\"ote""#,
        r#""é""#,
    ];

    /// JSON value texts: good and bad values of every field, and every JSON shape.
    const VALUES: &[&str] = &[
        // Strings a field takes, or nearly.
        r#""activity""#,
        r#""appointment_set""#,
        r#""lead_created""#,
        r#""lead_assigned""#,
        r#""lead_disqualified""#,
        r#""lead_qualified""#,
        r#""deal_opened""#,
        r#""deal_closed""#,
        r#""customer_acquired""#,
        r#""expense""#,
        r#""revenue""#,
        r#""customer_cost""#,
        r#""rep_upserted""#,
        r#""meeting""#,
        r#""call""#,
        r#""email""#,
        r#""chat""#,
        r#""Call""#,
        r#""mql""#,
        r#""sql""#,
        r#""won""#,
        r#""lost""#,
        r#""sales""#,
        r#""marketing""#,
        r#""bdr""#,
        r#""ae""#,
        r#""other""#,
        r#""USD""#,
        r#""EUR""#,
        r#""r-1""#,
        r#""c-17""#,
        r#""""#,
        r#"" ""#,
        r#""2026-11-23T09:00:00Z""#,
        r#""2026-11-23T09:00:00.123456789-05:00""#,
        r#""2026-11-23 09:00:00.1234567891z""#,
        r#""2026-11-23T09:00:60Z""#,
        r#""2026-02-30T09:00:00Z""#,
        r#""2026-11-23T09:00:00+24:00""#,
        r#""12.50""#,
        r#""-0.01""#,
        r#""-0""#,
        r#""1e3""#,
        r#""1e29""#,
        r#""12,50""#,
        r#""0.12345678901234567890123456789""#,
        // Escapes, control characters, non-ASCII.
        r#""r\u0000x""#,
        r#""\u0061ctivity""#,
        r#""a\"b""#,
        r#""a\\b""#,
        r#""tab\there""#,
        r#""\ud83d\ude00""#,
        "\"del\u{7f}\"",
        "\"c1\u{85}\"",
        "\"é😀\"",
        // Numbers, as JSON text.
        "0",
        "1",
        "-1",
        "-0",
        "-0.0",
        "2",
        "45",
        "12500",
        "1041.67",
        "-5",
        "1.0",
        "1e0",
        "2.5e-3",
        "1E+2",
        "-0e0",
        "0.0e-0",
        "1E400",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "99999999999999999999999",
        "0.1",
        // Literals and nested values.
        "true",
        "false",
        "null",
        "[]",
        "[1,\"a\",[null]]",
        "{}",
        r#"{"id":1,"id":2}"#,
        r#"{"$serde_json::private::Number":"12"}"#,
        r#"{"a":{"$serde_json::private::Number":"1e3"}}"#,
    ];

    /// Value texts that are no JSON, or that serde_json refuses.
    const BROKEN_VALUES: &[&str] = &[
        r#""\ud800""#,
        r#""\x""#,
        "\"raw\ttab\"",
        "\"raw\u{1}\"",
        "01",
        "1.",
        ".5",
        "+1",
        "-",
        "--1",
        "-.5",
        "00",
        "1.e3",
        "1e",
        "1e+",
        "-2E-",
        "0x10",
        "1_000",
        "nul",
        "True",
        r#"{"$serde_json::private::Number":"x"}"#,
        r#"{"$serde_json::private::Number":12}"#,
        r#"{"$serde_json::private::Number":"-0","a":1}"#,
    ];

    const SPACES: &[&str] = &["", "", "", "", " ", "  ", "\n", "\t", "\r\n"];

    /// A member's value: a listed one, any string (escaped as JSON), or a deep nesting.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            40 => select(VALUES).prop_map(str::to_owned),
            4 => any::<String>().prop_map(|text| serde_json::Value::from(text).to_string()),
            2 => select(BROKEN_VALUES).prop_map(str::to_owned),
            1 => (120..140usize).prop_map(|depth| "[".repeat(depth) + &"]".repeat(depth)),
        ]
    }

    /// A valid event of a random type, most of the time, with members changed or added: good
    /// lines, lines that fail at any check, and lines that are no JSON at all.
    fn line() -> impl Strategy<Value = Vec<u8>> {
        let event = select(
            &[
                r#""event_id":"e-1","type":"activity","occurred_at":"2026-11-23T09:00:00Z","rep_id":"r-1","contact_id":"c-1","channel":"call","established":true"#,
                r#""event_id":"e-2","type":"appointment_set","occurred_at":"2026-11-23T09:00:00-05:00","rep_id":"r-1","contact_id":"c-1""#,
                r#""event_id":"e-3","type":"lead_created","occurred_at":"2026-11-23T09:00:00.5Z","lead_id":"L-1""#,
                r#""event_id":"e-4","type":"lead_assigned","occurred_at":"2026-11-23T09:00:00Z","lead_id":"L-1","rep_id":"r-1""#,
                r#""event_id":"e-5","type":"lead_qualified","occurred_at":"2026-11-23T09:00:00Z","lead_id":"L-1","stage":"sql""#,
                r#""event_id":"e-6","type":"lead_disqualified","occurred_at":"2026-11-23T09:00:00Z","lead_id":"L-1""#,
                r#""event_id":"e-7","type":"deal_opened","occurred_at":"2026-11-23T09:00:00Z","deal_id":"D-1","rep_id":"r-1""#,
                r#""event_id":"e-8","type":"deal_closed","occurred_at":"2026-11-23T09:00:00Z","deal_id":"D-1","rep_id":"r-1","outcome":"won","amount":"12.50""#,
                r#""event_id":"e-9","type":"customer_acquired","occurred_at":"2026-11-23T09:00:00Z","customer_id":"cu-1""#,
                r#""event_id":"e-10","type":"expense","occurred_at":"2026-11-23T09:00:00Z","amount":8000,"category":"marketing""#,
                r#""event_id":"e-11","type":"revenue","occurred_at":"2026-11-23T09:00:00Z","customer_id":"cu-1","amount":1041.67,"recurring":true"#,
                r#""event_id":"e-12","type":"customer_cost","occurred_at":"2026-11-23T09:00:00Z","customer_id":"cu-1","amount":"0.5""#,
                r#""event_id":"e-13","type":"rep_upserted","occurred_at":"2026-11-23T09:00:00Z","rep_id":"r-1","team":"east","role":"ae","max_daily_leads":45"#,
                r#""event_id":"e-14","type":"expense","occurred_at":"2026-11-23T09:00:00Z","amount":-5,"category":"sales","currency":"EUR""#,
                r#""event_id":"e-15","type":"deal_opened","occurred_at":"2026-11-23T09:00:00Z","deal_id":"D-1","rep_id":"r-1","amount":"-1e2""#,
            ][..],
        );
        // A member whose key the event has replaces its value, unless `repeat` (a repeated key).
        let member = (select(KEYS), value(), proptest::bool::weighted(0.1));
        let open = prop_oneof![20 => Just("{"), 1 => select(&[" {", "[", ""][..])];
        let close = prop_oneof![
            20 => Just("}"),
            1 => select(&["} ", ",}", "", "}x", "}}", "} {}"][..]),
        ];
        (
            proptest::option::weighted(0.9, event),
            proptest::collection::vec(member, 0..4),
            open,
            close,
            prop_oneof![8 => Just(""), 1 => select(SPACES)],
        )
            .prop_map(|(event, members, open, close, space)| {
                // The listed events hold no `,` or `:` but between members and after keys.
                let mut parts: Vec<(String, String)> = event
                    .into_iter()
                    .flat_map(|event| event.split(','))
                    .filter_map(|member| member.split_once(':'))
                    .map(|(key, value)| (key.to_owned(), value.to_owned()))
                    .collect();
                for (key, value, repeat) in members {
                    match parts.iter_mut().find(|(known, _)| known == key) {
                        Some(part) if !repeat => part.1 = value,
                        _ => parts.push((key.to_owned(), value)),
                    }
                }
                let members: Vec<String> = parts
                    .iter()
                    .map(|(key, value)| format!("{key}{space}:{space}{value}"))
                    .collect();
                format!(
                    "{space}{open}{}{space}{close}",
                    members.join(&format!(",{space}"))
                )
                .into_bytes()
            })
    }

    /// Real lines of every type, to damage.
    const SEEDS: &[&str] = &[
        r#"{"event_id":"ex-004","type":"activity","occurred_at":"2026-11-23T09:03:30-05:00","rep_id":"r-ana","contact_id":"c-17","channel":"call","established":true,"lead_id":"L-1"}"#,
        r#"{"event_id":"ex-010","type":"deal_opened","occurred_at":"2026-11-24T09:00:00-05:00","deal_id":"D-1","rep_id":"r-ben","amount":"12500.00","industry":"retail","channel":"inbound","segment":"smb"}"#,
        r#"{"event_id":"ex-015","type":"revenue","occurred_at":"2026-11-27T00:00:00.123456789-05:00","customer_id":"cu-1","amount":1041.67,"recurring":true,"segment":"smb","currency":"USD"}"#,
        r#"{"event_id":"ex-001","type":"rep_upserted","occurred_at":"2026-11-02T08:00:00-05:00","rep_id":"r-ana","team":"east","role":"bdr","max_daily_leads":45,"schema_version":1}"#,
        r#"{"appointment_id":"ap-9","contact_id":"c-99","event_id":"sim-7-309","occurred_at":"2026-11-24T12:57:06.399Z","rep_id":"r-team-9-bdr3","scheduled_for":"2026-11-28T02:57:06.399Z","type":"appointment_set"}"#,
        r#"{"event_id":"sim-7-85","lead_id":"L-3","occurred_at":"2026-11-24T12:40:56.407Z","reason":"existing_customer","rep_id":"r-south-bdr1","type":"lead_disqualified"}"#,
    ];

    /// Bytes that change the meaning of a JSON line.
    const SPECIALS: &[u8] = b"\"{}[],:-+.eE0159\\ \t\nntfuZTa\x00\x7f\xc2\x85\xff";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn built_lines_decode_as_through_a_json_tree(line in line(), euro in any::<bool>()) {
            let (new, old) = outcomes(&line, &rules(euro));
            prop_assert_eq!(new, old, "{}", String::from_utf8_lossy(&line));
        }

        #[test]
        fn damaged_lines_decode_as_through_a_json_tree(
            seed in select(SEEDS),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), select(SPECIALS), 0..3u8), 1..5),
        ) {
            let mut line = seed.as_bytes().to_vec();
            for (at, byte, how) in edits {
                let at = at.index(line.len());
                match how {
                    0 => line[at] = byte,
                    1 => line.insert(at, byte),
                    _ => { line.remove(at); }
                }
            }
            let (new, old) = outcomes(&line, &rules(false));
            prop_assert_eq!(new, old, "{}", String::from_utf8_lossy(&line));
        }
    }

    #[test]
    fn simulated_lines_decode_as_through_a_json_tree() {
        let config = SimConfig {
            seed: 11,
            start: Utc
                .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
                .single()
                .expect("valid start"),
            malformed_share: 0.2,
            ..SimConfig::default()
        };
        let simulator = Simulator::new(config);
        let roster = simulator.roster_events();
        let events = roster.into_iter().chain(simulator.take(5_000));
        for event in events {
            assert_same(&event.payload, &rules(false));
        }
    }

    #[test]
    fn edge_lines_decode_as_through_a_json_tree() {
        let nested = format!(
            r#"{{"event_id":"e","type":"activity","note":{}{}}}"#,
            "[".repeat(127),
            "]".repeat(127)
        );
        for line in [
            "",
            " ",
            "{}",
            "{ }",
            "{\"a\":1}",
            "\u{feff}{}",
            r#"{"event_id":"e","event_id":"e"}"#,
            r#"{"note":1,"note":2}"#,
            r#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"a":0}"#,
            r#"{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","a":"0"}"#,
            r#"{"event_id":"e"} "#,
            "{\"event_id\":\"e\"}\n",
            nested.as_str(),
        ] {
            assert_same(line.as_bytes(), &rules(false));
        }
    }
}
