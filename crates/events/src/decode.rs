//! One JSON line in, one typed [`Event`] or one [`Rejection`] out (EVENTS.md, SEMANTICS C1-C6).
//!
//! The line is read straight into one slot per known field, with no `serde_json::Value` tree: a
//! flat object without escapes (what producers send) by a byte scanner ([`flat`]), anything else
//! through serde_json member by member ([`serde_path`]), which also words every syntax error.
//! Keys are matched without allocating and strings are borrowed from the line (or from
//! serde_json's unescaped copy). Validation then reads the slots in the documented order, and
//! the outcome is the one the former decoder over a `serde_json::Value` gave (its tests compare
//! the two).

use std::fmt::Display;

use chrono::TimeDelta;
use rust_decimal::Decimal;

use crate::amount::parse_amount_text;
use crate::model::{
    Channel, DealAttributes, Event, EventKind, EventType, ExpenseCategory, Outcome, Role,
    RosterRecord, Stage, Timestamp,
};
use crate::reason::{RejectReason, Rejection};
use crate::timestamp::parse_timestamp;

#[cfg(test)]
mod dom;
mod flat;
mod serde_path;

/// The longest `event_id` / `rep_id`, in Unicode code points (SEMANTICS C4).
const MAX_ID_CHARS: usize = 128;

/// The only `schema_version` this build knows, as JSON integer text.
const SCHEMA_VERSION: &str = "1";

/// The largest message value or replay line accepted by default: 1 MiB (EVENTS.md v1.1).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

/// The deployment-specific parts of validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRules {
    /// A money-carrying event with a `currency` must name exactly this one (case-sensitive).
    pub reporting_currency: String,
    /// How far past "now" an `occurred_at` may be before it is `future_timestamp`.
    pub max_clock_skew: TimeDelta,
}

impl Default for ValidationRules {
    fn default() -> Self {
        ValidationRules {
            reporting_currency: "USD".to_owned(),
            max_clock_skew: TimeDelta::seconds(300),
        }
    }
}

/// Decodes and validates one line (without the clock check, see [`check_clock`]).
///
/// The first failing check decides the reason, in this order, so the same bad line always gets
/// the same reason:
///
/// 1. UTF-8, then JSON syntax, then "is an object" whose keys are all different —
///    `invalid_json`;
/// 2. `schema_version`: absent/`null`/`1` pass, another integer is `unsupported_version`,
///    anything else (`1.0`, `"1"`, `true`) is `invalid_field`;
/// 3. `event_id`, then `type` (`unknown_type` for an unknown name), then `occurred_at`
///    (`bad_timestamp` for anything present that is not a valid timestamp string);
/// 4. the type's required fields, then its optional fields, in the order of the EVENTS.md
///    table (`missing_field` / `invalid_field`);
/// 5. money, only once every field is well-formed: a negative `amount` is `negative_amount`,
///    then a `currency` on a money-carrying type that is not a string is `invalid_field` and
///    one that differs from the reporting currency is `foreign_currency`.
///
/// Every identifier and every dimension that becomes a label (`segment`, `industry`, a deal's
/// `channel`) is `invalid_field` when it holds a control character (U+0000–U+001F,
/// U+007F–U+009F), escaped or not.
///
/// A JSON `null` counts as absent everywhere. Unknown fields are ignored. Skipping blank lines
/// (SEMANTICS C2) and the size limit ([`check_size`]) are the caller's job: here an empty line is
/// `invalid_json`.
pub fn decode(line: &[u8], rules: &ValidationRules) -> Result<Event, Rejection> {
    let text = std::str::from_utf8(line).map_err(|error| {
        reject(
            RejectReason::InvalidJson,
            format!("not valid UTF-8: {error}"),
        )
    })?;
    let mut fields = Fields::EMPTY;
    // Declared here, set only when needed: the fields borrow from it.
    let parsed;
    if !flat::scan(text, &mut fields) {
        parsed = serde_path::parse_object(text)?;
        fields = parsed.fields();
    }

    check_schema_version(fields.get(Field::SchemaVersion))?;
    let event_id = fields.id(Field::EventId, IdRule::Bounded)?;
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

/// Rejects input of `len` bytes above `max_bytes` as `too_large` (EVENTS.md v1.1); exactly
/// `max_bytes` passes. Run before [`decode`], so an oversized message costs no parsing; it takes a
/// length rather than the bytes so that a reader can reject a line it never held whole.
pub fn check_size(len: usize, max_bytes: usize) -> Result<(), Rejection> {
    if len > max_bytes {
        return Err(reject(
            RejectReason::TooLarge,
            format!("{len} bytes is more than the maximum of {max_bytes} bytes"),
        ));
    }
    Ok(())
}

/// Rejects an event stamped beyond the allowed clock skew past `now` (SEMANTICS C6): exactly
/// `now + max_clock_skew` is still accepted. Kept apart from [`decode`] because "now" belongs to
/// the caller (wall clock or `--as-of`).
pub fn check_clock(
    event: &Event,
    now: Timestamp,
    rules: &ValidationRules,
) -> Result<(), Rejection> {
    // A limit beyond the representable range cannot be exceeded.
    match now.checked_add_signed(rules.max_clock_skew) {
        Some(limit) if event.occurred_at > limit => Err(reject(
            RejectReason::FutureTimestamp,
            format!(
                "`occurred_at` {} is more than {} s after now ({})",
                event.occurred_at.to_rfc3339(),
                rules.max_clock_skew.num_seconds(),
                now.to_rfc3339()
            ),
        )),
        _ => Ok(()),
    }
}

macro_rules! fields {
    ($($variant:ident = $name:literal),+ $(,)?) => {
        /// Every top-level field some event type reads; any other key is an ignored one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Field { $($variant),+ }

        impl Field {
            const COUNT: usize = [$($name),+].len();

            /// The wire spelling.
            const fn name(self) -> &'static str {
                match self { $(Field::$variant => $name),+ }
            }

            fn parse(text: &str) -> Option<Field> {
                match text { $($name => Some(Field::$variant),)+ _ => None }
            }
        }
    };
}

fields!(
    SchemaVersion = "schema_version",
    EventId = "event_id",
    Type = "type",
    OccurredAt = "occurred_at",
    RepId = "rep_id",
    ContactId = "contact_id",
    Channel = "channel",
    Established = "established",
    LeadId = "lead_id",
    AppointmentId = "appointment_id",
    ScheduledFor = "scheduled_for",
    Source = "source",
    Segment = "segment",
    Reason = "reason",
    Stage = "stage",
    DealId = "deal_id",
    Outcome = "outcome",
    Amount = "amount",
    Industry = "industry",
    CustomerId = "customer_id",
    Category = "category",
    Recurring = "recurring",
    Team = "team",
    Role = "role",
    MaxDailyLeads = "max_daily_leads",
    MaxDailyDeals = "max_daily_deals",
    Active = "active",
    Currency = "currency",
);

/// A top-level value, as much of it as validation reads; `null` is stored as absent. Borrowed
/// from the line, or from [`serde_path::ParsedFields`] when the line took serde_json's path.
#[derive(Debug, Clone, Copy)]
enum Member<'a> {
    Bool(bool),
    /// A number's JSON text, as serde_json keeps it with `arbitrary_precision`: amounts stay
    /// exact decimals, and `1.0` is told from `1`.
    Number(&'a str),
    Text(&'a str),
    /// An array or an object: never a valid field value, so its content is not kept.
    Nested,
}

impl<'a> Member<'a> {
    fn as_str(self) -> Option<&'a str> {
        match self {
            Member::Text(text) => Some(text),
            _ => None,
        }
    }

    fn as_bool(self) -> Option<bool> {
        match self {
            Member::Bool(flag) => Some(flag),
            _ => None,
        }
    }

    fn as_number(self) -> Option<&'a str> {
        match self {
            Member::Number(number) => Some(number),
            _ => None,
        }
    }
}

/// The top-level object: one slot per [`Field`], `None` when absent or `null`. Nothing in it is
/// owned, so it costs nothing to drop.
struct Fields<'a> {
    members: [Option<Member<'a>>; Field::COUNT],
    /// False when the line holds no byte a control character is encoded with, so that no string
    /// of it needs searching for one.
    may_hold_controls: bool,
}

