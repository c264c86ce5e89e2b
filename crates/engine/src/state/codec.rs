//! Compact, exact serde forms of instants and decimals for the saved state.
//!
//! - An instant is `(seconds since the epoch: i64, nanoseconds: u32)`: every instant chrono can
//!   hold (events accept years 0000 to 9999, beyond `chrono::serde::ts_nanoseconds`'s 1677–2262),
//!   to the nanosecond, in about 6 bytes as varints instead of 30 for RFC 3339 text. A leap-second
//!   nanosecond value (1e9 or more) is refused: the engine never holds one.
//! - A decimal is `(magnitude: u128, scale | sign << 7: u8)`: exactly the value, its scale and its
//!   sign (a negative zero stays one), usually 3 to 6 bytes. A scale above 28 or a magnitude above
//!   96 bits is refused.
//!
//! Both are used through `#[serde(with = "...")]` on the engine's own types.

use rust_decimal::Decimal;
use salespulse_events::Timestamp;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_SECOND: u32 = 1_000_000_000;
const SIGN_BIT: u8 = 0x80;
const MAX_MAGNITUDE: u128 = (1 << 96) - 1;

/// An instant in its saved form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ts(pub(crate) Timestamp);

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (self.0.timestamp(), self.0.timestamp_subsec_nanos()).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (seconds, nanos) = <(i64, u32)>::deserialize(deserializer)?;
        if nanos >= NANOS_PER_SECOND {
            return Err(D::Error::custom(
                "instant with a nanosecond value of 1e9 or more",
            ));
        }
        Timestamp::from_timestamp(seconds, nanos)
            .map(Ts)
            .ok_or_else(|| D::Error::custom("instant out of range"))
    }
}

/// A decimal in its saved form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dec(pub(crate) Decimal);

impl Serialize for Dec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let magnitude = self.0.mantissa().unsigned_abs();
        // The scale is at most 28, so it fits in the low 7 bits.
        let scale = u8::try_from(self.0.scale()).unwrap_or(u8::MAX) & !SIGN_BIT;
        let sign = if self.0.is_sign_negative() {
            SIGN_BIT
        } else {
            0
        };
        (magnitude, scale | sign).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (magnitude, scale_and_sign) = <(u128, u8)>::deserialize(deserializer)?;
        let scale = u32::from(scale_and_sign & !SIGN_BIT);
        if magnitude > MAX_MAGNITUDE || scale > Decimal::MAX_SCALE {
            return Err(D::Error::custom("decimal out of range"));
        }
        let signed = i128::try_from(magnitude).map_err(D::Error::custom)?;
        let mut value =
            Decimal::try_from_i128_with_scale(signed, scale).map_err(D::Error::custom)?;
        value.set_sign_negative(scale_and_sign & SIGN_BIT != 0);
        Ok(Dec(value))
    }
}

/// `#[serde(with = "codec::timestamp")]`
pub(crate) mod timestamp {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        at: &Timestamp,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        Ts(*at).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Timestamp, D::Error> {
        Ts::deserialize(deserializer).map(|ts| ts.0)
    }
}

/// `#[serde(with = "codec::option_timestamp")]`
pub(crate) mod option_timestamp {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        at: &Option<Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        at.map(Ts).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        Ok(Option::<Ts>::deserialize(deserializer)?.map(|ts| ts.0))
    }
}

/// `#[serde(with = "codec::decimal")]`
pub(crate) mod decimal {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &Decimal,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        Dec(*value).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Decimal, D::Error> {
        Dec::deserialize(deserializer).map(|dec| dec.0)
    }
}

/// `#[serde(with = "codec::option_decimal")]`
pub(crate) mod option_decimal {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.map(Dec).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        Ok(Option::<Dec>::deserialize(deserializer)?.map(|dec| dec.0))
    }
}

/// `#[serde(with = "codec::decimals")]`: a vector of decimals.
pub(crate) mod decimals {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        values: &[Decimal],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().copied().map(Dec))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Decimal>, D::Error> {
        Ok(Vec::<Dec>::deserialize(deserializer)?
            .into_iter()
            .map(|dec| dec.0)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn roundtrip_ts(at: Timestamp) -> Timestamp {
        let bytes = postcard::to_stdvec(&Ts(at)).expect("serializes");
        postcard::from_bytes::<Ts>(&bytes).expect("deserializes").0
    }

    fn roundtrip_dec(value: Decimal) -> Decimal {
        let bytes = postcard::to_stdvec(&Dec(value)).expect("serializes");
        postcard::from_bytes::<Dec>(&bytes).expect("deserializes").0
    }

    #[test]
    fn instants_roundtrip_over_the_whole_range_to_the_nanosecond() {
        let samples = [
            Timestamp::MIN_UTC,
            Timestamp::MAX_UTC,
            Timestamp::UNIX_EPOCH,
            Timestamp::UNIX_EPOCH - chrono::TimeDelta::nanoseconds(1),
            salespulse_events::parse_timestamp("0000-01-01T00:00:00+01:00").expect("valid"),
            salespulse_events::parse_timestamp("2026-11-23T09:15:00.123456789Z").expect("valid"),
            salespulse_events::parse_timestamp("9999-12-31T23:59:59.999999999-23:59")
                .expect("valid"),
        ];
        for at in samples {
            assert_eq!(roundtrip_ts(at), at);
        }
        let typical = postcard::to_stdvec(&Ts(samples[5])).expect("serializes");
        assert!(typical.len() <= 10, "{} bytes", typical.len());
    }

    #[test]
    fn invalid_instants_are_refused() {
        for bad in [
            (0i64, NANOS_PER_SECOND),
            (59, 1_500_000_000),
            (i64::MAX, 0),
            (i64::MIN, 0),
        ] {
            let bytes = postcard::to_stdvec(&bad).expect("serializes");
            assert!(postcard::from_bytes::<Ts>(&bytes).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn decimals_roundtrip_bit_for_bit() {
        let mut negative_zero = Decimal::ZERO;
        negative_zero.set_sign_negative(true);
        let samples = [
            Decimal::ZERO,
            negative_zero,
            Decimal::MAX,
            Decimal::MIN,
            Decimal::from_str("12.50").expect("valid"),
            Decimal::from_str("0.0000000000000000000000000001").expect("valid"),
            Decimal::from_str("-3.000").expect("valid"),
            Decimal::from_str("12345678901234567.89").expect("valid"),
        ];
        for value in samples {
            let back = roundtrip_dec(value);
            assert_eq!(back.serialize(), value.serialize(), "{value}");
        }
    }

    #[test]
    fn invalid_decimals_are_refused() {
        for bad in [
            (1u128 << 96, 0u8),
            (1, 29),
            (1, 0x7f),
            (u128::MAX, SIGN_BIT),
        ] {
            let bytes = postcard::to_stdvec(&bad).expect("serializes");
            assert!(postcard::from_bytes::<Dec>(&bytes).is_err(), "{bad:?}");
        }
    }
}
