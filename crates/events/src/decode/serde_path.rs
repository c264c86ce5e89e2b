//! The general path of reading a line: serde_json, member by member into the field slots
//! (no `serde_json::Value` tree). Every line the fast path ([`super::flat`]) leaves goes here,
//! and so does every error: the rejection details are serde_json's.

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::Number;

use super::{Field, Fields, Member, quote, reject};
use crate::reason::{RejectReason, Rejection};

/// The top-level JSON object of a line (UTF-8 already checked), each key at most once.
///
/// A producer's `"rep_id"` written twice would silently count for one of them, so a repeated
/// key is refused, after its value is read. Keys are compared after unescaping (`"a"` and
/// `"\u0061"` are equal).
pub(super) fn parse_object(text: &str) -> Result<ParsedFields<'_>, Rejection> {
    let opens_an_object = text
        .bytes()
        .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
        == Some(b'{');
    if !opens_an_object {
        return Err(match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => reject(RejectReason::InvalidJson, "not a JSON object"),
            Err(error) => reject(
                RejectReason::InvalidJson,
                format!("not valid JSON: {error}"),
            ),
        });
    }
    serde_json::from_str::<ParsedFields<'_>>(text).map_err(|error| {
        // The members accept any JSON value: the only data errors are a repeated key and a
        // malformed number object (see [`NUMBER_TOKEN`]).
        let detail = if error.is_data() {
            error.to_string()
        } else {
            format!("not valid JSON: {error}")
        };
        reject(RejectReason::InvalidJson, detail)
    })
}

/// The top-level object as serde_json reads it: one slot per [`Field`], `None` when absent or
/// `null`.
pub(super) struct ParsedFields<'de>([Option<Parsed<'de>>; Field::COUNT]);

impl ParsedFields<'_> {
    /// The members, borrowed for validation.
    pub(super) fn fields(&self) -> Fields<'_> {
        Fields {
            members: std::array::from_fn(|index| self.0[index].as_ref().map(Parsed::member)),
            may_hold_controls: true,
        }
    }
}

/// A member as serde_json hands it over: a string is owned when it held an escape, a number is
/// serde_json's exact-text [`Number`].
#[derive(Debug)]
enum Parsed<'de> {
    Bool(bool),
    Number(Number),
    Text(Cow<'de, str>),
    Nested,
}

impl Parsed<'_> {
    fn member(&self) -> Member<'_> {
        match self {
            Parsed::Bool(flag) => Member::Bool(*flag),
            Parsed::Number(number) => Member::Number(number.as_str()),
            Parsed::Text(text) => Member::Text(text),
            Parsed::Nested => Member::Nested,
        }
    }
}

impl<'de> Deserialize<'de> for ParsedFields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = ParsedFields<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<ParsedFields<'de>, A::Error> {
        let mut fields = ParsedFields([const { None }; Field::COUNT]);
        let mut seen = [false; Field::COUNT];
        // Keys of no field: only kept to refuse a repeated one.
        let mut ignored: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = access.next_key_seed(KeySeed)? {
            match key {
                Key::Field(field) => {
                    let member = access.next_value_seed(MemberSeed)?;
                    let seen = &mut seen[field as usize];
                    if *seen {
                        return Err(duplicate_key(field.name()));
                    }
                    *seen = true;
                    fields.0[field as usize] = member;
                }
                Key::Ignored(name) => {
                    access.next_value::<Skip>()?;
                    if ignored.contains(&name) {
                        return Err(duplicate_key(&name));
                    }
                    ignored.push(name);
                }
            }
        }
        Ok(fields)
    }
}

fn duplicate_key<E: Error>(name: &str) -> E {
    E::custom(format_args!("duplicate key {}", quote(name)))
}

/// A top-level key, matched against the field names after unescaping.
enum Key<'de> {
    Field(Field),
    Ignored(Cow<'de, str>),
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key<'de>, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string key")
    }

    fn visit_borrowed_str<E: Error>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Field::parse(key).map_or(Key::Ignored(Cow::Borrowed(key)), Key::Field))
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Field::parse(key).map_or_else(|| Key::Ignored(Cow::Owned(key.to_owned())), Key::Field))
    }
}

/// Reads any JSON value as a [`Parsed`] member (`None` for `null`).
struct MemberSeed;

impl<'de> DeserializeSeed<'de> for MemberSeed {
    type Value = Option<Parsed<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MemberSeed {
    type Value = Option<Parsed<'de>>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(Some(Parsed::Bool(flag)))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Some(Parsed::Number(number.into())))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Self::Value, E> {
        Ok(Some(Parsed::Number(number.into())))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Parsed::Text(Cow::Borrowed(text))))
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(Parsed::Text(Cow::Owned(text.to_owned()))))
    }

    fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
        Ok(Some(Parsed::Text(Cow::Owned(text))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
        Skip.visit_seq(access)?;
        Ok(Some(Parsed::Nested))
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Self::Value, A::Error> {
        Ok(Some(match read_map(access)? {
            Some(number) => Parsed::Number(number),
            None => Parsed::Nested,
        }))
    }
}

/// With `arbitrary_precision`, serde_json hands a number that does not fit a `u64`/`i64` to
/// `visit_map`, as a one-entry map under this key holding the number's text. `serde_json::Value`
/// reads any object whose first key is this one the same way, and so does this decoder: a line
/// is decided exactly as a generic JSON tree of it would be.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Reads a map to its end, returning the number it carries if it is one (see [`NUMBER_TOKEN`]).
fn read_map<'de, A: MapAccess<'de>>(mut access: A) -> Result<Option<Number>, A::Error> {
    match access.next_key_seed(NumberKey)? {
        None => Ok(None),
        Some(true) => access.next_value_seed(NumberText).map(Some),
        Some(false) => {
            access.next_value::<Skip>()?;
            while access.next_entry::<IgnoredAny, Skip>()?.is_some() {}
            Ok(None)
        }
    }
}

/// Whether a map's first key is [`NUMBER_TOKEN`].
struct NumberKey;

impl<'de> DeserializeSeed<'de> for NumberKey {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NumberKey {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == NUMBER_TOKEN)
    }
}

/// The value under [`NUMBER_TOKEN`]: the number's text, checked as serde_json checks it.
struct NumberText;

impl<'de> DeserializeSeed<'de> for NumberText {
    type Value = Number;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Number, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NumberText {
    type Value = Number;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("string containing a number")
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<Number, E> {
        text.parse().map_err(E::custom)
    }
}

/// Reads and drops any JSON value, nested ones too, through the same parser calls as a
/// `serde_json::Value` would (so with its nesting limit; [`IgnoredAny`] has none for values).
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Skip, A::Error> {
        while access.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, access: A) -> Result<Skip, A::Error> {
        read_map(access).map(|_| Skip)
    }
}