fn check_schema_version(value: Option<Member<'_>>) -> Result<(), Rejection> {
    let Some(value) = value else {
        return Ok(());
    };
    // The number's exact JSON text (arbitrary_precision): `1.0` and `1e0` are not integers, and
    // an integer too large for i64/u64 is still an integer, so still `unsupported_version`.
    let integer = value.as_number().and_then(|text| {
        let digits = text.strip_prefix('-').unwrap_or(text);
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(text)
    });
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
            let rep_id = f.id(Field::RepId, IdRule::Bounded)?;
            let contact_id = f.id(Field::ContactId, IdRule::NonEmpty)?;
            let channel = f.choice(Field::Channel, Channel::parse, Channel::ALL)?;
            let established = f.flag(Field::Established)?;
            let lead_id = f.opt_id(Field::LeadId, IdRule::NonEmpty)?;
            EventKind::Activity {
                rep_id,
                contact_id,
                channel,
                established,
                lead_id,
            }
        }
        EventType::AppointmentSet => {
            let rep_id = f.id(Field::RepId, IdRule::Bounded)?;
            let contact_id = f.id(Field::ContactId, IdRule::NonEmpty)?;
            f.opt_string(Field::AppointmentId)?;
            f.opt_string(Field::ScheduledFor)?;
            EventKind::AppointmentSet { rep_id, contact_id }
        }
        EventType::LeadCreated => {
            let lead_id = f.id(Field::LeadId, IdRule::NonEmpty)?;
            let rep_id = f.opt_id(Field::RepId, IdRule::Bounded)?;
            f.opt_string(Field::Source)?;
            // Not kept today, but a segment is a label wherever it is used: checked as one.
            f.label(Field::Segment)?;
            EventKind::LeadCreated { lead_id, rep_id }
        }
        EventType::LeadAssigned => {
            let lead_id = f.id(Field::LeadId, IdRule::NonEmpty)?;
            let rep_id = f.id(Field::RepId, IdRule::Bounded)?;
            EventKind::LeadAssigned { lead_id, rep_id }
        }
        EventType::LeadDisqualified => {
            let lead_id = f.id(Field::LeadId, IdRule::NonEmpty)?;
            let rep_id = f.opt_id(Field::RepId, IdRule::Bounded)?;
            f.opt_string(Field::Reason)?;
            EventKind::LeadDisqualified { lead_id, rep_id }
        }
        EventType::LeadQualified => {
            let lead_id = f.id(Field::LeadId, IdRule::NonEmpty)?;
            let stage = f.choice(Field::Stage, Stage::parse, Stage::ALL)?;
            let rep_id = f.opt_id(Field::RepId, IdRule::Bounded)?;
            EventKind::LeadQualified {
                lead_id,
                stage,
                rep_id,
            }
        }
        EventType::DealOpened => {
            let deal_id = f.id(Field::DealId, IdRule::NonEmpty)?;
            let rep_id = f.id(Field::RepId, IdRule::Bounded)?;
            let attributes = f.deal_attributes()?;
            EventKind::DealOpened {
                deal_id,
                rep_id,
                attributes,
            }
        }
        EventType::DealClosed => {
            let deal_id = f.id(Field::DealId, IdRule::NonEmpty)?;
            let rep_id = f.id(Field::RepId, IdRule::Bounded)?;
            let outcome = f.choice(Field::Outcome, Outcome::parse, Outcome::ALL)?;
            let attributes = f.deal_attributes()?;
            EventKind::DealClosed {
                deal_id,
                rep_id,
                outcome,
                attributes,
            }
        }
        EventType::CustomerAcquired => {
            let customer_id = f.id(Field::CustomerId, IdRule::NonEmpty)?;
            let segment = f.opt_text(Field::Segment)?;
            f.opt_id_text(Field::DealId, IdRule::NonEmpty)?;
            EventKind::CustomerAcquired {
                customer_id,
                segment,
            }
        }
        EventType::Expense => {
            let amount = f.amount()?;
            let category = f.choice(
                Field::Category,
                ExpenseCategory::parse,
                ExpenseCategory::ALL,
            )?;
            let segment = f.opt_text(Field::Segment)?;
            EventKind::Expense {
                amount,
                category,
                segment,
            }
        }
        EventType::Revenue => {
            let customer_id = f.id(Field::CustomerId, IdRule::NonEmpty)?;
            let amount = f.amount()?;
            let recurring = f.flag(Field::Recurring)?;
            let segment = f.opt_text(Field::Segment)?;
            EventKind::Revenue {
                customer_id,
                amount,
                recurring,
                segment,
            }
        }
        EventType::CustomerCost => {
            let customer_id = f.id(Field::CustomerId, IdRule::NonEmpty)?;
            let amount = f.amount()?;
            EventKind::CustomerCost {
                customer_id,
                amount,
            }
        }
        EventType::RepUpserted => {
            let rep_id = f.id(Field::RepId, IdRule::Bounded)?;
            let team = f.id(Field::Team, IdRule::NonEmpty)?;
            let role = f.choice(Field::Role, Role::parse, Role::ALL)?;
            let max_daily_leads = f.opt_count(Field::MaxDailyLeads)?;
            let max_daily_deals = f.opt_count(Field::MaxDailyDeals)?;
            let active = f.opt_flag(Field::Active)?.unwrap_or(true);
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
    // parse_amount_text turns -0 into 0, so `-0` passes.
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
    match fields.get(Field::Currency) {
        None => Ok(()),
        Some(Member::Text(currency)) if *currency == rules.reporting_currency => Ok(()),
        Some(Member::Text(currency)) => Err(reject(
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

/// How an identifier is constrained (SEMANTICS C4).
#[derive(Debug, Clone, Copy)]
enum IdRule {
    /// `event_id`, `rep_id`: 1 to [`MAX_ID_CHARS`] code points.
    Bounded,
    /// `contact_id`, `lead_id`, `deal_id`, `customer_id`, `team`: any non-empty string.
    NonEmpty,
}

impl<'a> Fields<'a> {
    const EMPTY: Self = Fields {
        members: [None; Field::COUNT],
        may_hold_controls: true,
    };

    fn get(&self, field: Field) -> Option<Member<'a>> {
        self.members[field as usize]
    }

    fn required(&self, field: Field) -> Result<Member<'a>, Rejection> {
        self.get(field).ok_or_else(|| {
            reject(
                RejectReason::MissingField,
                format!("missing field `{}`", field.name()),
            )
        })
    }

    fn id(&self, field: Field, rule: IdRule) -> Result<String, Rejection> {
        let text = self.check_id(field, self.required(field)?, rule)?;
        Ok(text.to_owned())
    }

    fn opt_id(&self, field: Field, rule: IdRule) -> Result<Option<String>, Rejection> {
        Ok(self.opt_id_text(field, rule)?.map(str::to_owned))
    }

    /// [`Fields::opt_id`], borrowed: for an identifier that is checked but not kept.
    fn opt_id_text(&self, field: Field, rule: IdRule) -> Result<Option<&'a str>, Rejection> {
        self.get(field)
            .map(|value| self.check_id(field, value, rule))
            .transpose()
    }

    /// An optional string of any content, e.g. `scheduled_for` (only its type is checked).
    fn opt_string(&self, field: Field) -> Result<Option<&'a str>, Rejection> {
        match self.get(field) {
            None => Ok(None),
            Some(Member::Text(text)) => Ok(Some(text)),
            Some(_) => Err(invalid(field, "must be a string")),
        }
    }

    /// An optional free-text dimension, exported as a label: `""` means missing (SEMANTICS
    /// C17, C21).
    fn opt_text(&self, field: Field) -> Result<Option<String>, Rejection> {
        Ok(self.label(field)?.map(str::to_owned))
    }

    /// [`Fields::opt_text`], borrowed: for a label that is checked but not kept.
    fn label(&self, field: Field) -> Result<Option<&'a str>, Rejection> {
        let text = self.opt_string(field)?;
        if let Some(text) = text {
            self.check_no_control_characters(field, text)?;
        }
        Ok(text.filter(|text| !text.is_empty()))
    }

    fn event_type(&self) -> Result<EventType, Rejection> {
        match self.required(Field::Type)? {
            Member::Text(text) => EventType::parse(text).ok_or_else(|| {
                reject(
                    RejectReason::UnknownType,
                    format!("unknown `type` {}", quote(text)),
                )
            }),
            _ => Err(invalid(Field::Type, "must be a string")),
        }
    }

    fn occurred_at(&self) -> Result<Timestamp, Rejection> {
        let value = self.required(Field::OccurredAt)?;
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
        field: Field,
        parse: fn(&str) -> Option<T>,
        all: &[T],
    ) -> Result<T, Rejection> {
        self.required(field)?
            .as_str()
            .and_then(parse)
            .ok_or_else(|| {
                let names: Vec<String> = all.iter().map(ToString::to_string).collect();
                invalid(field, &format!("must be one of {}", names.join(", ")))
            })
    }

    fn flag(&self, field: Field) -> Result<bool, Rejection> {
        check_flag(field, self.required(field)?)
    }

    fn opt_flag(&self, field: Field) -> Result<Option<bool>, Rejection> {
        self.get(field)
            .map(|value| check_flag(field, value))
            .transpose()
    }

    fn opt_count(&self, field: Field) -> Result<Option<u64>, Rejection> {
        self.get(field)
            .map(|value| {
                // JSON `-0` is the integer 0 (C5 treats `-0` as not negative, too).
                // What `serde_json::Number::as_u64` does with `arbitrary_precision`.
                let number = value.as_number();
                number
                    .and_then(|text| text.parse().ok())
                    .or_else(|| (number? == "-0").then_some(0))
                    .ok_or_else(|| invalid(field, "must be a non-negative integer"))
            })
            .transpose()
    }

    fn amount(&self) -> Result<Decimal, Rejection> {
        check_amount(self.required(Field::Amount)?)
    }

    fn opt_amount(&self) -> Result<Option<Decimal>, Rejection> {
        self.get(Field::Amount).map(check_amount).transpose()
    }

    /// A deal's dimensions; an empty string counts as missing (C17), for the amount too.
    fn deal_attributes(&self) -> Result<DealAttributes, Rejection> {
        let amount = match self.get(Field::Amount) {
            Some(Member::Text("")) => None,
            _ => self.opt_amount()?,
        };
        let industry = self.opt_text(Field::Industry)?;
        let channel = self.opt_text(Field::Channel)?;
        let segment = self.opt_text(Field::Segment)?;
        Ok(DealAttributes {
            amount,
            industry,
            channel,
            segment,
        })
    }

    fn check_id(
        &self,
        field: Field,
        value: Member<'a>,
        rule: IdRule,
    ) -> Result<&'a str, Rejection> {
        let text = value.as_str().unwrap_or_default();
        // A code point takes at least one byte: most ids need no counting.
        let bounded = !text.is_empty()
            && (text.len() <= MAX_ID_CHARS || text.chars().count() <= MAX_ID_CHARS);
        match rule {
            IdRule::Bounded if !bounded => Err(invalid(
                field,
                &format!("must be a string of 1-{MAX_ID_CHARS} characters"),
            )),
            IdRule::NonEmpty if text.is_empty() => {
                Err(invalid(field, "must be a non-empty string"))
            }
            IdRule::Bounded | IdRule::NonEmpty => {
                self.check_no_control_characters(field, text)?;
                Ok(text)
            }
        }
    }

    /// Identifiers become label values and map keys: a control character (C0, DEL or C1, what
    /// [`char::is_control`] names) would make an exposition line or a log line ambiguous, and JSON
    /// lets one in escaped (`\u0000`), so it is refused after unescaping.
    fn check_no_control_characters(&self, field: Field, text: &str) -> Result<(), Rejection> {
        // In UTF-8, U+0080-U+009F are 0xC2 then a continuation byte: a text with no 0xC2 byte and
        // no ASCII control byte has no control character, and the characters are decoded only
        // when it might.
        let might_have_control = self.may_hold_controls
            && text
                .bytes()
                .any(|byte| byte.is_ascii_control() || byte == 0xC2);
        if might_have_control && text.chars().any(char::is_control) {
            return Err(invalid(
                field,
                "must not contain control characters (U+0000-U+001F, U+007F-U+009F)",
            ));
        }
        Ok(())
    }
}

fn check_flag(field: Field, value: Member<'_>) -> Result<bool, Rejection> {
    value
        .as_bool()
        .ok_or_else(|| invalid(field, "must be true or false"))
}

fn check_amount(value: Member<'_>) -> Result<Decimal, Rejection> {
    let text = match value {
        Member::Number(text) => Some(text),
        Member::Text(text) => Some(text),
        Member::Bool(_) | Member::Nested => None,
    };
    text.and_then(parse_amount_text)
        .ok_or_else(|| invalid(Field::Amount, "must be a JSON number or a decimal string"))
}

fn reject(reason: RejectReason, detail: impl Into<String>) -> Rejection {
    Rejection::new(reason, detail)
}

fn invalid(field: Field, what: &str) -> Rejection {
    reject(
        RejectReason::InvalidField,
        format!("`{}` {what}", field.name()),
    )
}

/// Quotes untrusted text for a detail message, cut to a readable length.
fn quote(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    if text.chars().count() > MAX_CHARS {
        let head: String = text.chars().take(MAX_CHARS).collect();
        format!("{head:?}…")
    } else {
        format!("{text:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};
    use std::str::FromStr;

    fn rules() -> ValidationRules {
        ValidationRules::default()
    }

    fn ok(line: &str) -> Event {
        match decode(line.as_bytes(), &rules()) {
            Ok(event) => event,
            Err(rejection) => panic!("{line} was rejected: {rejection}"),
        }
    }

    fn err(line: &str) -> Rejection {
        match decode(line.as_bytes(), &rules()) {
            Ok(event) => panic!("{line} was accepted: {event:?}"),
            Err(rejection) => rejection,
        }
    }

    fn reason(line: &str) -> RejectReason {
        err(line).reason
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).expect("valid test decimal")
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid test date")
    }

    /// `base` with `changes` applied; the value `"<remove>"` deletes the field.
    fn with(base: &Value, changes: Value) -> String {
        let mut object = base.as_object().cloned().expect("base is an object");
        for (key, value) in changes.as_object().cloned().expect("changes is an object") {
            if value == json!("<remove>") {
                object.remove(&key);
            } else {
                object.insert(key, value);
            }
        }
        Value::Object(object).to_string()
    }

    fn activity() -> Value {
        json!({"event_id":"e-1","type":"activity","occurred_at":"2026-11-23T09:00:00Z",
               "rep_id":"r-1","contact_id":"c-1","channel":"call","established":true})
    }

    fn deal_closed() -> Value {
        json!({"event_id":"e-2","type":"deal_closed","occurred_at":"2026-11-23T09:00:00Z",
               "deal_id":"D-1","rep_id":"r-1","outcome":"won"})
    }

    fn expense() -> Value {
        json!({"event_id":"e-3","type":"expense","occurred_at":"2026-11-23T09:00:00Z",
               "amount":"10","category":"sales"})
    }

    fn rep_upserted() -> Value {
        json!({"event_id":"e-4","type":"rep_upserted","occurred_at":"2026-11-23T09:00:00Z",
               "rep_id":"r-1","team":"east","role":"ae"})
    }

    // ---- examples.jsonl, line by line -------------------------------------------------------

    #[test]
    fn example_rep_upserted() {
        let event = ok(
            r#"{"event_id":"ex-001","type":"rep_upserted","occurred_at":"2026-11-02T08:00:00-05:00","rep_id":"r-ana","team":"east","role":"bdr","max_daily_leads":45}"#,
        );
        assert_eq!(
            event,
            Event {
                event_id: "ex-001".into(),
                occurred_at: utc(2026, 11, 2, 13, 0, 0),
                kind: EventKind::RepUpserted {
                    rep_id: "r-ana".into(),
                    record: RosterRecord {
                        team: "east".into(),
                        role: Role::Bdr,
                        max_daily_leads: Some(45),
                        max_daily_deals: None,
                        active: true,
                    },
                },
            }
        );
        let event = ok(
            r#"{"event_id":"ex-002","type":"rep_upserted","occurred_at":"2026-11-02T08:00:00-05:00","rep_id":"r-ben","team":"east","role":"ae","max_daily_deals":6,"active":true}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::RepUpserted {
                rep_id: "r-ben".into(),
                record: RosterRecord {
                    team: "east".into(),
                    role: Role::Ae,
                    max_daily_leads: None,
                    max_daily_deals: Some(6),
                    active: true,
                },
            }
        );
        assert_eq!(event.event_type(), EventType::RepUpserted);
    }

    #[test]
    fn example_leads() {
        let event = ok(
            r#"{"event_id":"ex-003","type":"lead_created","occurred_at":"2026-11-23T09:00:00-05:00","lead_id":"L-1","rep_id":"r-ana","source":"webinar","segment":"smb"}"#,
        );
        assert_eq!(event.occurred_at, utc(2026, 11, 23, 14, 0, 0));
        assert_eq!(
            event.kind,
            EventKind::LeadCreated {
                lead_id: "L-1".into(),
                rep_id: Some("r-ana".into())
            }
        );
        let event = ok(
            r#"{"event_id":"ex-007","type":"lead_qualified","occurred_at":"2026-11-23T11:00:00-05:00","lead_id":"L-1","stage":"mql"}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::LeadQualified {
                lead_id: "L-1".into(),
                stage: Stage::Mql,
                rep_id: None
            }
        );
        let event = ok(
            r#"{"event_id":"ex-008","type":"lead_assigned","occurred_at":"2026-11-24T08:00:00-05:00","lead_id":"L-1","rep_id":"r-ben"}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::LeadAssigned {
                lead_id: "L-1".into(),
                rep_id: "r-ben".into()
            }
        );
        let event = ok(
            r#"{"event_id":"ex-009","type":"lead_qualified","occurred_at":"2026-11-24T08:30:00-05:00","lead_id":"L-1","stage":"sql","rep_id":"r-ben"}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::LeadQualified {
                lead_id: "L-1".into(),
                stage: Stage::Sql,
                rep_id: Some("r-ben".into())
            }
        );
    }

    #[test]
    fn lead_disqualified_with_and_without_its_optional_fields() {
        let event = ok(
            r#"{"event_id":"dq-1","type":"lead_disqualified","occurred_at":"2026-11-24T09:00:00Z","lead_id":"L-2","rep_id":"r-ana","reason":"duplicate"}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::LeadDisqualified {
                lead_id: "L-2".into(),
                rep_id: Some("r-ana".into())
            }
        );
        assert_eq!(event.rep_id(), Some("r-ana"));
        let event = ok(
            r#"{"event_id":"dq-2","type":"lead_disqualified","occurred_at":"2026-11-24T09:00:00Z","lead_id":"L-3"}"#,
        );
        assert_eq!(event.rep_id(), None);
        let line = r#"{"event_id":"dq-3","type":"lead_disqualified","occurred_at":"2026-11-24T09:00:00Z","lead_id":"L-3","reason":7}"#;
        assert_eq!(err(line).reason, RejectReason::InvalidField);
        assert_eq!(err(line).detail, "`reason` must be a string");
    }

    #[test]
    fn example_activities() {
        let line = r#"{"event_id":"ex-004","type":"activity","occurred_at":"2026-11-23T09:03:30-05:00","rep_id":"r-ana","contact_id":"c-17","channel":"call","established":true,"lead_id":"L-1"}"#;
        let event = ok(line);
        assert_eq!(event.event_id, "ex-004");
        assert_eq!(event.occurred_at, utc(2026, 11, 23, 14, 3, 30));
        assert_eq!(
            event.kind,
            EventKind::Activity {
                rep_id: "r-ana".into(),
                contact_id: "c-17".into(),
                channel: Channel::Call,
                established: true,
                lead_id: Some("L-1".into()),
            }
        );
        // The duplicate line decodes identically (de-duplication is the engine's job, C1).
        assert_eq!(ok(line), event);

        let event = ok(
            r#"{"event_id":"ex-005","type":"appointment_set","occurred_at":"2026-11-23T09:10:00-05:00","rep_id":"r-ana","contact_id":"c-17","appointment_id":"ap-1","scheduled_for":"2026-11-25T14:00:00-05:00"}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::AppointmentSet {
                rep_id: "r-ana".into(),
                contact_id: "c-17".into()
            }
        );
        let event = ok(
            r#"{"event_id":"ex-006","type":"activity","occurred_at":"2026-11-23T10:00:00Z","rep_id":"r-ana","contact_id":"c-18","channel":"email","established":false}"#,
        );
        assert_eq!(event.occurred_at, utc(2026, 11, 23, 10, 0, 0));
        assert_eq!(
            event.kind,
            EventKind::Activity {
                rep_id: "r-ana".into(),
                contact_id: "c-18".into(),
                channel: Channel::Email,
                established: false,
                lead_id: None,
            }
        );
    }

    #[test]
    fn example_deals() {
        let event = ok(
            r#"{"event_id":"ex-010","type":"deal_opened","occurred_at":"2026-11-24T09:00:00-05:00","deal_id":"D-1","rep_id":"r-ben","amount":"12500.00","industry":"retail","channel":"inbound","segment":"smb"}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::DealOpened {
                deal_id: "D-1".into(),
                rep_id: "r-ben".into(),
                attributes: DealAttributes {
                    amount: Some(dec("12500")),
                    industry: Some("retail".into()),
                    channel: Some("inbound".into()),
                    segment: Some("smb".into()),
                },
            }
        );
        let event = ok(
            r#"{"event_id":"ex-011","type":"deal_closed","occurred_at":"2026-11-26T16:00:00-05:00","deal_id":"D-1","rep_id":"r-ben","outcome":"won","amount":12500}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::DealClosed {
                deal_id: "D-1".into(),
                rep_id: "r-ben".into(),
                outcome: Outcome::Won,
                attributes: DealAttributes {
                    amount: Some(dec("12500")),
                    ..DealAttributes::default()
                },
            }
        );
    }

    #[test]
    fn example_finance() {
        let event = ok(
            r#"{"event_id":"ex-012","type":"customer_acquired","occurred_at":"2026-11-26T16:05:00-05:00","customer_id":"cu-1","segment":"smb","deal_id":"D-1"}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::CustomerAcquired {
                customer_id: "cu-1".into(),
                segment: Some("smb".into())
            }
        );
        assert!(event.is_finance());
        let event = ok(
            r#"{"event_id":"ex-013","type":"expense","occurred_at":"2026-11-01T00:00:00-04:00","amount":8000,"category":"marketing","segment":"smb","currency":"USD"}"#,
        );
        assert_eq!(event.occurred_at, utc(2026, 11, 1, 4, 0, 0));
        assert_eq!(
            event.kind,
            EventKind::Expense {
                amount: dec("8000"),
                category: ExpenseCategory::Marketing,
                segment: Some("smb".into())
            }
        );
        let event = ok(
            r#"{"event_id":"ex-014","type":"expense","occurred_at":"2026-11-01T00:00:00-04:00","amount":"4200.50","category":"sales"}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::Expense {
                amount: dec("4200.50"),
                category: ExpenseCategory::Sales,
                segment: None
            }
        );
        let event = ok(
            r#"{"event_id":"ex-015","type":"revenue","occurred_at":"2026-11-27T00:00:00-05:00","customer_id":"cu-1","amount":1041.67,"recurring":true,"segment":"smb"}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::Revenue {
                customer_id: "cu-1".into(),
                amount: dec("1041.67"),
                recurring: true,
                segment: Some("smb".into())
            }
        );
        let event = ok(
            r#"{"event_id":"ex-016","type":"customer_cost","occurred_at":"2026-11-27T00:00:00-05:00","customer_id":"cu-1","amount":120}"#,
        );
        assert_eq!(
            event.kind,
            EventKind::CustomerCost {
                customer_id: "cu-1".into(),
                amount: dec("120")
            }
        );
    }

    #[test]
    fn example_rejections() {
        let cases = [
            (
                r#"{"event_id":"bad-1","type":"activity","occurred_at":"2026-11-23T09:00:00","rep_id":"r-ana","contact_id":"c-1","channel":"call","established":true}"#,
                RejectReason::BadTimestamp,
                "`occurred_at` must be an RFC 3339 timestamp with an offset",
            ),
            (
                r#"{"event_id":"bad-2","type":"activity","occurred_at":"2026-11-23T09:00:00Z","rep_id":"r-ana","contact_id":"c-1","channel":"fax","established":true}"#,
                RejectReason::InvalidField,
                "`channel` must be one of call, email, chat",
            ),
            (
                r#"{"event_id":"bad-3","type":"expense","occurred_at":"2026-11-23T09:00:00Z","amount":-5,"category":"sales"}"#,
                RejectReason::NegativeAmount,
                "`amount` must not be negative",
            ),
            (
                r#"{"event_id":"bad-4","type":"revenue","occurred_at":"2026-11-23T09:00:00Z","customer_id":"cu-1","amount":10,"recurring":true,"currency":"EUR"}"#,
                RejectReason::ForeignCurrency,
                "`currency` \"EUR\" is not the reporting currency \"USD\"",
            ),
            (
                r#"{"event_id":"bad-5","type":"meeting","occurred_at":"2026-11-23T09:00:00Z","rep_id":"r-ana"}"#,
                RejectReason::UnknownType,
                "unknown `type` \"meeting\"",
            ),
            (
                r#"{"event_id":"bad-6","type":"deal_closed","occurred_at":"2026-11-23T09:00:00Z","deal_id":"D-9","rep_id":"r-ben"}"#,
                RejectReason::MissingField,
                "missing field `outcome`",
            ),
        ];
        for (line, want_reason, want_detail) in cases {
            let rejection = err(line);
            assert_eq!(rejection.reason, want_reason, "{line}");
            assert_eq!(rejection.detail, want_detail, "{line}");
        }
        assert_eq!(reason("not json at all"), RejectReason::InvalidJson);
    }

    #[test]
    fn examples_file_when_present() {
        // The spec lives beside the repository; the inline copies above are the real test.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/spec/examples.jsonl"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let outcomes: Vec<Result<String, RejectReason>> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                decode(line.as_bytes(), &rules())
                    .map(|event| event.event_id)
                    .map_err(|rejection| rejection.reason)
            })
            .collect();
        let accepted = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        let rejected: Vec<RejectReason> = outcomes
            .iter()
            .filter_map(|outcome| outcome.clone().err())
            .collect();
        assert_eq!(accepted, 17, "16 events plus the duplicate line");
        assert_eq!(
            rejected,
            [
                RejectReason::BadTimestamp,
                RejectReason::InvalidField,
                RejectReason::NegativeAmount,
                RejectReason::ForeignCurrency,
                RejectReason::UnknownType,
                RejectReason::MissingField,
                RejectReason::InvalidJson,
            ]
        );
    }

    // ---- envelope ---------------------------------------------------------------------------

    #[test]
    fn invalid_json() {
        for line in [
            &b"not json at all"[..],
            b"",
            b"{",
            b"{\"event_id\":\"e\",}",
            b"\xff\xfe{}",
            b"{\"event_id\":\"\xc3\x28\"}",
            b"[]",
            b"[1,2]",
            b"\"activity\"",
            b"42",
            b"null",
            b"true",
            b"{} {}",
        ] {
            let rejection = decode(line, &rules()).expect_err("must be rejected");
            assert_eq!(rejection.reason, RejectReason::InvalidJson, "{line:?}");
        }
        let rejection = decode(b"\xff", &rules()).expect_err("must be rejected");
        assert!(rejection.detail.contains("UTF-8"), "{}", rejection.detail);
        assert_eq!(err("[]").detail, "not a JSON object");
    }

    #[test]
    fn schema_version() {
        let base = activity();
        assert!(
            decode(
                with(&base, json!({"schema_version": 1})).as_bytes(),
                &rules()
            )
            .is_ok()
        );
        assert!(
            decode(
                with(&base, json!({"schema_version": null})).as_bytes(),
                &rules()
            )
            .is_ok()
        );
        for version in [
            json!(2),
            json!(0),
            json!(-1),
            json!(99999999999999999999999u128),
        ] {
            let line = with(&base, json!({ "schema_version": version }));
            assert_eq!(reason(&line), RejectReason::UnsupportedVersion, "{line}");
        }
        for version in [json!(1.5), json!("1"), json!(true), json!([1]), json!({})] {
            let line = with(&base, json!({ "schema_version": version }));
            assert_eq!(reason(&line), RejectReason::InvalidField, "{line}");
        }
        // `1.0` and `1e0` are not integers (exact JSON text, not their value).
        let text = base.to_string();
        for version in ["1.0", "1e0", "1E0"] {
            let line = text.replacen('{', &format!("{{\"schema_version\":{version},"), 1);
            assert_eq!(reason(&line), RejectReason::InvalidField, "{line}");
        }
        // schema_version is checked before everything else.
        assert_eq!(
            reason(r#"{"schema_version":2,"type":"meeting"}"#),
            RejectReason::UnsupportedVersion
        );
        assert_eq!(
            err(r#"{"schema_version":2}"#).detail,
            "unsupported `schema_version` 2 (this build reads 1)"
        );
    }

    #[test]
    fn event_id() {
        let base = activity();
        for bad in [
            json!(""),
            json!(7),
            json!(true),
            json!(["e"]),
            json!("x".repeat(129)),
        ] {
            let rejection = err(&with(&base, json!({ "event_id": bad })));
            assert_eq!(rejection.reason, RejectReason::InvalidField);
            assert_eq!(
                rejection.detail,
                "`event_id` must be a string of 1-128 characters"
            );
        }
        for missing in [json!("<remove>"), Value::Null] {
            let rejection = err(&with(&base, json!({ "event_id": missing })));
            assert_eq!(rejection.reason, RejectReason::MissingField);
            assert_eq!(rejection.detail, "missing field `event_id`");
        }
        // 128 code points, 512 bytes: fine.
        let long = "é".repeat(64) + &"😀".repeat(64);
        assert_eq!(ok(&with(&base, json!({ "event_id": long }))).event_id, long);
    }

    #[test]
    fn type_field() {
        let base = activity();
        assert_eq!(
            reason(&with(&base, json!({"type": "<remove>"}))),
            RejectReason::MissingField
        );
        assert_eq!(
            reason(&with(&base, json!({"type": null}))),
            RejectReason::MissingField
        );
        assert_eq!(
            reason(&with(&base, json!({"type": 3}))),
            RejectReason::InvalidField
        );
        assert_eq!(
            reason(&with(&base, json!({"type": "Activity"}))),
            RejectReason::UnknownType
        );
        assert_eq!(
            reason(&with(&base, json!({"type": ""}))),
            RejectReason::UnknownType
        );
        // Reported before a bad occurred_at.
        assert_eq!(
            reason(&with(&base, json!({"type": "meeting", "occurred_at": "x"}))),
            RejectReason::UnknownType
        );
        // A very long unknown type is cut in the detail.
        let detail = err(&with(&base, json!({"type": "t".repeat(1000)}))).detail;
        assert!(detail.len() < 100, "{detail}");
    }

    #[test]
    fn occurred_at() {
        let base = activity();
        assert_eq!(
            reason(&with(&base, json!({"occurred_at": "<remove>"}))),
            RejectReason::MissingField
        );
        assert_eq!(
            reason(&with(&base, json!({"occurred_at": null}))),
            RejectReason::MissingField
        );
        for bad in [
            json!(1_732_353_300),
            json!({"ts": "2026-11-23T09:00:00Z"}),
            json!(true),
            json!(""),
            json!("2026-11-23"),
            json!("2026-11-23T09:00:60Z"),
            json!("2026-02-30T09:00:00Z"),
            json!("2026-11-23T09:00:00+0500"),
        ] {
            let line = with(&base, json!({ "occurred_at": bad }));
            assert_eq!(reason(&line), RejectReason::BadTimestamp, "{line}");
        }
        let event = ok(&with(
            &base,
            json!({"occurred_at": "2026-11-23 09:00:00.000000001z"}),
        ));
        assert_eq!(
            event.occurred_at,
            utc(2026, 11, 23, 9, 0, 0) + TimeDelta::nanoseconds(1)
        );
    }

    #[test]
    fn envelope_check_order() {
        // event_id before type before occurred_at before the type's fields.
        assert_eq!(
            err(r#"{"type":"meeting","occurred_at":"x"}"#).detail,
            "missing field `event_id`"
        );
        assert_eq!(
            err(r#"{"event_id":"e","occurred_at":"x"}"#).detail,
            "missing field `type`"
        );
        assert_eq!(
            reason(r#"{"event_id":"e","type":"activity","occurred_at":"x"}"#),
            RejectReason::BadTimestamp
        );
        assert_eq!(
            err(r#"{"event_id":"e","type":"activity","occurred_at":"2026-11-23T09:00:00Z"}"#)
                .detail,
            "missing field `rep_id`"
        );
    }

    // ---- type fields ------------------------------------------------------------------------

    #[test]
    fn required_fields_in_table_order() {
        let base = activity();
        let bare = with(
            &base,
            json!({"rep_id": "<remove>", "contact_id": "<remove>", "channel": "<remove>", "established": "<remove>"}),
        );
        assert_eq!(err(&bare).detail, "missing field `rep_id`");
        let line = with(&base, json!({"contact_id": null, "channel": "fax"}));
        assert_eq!(err(&line).detail, "missing field `contact_id`");
        let line = with(&base, json!({"channel": "fax", "established": "yes"}));
        assert_eq!(
            err(&line).detail,
            "`channel` must be one of call, email, chat"
        );
        let line = with(&base, json!({"established": "yes", "lead_id": 5}));
        assert_eq!(err(&line).detail, "`established` must be true or false");
        let line = with(&base, json!({"lead_id": 5}));
        assert_eq!(err(&line).detail, "`lead_id` must be a non-empty string");
        // A structural error wins over a money error.
        let line = with(
            &expense(),
            json!({"amount": -5, "category": "travel", "currency": "EUR"}),
        );
        assert_eq!(
            err(&line).detail,
            "`category` must be one of sales, marketing"
        );
    }

    #[test]
    fn every_type_missing_its_required_fields() {
        let cases: [(&str, &[&str]); 13] = [
            (
                "activity",
                &["rep_id", "contact_id", "channel", "established"],
            ),
            ("appointment_set", &["rep_id", "contact_id"]),
            ("lead_created", &["lead_id"]),
            ("lead_assigned", &["lead_id", "rep_id"]),
            ("lead_disqualified", &["lead_id"]),
            ("lead_qualified", &["lead_id", "stage"]),
            ("deal_opened", &["deal_id", "rep_id"]),
            ("deal_closed", &["deal_id", "rep_id", "outcome"]),
            ("customer_acquired", &["customer_id"]),
            ("expense", &["amount", "category"]),
            ("revenue", &["customer_id", "amount", "recurring"]),
            ("customer_cost", &["customer_id", "amount"]),
            ("rep_upserted", &["rep_id", "team", "role"]),
        ];
        let valid = json!({
            "rep_id": "r-1", "contact_id": "c-1", "channel": "chat", "established": false,
            "lead_id": "L-1", "stage": "sql", "deal_id": "D-1", "outcome": "lost",
            "customer_id": "cu-1", "amount": "1", "category": "sales", "recurring": false,
            "team": "west", "role": "other",
        });
        for (event_type, required) in cases {
            let mut object = json!({"event_id": "e", "type": event_type,
                                    "occurred_at": "2026-11-23T09:00:00Z"});
            for name in required {
                object[*name] = valid[*name].clone();
            }
            let line = object.to_string();
            assert_eq!(ok(&line).event_type().as_str(), event_type);
            for (index, name) in required.iter().enumerate() {
                // Removing this one and every later one: this one is reported.
                let mut partial = object.clone();
                for later in &required[index..] {
                    partial[*later] = Value::Null;
                }
                assert_eq!(
                    err(&partial.to_string()).detail,
                    format!("missing field `{name}`"),
                    "{event_type}"
                );
            }
        }
    }

    #[test]
    fn identifiers() {
        let base = activity();
        let long_rep = "r".repeat(129);
        assert_eq!(
            err(&with(&base, json!({"rep_id": long_rep}))).detail,
            "`rep_id` must be a string of 1-128 characters"
        );
        assert_eq!(
            ok(&with(&base, json!({"rep_id": "r".repeat(128)}))).rep_id(),
            Some("r".repeat(128).as_str())
        );
        assert_eq!(
            reason(&with(&base, json!({"rep_id": ""}))),
            RejectReason::InvalidField
        );
        assert_eq!(
            reason(&with(&base, json!({"rep_id": 12}))),
            RejectReason::InvalidField
        );
        assert_eq!(
            reason(&with(&base, json!({"contact_id": ""}))),
            RejectReason::InvalidField
        );
        // contact_id has no upper bound.
        assert!(
            decode(
                with(&base, json!({"contact_id": "c".repeat(500)})).as_bytes(),
                &rules()
            )
            .is_ok()
        );

        // rep_id is bounded even where it is optional; null is absent there.
        let lead = json!({"event_id":"e","type":"lead_created","occurred_at":"2026-11-23T09:00:00Z","lead_id":"L-1"});
        assert_eq!(
            reason(&with(&lead, json!({"rep_id": "r".repeat(129)}))),
            RejectReason::InvalidField
        );
        assert_eq!(
            reason(&with(&lead, json!({"rep_id": ""}))),
            RejectReason::InvalidField
        );
        assert_eq!(
            ok(&with(&lead, json!({"rep_id": null}))).kind,
            EventKind::LeadCreated {
                lead_id: "L-1".into(),
                rep_id: None
            }
        );
        assert_eq!(
            reason(&with(&lead, json!({"lead_id": ""}))),
            RejectReason::InvalidField
        );
        assert_eq!(
            reason(&with(&rep_upserted(), json!({"team": ""}))),
            RejectReason::InvalidField
        );
    }

    #[test]
    fn enumerations_are_case_sensitive() {
        assert_eq!(
            reason(&with(&activity(), json!({"channel": "Call"}))),
            RejectReason::InvalidField
        );
        assert_eq!(
            reason(&with(&activity(), json!({"channel": 1}))),
            RejectReason::InvalidField
        );
        assert_eq!(
            err(&with(&deal_closed(), json!({"outcome": "WON"}))).detail,
            "`outcome` must be one of won, lost"
        );
        assert_eq!(
            err(&with(&rep_upserted(), json!({"role": "AE"}))).detail,
            "`role` must be one of bdr, ae, other"
        );
        let qualified = json!({"event_id":"e","type":"lead_qualified","occurred_at":"2026-11-23T09:00:00Z","lead_id":"L-1","stage":"MQL"});
        assert_eq!(
            err(&qualified.to_string()).detail,
            "`stage` must be one of mql, sql"
        );
    }

    #[test]
    fn booleans_are_json_booleans() {
        for bad in [json!("true"), json!(1), json!(0), json!("false")] {
            let line = with(&activity(), json!({ "established": bad }));
            assert_eq!(
                err(&line).detail,
                "`established` must be true or false",
                "{line}"
            );
            let line = with(&rep_upserted(), json!({ "active": bad }));
            assert_eq!(
                err(&line).detail,
                "`active` must be true or false",
                "{line}"
            );
        }
        let revenue = json!({"event_id":"e","type":"revenue","occurred_at":"2026-11-23T09:00:00Z",
                             "customer_id":"cu-1","amount":"1","recurring":"true"});
        assert_eq!(reason(&revenue.to_string()), RejectReason::InvalidField);
        assert_eq!(
            reason(&with(&activity(), json!({"established": null}))),
            RejectReason::MissingField
        );
    }

    #[test]
    fn rep_upserted_optional_fields() {
        let event = ok(&with(
            &rep_upserted(),
            json!({"max_daily_leads": 0, "max_daily_deals": 18446744073709551615u64, "active": false}),
        ));
        assert_eq!(
            event.kind,
            EventKind::RepUpserted {
                rep_id: "r-1".into(),
                record: RosterRecord {
                    team: "east".into(),
                    role: Role::Ae,
                    max_daily_leads: Some(0),
                    max_daily_deals: Some(u64::MAX),
                    active: false,
                },
            }
        );
        let event = ok(&with(
            &rep_upserted(),
            json!({"max_daily_leads": null, "max_daily_deals": null, "active": null}),
        ));
        assert!(matches!(
            event.kind,
            EventKind::RepUpserted {
                record: RosterRecord {
                    max_daily_leads: None,
                    max_daily_deals: None,
                    active: true,
                    ..
                },
                ..
            }
        ));
        for bad in [
            json!(-1),
            json!(4.5),
            json!("45"),
            json!(true),
            json!(18446744073709551616u128),
        ] {
            let line = with(&rep_upserted(), json!({ "max_daily_leads": bad }));
            assert_eq!(
                err(&line).detail,
                "`max_daily_leads` must be a non-negative integer"
            );
        }
        let line = with(&rep_upserted(), json!({"max_daily_deals": 2.0}));
        assert_eq!(
            err(&line).detail,
            "`max_daily_deals` must be a non-negative integer"
        );
    }

    #[test]
    fn optional_strings() {
        let appointment = json!({"event_id":"e","type":"appointment_set","occurred_at":"2026-11-23T09:00:00Z",
                                 "rep_id":"r-1","contact_id":"c-1"});
        // scheduled_for is only checked to be a string.
        assert!(
            decode(
                with(
                    &appointment,
                    json!({"scheduled_for": "next tuesday", "appointment_id": ""})
                )
                .as_bytes(),
                &rules()
            )
            .is_ok()
        );
        assert_eq!(
            err(&with(&appointment, json!({"appointment_id": 1}))).detail,
            "`appointment_id` must be a string"
        );
        assert_eq!(
            err(&with(&appointment, json!({"scheduled_for": 1_732_353_300}))).detail,
            "`scheduled_for` must be a string"
        );
        let lead = json!({"event_id":"e","type":"lead_created","occurred_at":"2026-11-23T09:00:00Z","lead_id":"L-1"});
        assert_eq!(
            err(&with(&lead, json!({"source": ["web"]}))).detail,
            "`source` must be a string"
        );
        assert_eq!(
            err(&with(&lead, json!({"segment": 1}))).detail,
            "`segment` must be a string"
        );
        let customer = json!({"event_id":"e","type":"customer_acquired","occurred_at":"2026-11-23T09:00:00Z","customer_id":"cu-1"});
        assert_eq!(
            err(&with(&customer, json!({"deal_id": 9}))).detail,
            "`deal_id` must be a non-empty string"
        );
        assert_eq!(
            ok(&with(&customer, json!({"deal_id": null, "segment": null}))).kind,
            EventKind::CustomerAcquired {
                customer_id: "cu-1".into(),
                segment: None
            }
        );
        assert_eq!(
            err(&with(&deal_closed(), json!({"industry": 3}))).detail,
            "`industry` must be a string"
        );
        assert_eq!(
            err(&with(&deal_closed(), json!({"channel": false}))).detail,
            "`channel` must be a string"
        );
    }

    #[test]
    fn empty_free_text_is_none() {
        let event = ok(&with(
            &deal_closed(),
            json!({"industry": "", "channel": "", "segment": ""}),
        ));
        assert_eq!(
            event.kind,
            EventKind::DealClosed {
                deal_id: "D-1".into(),
                rep_id: "r-1".into(),
                outcome: Outcome::Won,
                attributes: DealAttributes::default(),
            }
        );
        let event = ok(&with(&expense(), json!({"segment": ""})));
        assert!(matches!(
            event.kind,
            EventKind::Expense { segment: None, .. }
        ));
        let customer = json!({"event_id":"e","type":"customer_acquired","occurred_at":"2026-11-23T09:00:00Z","customer_id":"cu-1","segment":""});
        assert!(matches!(
            ok(&customer.to_string()).kind,
            EventKind::CustomerAcquired { segment: None, .. }
        ));
        // Not trimmed: a space is a value.
        let event = ok(&with(&expense(), json!({"segment": " "})));
        assert!(matches!(event.kind, EventKind::Expense { segment: Some(ref s), .. } if s == " "));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let event = ok(&with(
            &activity(),
            json!({"crm": {"id": [1, 2]}, "note": null, "x": -5}),
        ));
        assert_eq!(event.event_id, "e-1");
    }

    // ---- money ------------------------------------------------------------------------------

    #[test]
    fn amounts() {
        let event = ok(&with(&expense(), json!({"amount": "12.50"})));
        assert!(matches!(event.kind, EventKind::Expense { amount, .. } if amount == dec("12.50")));
        for bad in [
            json!("12,50"),
            json!("abc"),
            json!(""),
            json!(true),
            json!("NaN"),
            json!([1]),
        ] {
            let line = with(&expense(), json!({ "amount": bad }));
            assert_eq!(
                err(&line).detail,
                "`amount` must be a JSON number or a decimal string"
            );
        }
        assert_eq!(
            err(&with(&expense(), json!({"amount": null}))).detail,
            "missing field `amount`"
        );
        // Optional on deals: null is absent, a bad value rejects.
        let event = ok(&with(&deal_closed(), json!({"amount": null})));
        assert!(
            matches!(event.kind, EventKind::DealClosed { ref attributes, .. } if attributes.amount.is_none())
        );
        assert_eq!(
            reason(&with(&deal_closed(), json!({"amount": "1.2.3"}))),
            RejectReason::InvalidField
        );
        // Exact: 0.1 + 0.2 = 0.3.
        let first = ok(&with(&expense(), json!({"amount": 0.1})));
        let second = ok(&with(&expense(), json!({"amount": 0.2})));
        let (EventKind::Expense { amount: a, .. }, EventKind::Expense { amount: b, .. }) =
            (first.kind, second.kind)
        else {
            panic!("expenses expected");
        };
        assert_eq!(a + b, dec("0.3"));
    }

    #[test]
    fn negative_amounts() {
        for line in [
            with(&expense(), json!({"amount": -5})),
            with(&expense(), json!({"amount": "-0.01"})),
            with(&deal_closed(), json!({"amount": -1})),
            with(
                &deal_closed(),
                json!({"type": "deal_opened", "outcome": "<remove>", "amount": "-1e2"}),
            ),
        ] {
            let rejection = err(&line);
            assert_eq!(rejection.reason, RejectReason::NegativeAmount, "{line}");
            assert_eq!(rejection.detail, "`amount` must not be negative");
        }
        // -0 is not negative.
        for zero in [json!(-0), json!("-0"), json!("-0.00")] {
            let event = ok(&with(&expense(), json!({ "amount": zero })));
            let EventKind::Expense { amount, .. } = event.kind else {
                panic!("expense expected");
            };
            assert!(amount.is_zero() && !amount.is_sign_negative());
        }
        // The JSON numbers `-0` and `-0.0` (json! would turn `-0` into `0`).
        for zero in ["-0", "-0.0"] {
            let text = with(&expense(), json!({"amount": 1}))
                .replace("\"amount\":1", &format!("\"amount\":{zero}"));
            assert!(text.contains(zero), "{text}");
            assert!(decode(text.as_bytes(), &rules()).is_ok(), "{text}");
        }
        // Negative amount is checked before the currency.
        let line = with(&expense(), json!({"amount": -5, "currency": "EUR"}));
        assert_eq!(reason(&line), RejectReason::NegativeAmount);
    }

    #[test]
    fn currency() {
        for base in [expense(), deal_closed()] {
            assert!(decode(with(&base, json!({"currency": "USD"})).as_bytes(), &rules()).is_ok());
            assert!(decode(with(&base, json!({"currency": null})).as_bytes(), &rules()).is_ok());
            assert_eq!(
                reason(&with(&base, json!({"currency": "usd"}))),
                RejectReason::ForeignCurrency
            );
            assert_eq!(
                reason(&with(&base, json!({"currency": "EUR"}))),
                RejectReason::ForeignCurrency
            );
            assert_eq!(
                reason(&with(&base, json!({"currency": ""}))),
                RejectReason::ForeignCurrency
            );
            assert_eq!(
                err(&with(&base, json!({"currency": 840}))).detail,
                "`currency` must be a string"
            );
        }
        let deal_opened = json!({"event_id":"e","type":"deal_opened","occurred_at":"2026-11-23T09:00:00Z",
                                 "deal_id":"D-1","rep_id":"r-1","currency":"GBP"});
        assert_eq!(
            reason(&deal_opened.to_string()),
            RejectReason::ForeignCurrency
        );
        let cost = json!({"event_id":"e","type":"customer_cost","occurred_at":"2026-11-23T09:00:00Z",
                          "customer_id":"cu-1","amount":1,"currency":"EUR"});
        assert_eq!(reason(&cost.to_string()), RejectReason::ForeignCurrency);
        // Types without money ignore a currency field.
        assert!(
            decode(
                with(&activity(), json!({"currency": "EUR"})).as_bytes(),
                &rules()
            )
            .is_ok()
        );
        // The configured currency is used.
        let eur = ValidationRules {
            reporting_currency: "EUR".into(),
            ..ValidationRules::default()
        };
        assert!(
            decode(
                with(&expense(), json!({"currency": "EUR"})).as_bytes(),
                &eur
            )
            .is_ok()
        );
        assert_eq!(
            decode(
                with(&expense(), json!({"currency": "USD"})).as_bytes(),
                &eur
            )
            .map_err(|r| r.reason),
            Err(RejectReason::ForeignCurrency)
        );
    }

    // ---- clock ------------------------------------------------------------------------------

    #[test]
    fn clock_skew_is_inclusive() {
        let event = ok(&activity().to_string()); // 2026-11-23T09:00:00Z
        let rules = rules();
        let at = |h: u32, m: u32, s: u32| utc(2026, 11, 23, h, m, s);
        assert_eq!(check_clock(&event, at(9, 0, 0), &rules), Ok(()));
        assert_eq!(
            check_clock(&event, at(8, 55, 0), &rules),
            Ok(()),
            "exactly at the skew"
        );
        let early = at(8, 55, 0) - TimeDelta::nanoseconds(1);
        let rejection = check_clock(&event, early, &rules).expect_err("one ns beyond the skew");
        assert_eq!(rejection.reason, RejectReason::FutureTimestamp);
        assert!(
            rejection.detail.contains("`occurred_at`"),
            "{}",
            rejection.detail
        );
        assert_eq!(
            check_clock(&event, at(2, 0, 0), &rules).map_err(|r| r.reason),
            Err(RejectReason::FutureTimestamp)
        );
        // Old is not bad.
        assert_eq!(
            check_clock(&event, utc(2030, 1, 1, 0, 0, 0), &rules),
            Ok(())
        );
        // No overflow at the end of time.
        assert_eq!(
            check_clock(&event, chrono::DateTime::<Utc>::MAX_UTC, &rules),
            Ok(())
        );
        let strict = ValidationRules {
            max_clock_skew: TimeDelta::zero(),
            ..ValidationRules::default()
        };
        assert_eq!(check_clock(&event, at(9, 0, 0), &strict), Ok(()));
        assert!(check_clock(&event, at(8, 59, 59), &strict).is_err());
    }

    #[test]
    fn default_rules() {
        let rules = ValidationRules::default();
        assert_eq!(rules.reporting_currency, "USD");
        assert_eq!(rules.max_clock_skew, TimeDelta::seconds(300));
    }

    // ---- robustness -------------------------------------------------------------------------

    #[test]
    fn never_panics_on_mangled_input() {
        let seeds = [
            r#"{"event_id":"ex-010","type":"deal_opened","occurred_at":"2026-11-24T09:00:00-05:00","deal_id":"D-1","rep_id":"r-ben","amount":"12500.00","industry":"retail","channel":"inbound","segment":"smb"}"#,
            r#"{"event_id":"ex-015","type":"revenue","occurred_at":"2026-11-27T00:00:00.123456789-05:00","customer_id":"cu-1","amount":1041.67e-1,"recurring":true,"segment":"smb"}"#,
            r#"{"event_id":"ex-001","type":"rep_upserted","occurred_at":"2026-11-02T08:00:00-05:00","rep_id":"r-ana","team":"east","role":"bdr","max_daily_leads":45,"schema_version":1}"#,
        ];
        // A small deterministic generator: truncations, byte flips and byte insertions.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let specials = b"\"{}[],:-+.eE0159\\\xff\xc3 ntfZT";
        for seed in seeds {
            let bytes = seed.as_bytes();
            for end in 0..=bytes.len() {
                let _ = decode(&bytes[..end], &rules());
            }
            for _ in 0..3000 {
                let mut mutated = bytes.to_vec();
                for _ in 0..(next() % 4 + 1) {
                    let at = (next() as usize) % mutated.len();
                    let byte = specials[(next() as usize) % specials.len()];
                    if next() % 2 == 0 {
                        mutated[at] = byte;
                    } else {
                        mutated.insert(at, byte);
                    }
                }
                let _ = decode(&mutated, &rules());
            }
        }
        // Deep nesting hits serde_json's recursion limit, not the stack.
        let deep = "[".repeat(100_000);
        assert_eq!(
            decode(deep.as_bytes(), &rules()).map_err(|r| r.reason),
            Err(RejectReason::InvalidJson)
        );
    }

    #[test]
    fn an_empty_deal_amount_is_missing_but_an_empty_expense_amount_is_invalid() {
        let close = r#"{"event_id":"d","type":"deal_closed","occurred_at":"2026-11-23T09:00:00Z","deal_id":"D","rep_id":"r","outcome":"won","amount":""}"#;
        let event = decode(close.as_bytes(), &rules()).expect("accepted");
        let EventKind::DealClosed { attributes, .. } = event.kind else {
            panic!("a deal_closed decodes as such");
        };
        assert_eq!(attributes.amount, None);
        let expense = r#"{"event_id":"e","type":"expense","occurred_at":"2026-11-23T09:00:00Z","amount":"","category":"sales"}"#;
        let rejection = decode(expense.as_bytes(), &rules()).expect_err("rejected");
        assert_eq!(rejection.reason, RejectReason::InvalidField);
    }

    // ---- hostile input (v1.1) ---------------------------------------------------------------

    #[test]
    fn the_size_limit_is_inclusive() {
        assert_eq!(check_size(0, 0), Ok(()));
        assert_eq!(check_size(1_048_576, DEFAULT_MAX_EVENT_BYTES), Ok(()));
        let rejection = check_size(1_048_577, DEFAULT_MAX_EVENT_BYTES).expect_err("one byte over");
        assert_eq!(rejection.reason, RejectReason::TooLarge);
        assert_eq!(
            rejection.detail,
            "1048577 bytes is more than the maximum of 1048576 bytes"
        );
        assert_eq!(
            check_size(usize::MAX, 10).map_err(|r| r.reason),
            Err(RejectReason::TooLarge)
        );
        assert_eq!(DEFAULT_MAX_EVENT_BYTES, 1024 * 1024);
    }

    #[test]
    fn the_new_reasons_have_stable_names() {
        assert_eq!(RejectReason::TooLarge.as_str(), "too_large");
        assert_eq!(RejectReason::ALL.len(), 10);
        assert_eq!(RejectReason::ALL.last(), Some(&RejectReason::TooLarge));
        assert_eq!(crate::IgnoreReason::Tombstone.as_str(), "tombstone");
        assert_eq!(crate::IgnoreReason::ALL, &[crate::IgnoreReason::Tombstone]);
    }

    #[test]
    fn a_key_given_twice_is_invalid_json() {
        let text = activity().to_string();
        // The same field twice, with the same or another value, or once as null.
        for (twice, key) in [
            (r#""rep_id":"r-1","rep_id":"r-2""#, "rep_id"),
            (r#""rep_id":"r-1","rep_id":"r-1""#, "rep_id"),
            (r#""rep_id":null,"rep_id":"r-1""#, "rep_id"),
            (r#""event_id":"e-1","event_id":"e-2""#, "event_id"),
            // An unknown field counts too; equal after unescaping is equal.
            (r#""note":1,"note":2"#, "note"),
            (r#""rep_id":"r-1","rep\u005fid":"r-2""#, "rep_id"),
        ] {
            let line = text.replacen('{', &format!("{{{twice},"), 1);
            let rejection = err(&line);
            assert_eq!(rejection.reason, RejectReason::InvalidJson, "{line}");
            assert!(
                rejection
                    .detail
                    .starts_with(&format!("duplicate key \"{key}\" at line 1 column ")),
                "{}",
                rejection.detail
            );
        }
        // Found while parsing, so before every field check: here before `schema_version`.
        assert_eq!(
            reason(r#"{"schema_version":2,"schema_version":1}"#),
            RejectReason::InvalidJson
        );
        // A syntax error after a duplicate is still invalid JSON.
        assert_eq!(
            reason(r#"{"event_id":"e","event_id":"f",}"#),
            RejectReason::InvalidJson
        );
        // Keys inside a nested value of an ignored field are not the event's keys.
        let nested = with(&activity(), json!({"crm": {"id": 1}}))
            .replace(r#"{"id":1}"#, r#"{"id":1,"id":2}"#);
        assert!(nested.contains(r#""id":1,"id":2"#), "{nested}");
        assert_eq!(ok(&nested).event_id, "e-1");
        // Different keys that differ only by case are different keys.
        let cased = text.replacen('{', r#"{"Rep_id":"x","#, 1);
        assert_eq!(ok(&cased).rep_id(), Some("r-1"));
    }

    #[test]
    fn control_characters_in_identifiers_are_invalid_fields() {
        // Every identifier and label dimension, on a type that carries it.
        let lead = json!({"event_id":"e","type":"lead_created","occurred_at":"2026-11-23T09:00:00Z","lead_id":"L-1"});
        let customer = json!({"event_id":"e","type":"customer_acquired","occurred_at":"2026-11-23T09:00:00Z","customer_id":"cu-1"});
        let cases = [
            (activity(), "event_id"),
            (activity(), "rep_id"),
            (activity(), "contact_id"),
            (activity(), "lead_id"),
            (rep_upserted(), "team"),
            (deal_closed(), "deal_id"),
            (deal_closed(), "industry"),
            (deal_closed(), "channel"),
            (deal_closed(), "segment"),
            (customer.clone(), "customer_id"),
            (customer.clone(), "deal_id"),
            (customer, "segment"),
            (expense(), "segment"),
            (lead.clone(), "rep_id"),
            (lead, "segment"),
        ];
        for (base, field) in cases {
            for bad in [
                "r\u{0}1",
                "\u{1f}",
                "a\nb",
                "tab\there",
                "del\u{7f}",
                "\u{85}",
                "c1\u{9f}",
            ] {
                let line = with(&base, json!({ field: bad }));
                let rejection = err(&line);
                assert_eq!(rejection.reason, RejectReason::InvalidField, "{line}");
                assert_eq!(
                    rejection.detail,
                    format!(
                        "`{field}` must not contain control characters (U+0000-U+001F, U+007F-U+009F)"
                    ),
                    "{line}"
                );
            }
            // The neighbours of the ranges are ordinary characters.
            for fine in ["a b", "~", "\u{a0}", "é😀"] {
                let line = with(&base, json!({ field: fine }));
                assert!(decode(line.as_bytes(), &rules()).is_ok(), "{line}");
            }
        }
    }

    #[test]
    fn an_escaped_nul_never_reaches_a_rep_id() {
        // Exactly the bytes a producer sends: a backslash escape, not a raw NUL.
        let line = r#"{"event_id":"e-1","type":"activity","occurred_at":"2026-11-23T09:00:00Z","rep_id":"r\u0000x","contact_id":"c-1","channel":"call","established":true}"#;
        assert!(!line.as_bytes().contains(&0));
        assert_eq!(reason(line), RejectReason::InvalidField);
        assert_eq!(
            err(line).detail,
            "`rep_id` must not contain control characters (U+0000-U+001F, U+007F-U+009F)"
        );
        // A raw control character below U+0020 inside a string is not JSON at all.
        let raw = line.replace(r"\u0000", "\u{1}");
        assert_eq!(reason(&raw), RejectReason::InvalidJson);
        // A raw DEL is valid JSON, and still refused in an identifier.
        let del = line.replace(r"\u0000", "\u{7f}");
        assert_eq!(reason(&del), RejectReason::InvalidField);
    }

    #[test]
    fn control_characters_keep_the_field_order() {
        // rep_id comes before contact_id in the activity table: its problem is reported.
        let line = with(
            &activity(),
            json!({"rep_id": "r\u{0}", "contact_id": "c\u{0}", "channel": "fax"}),
        );
        assert!(err(&line).detail.starts_with("`rep_id` "), "{line}");
        // A wrong type or length is reported as before, ahead of the characters.
        let line = with(
            &activity(),
            json!({"rep_id": format!("{}\u{0}", "r".repeat(128))}),
        );
        assert_eq!(
            err(&line).detail,
            "`rep_id` must be a string of 1-128 characters"
        );
        // A control character is not whitespace that makes a value empty: "\u{0}" is not "".
        let line = with(&deal_closed(), json!({"segment": "\u{0}"}));
        assert_eq!(reason(&line), RejectReason::InvalidField);
    }

    #[test]
    fn free_text_that_is_never_a_label_may_hold_control_characters() {
        let appointment = json!({"event_id":"e","type":"appointment_set","occurred_at":"2026-11-23T09:00:00Z",
                                 "rep_id":"r-1","contact_id":"c-1",
                                 "appointment_id":"a\u{0}","scheduled_for":"tue\nwed"});
        assert!(decode(appointment.to_string().as_bytes(), &rules()).is_ok());
        let lead = json!({"event_id":"e","type":"lead_created","occurred_at":"2026-11-23T09:00:00Z",
                          "lead_id":"L-1","source":"web\u{7}"});
        assert!(decode(lead.to_string().as_bytes(), &rules()).is_ok());
        let disqualified = json!({"event_id":"e","type":"lead_disqualified","occurred_at":"2026-11-23T09:00:00Z",
                                  "lead_id":"L-1","reason":"dup\r\n"});
        assert!(decode(disqualified.to_string().as_bytes(), &rules()).is_ok());
        // Unknown fields stay ignored, whatever they hold.
        assert!(
            decode(
                with(&activity(), json!({"note": "\u{0}"})).as_bytes(),
                &rules()
            )
            .is_ok()
        );
    }
}
