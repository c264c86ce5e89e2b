//! The `occurred_at` grammar (SEMANTICS C3).

use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::model::Timestamp;

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into UTC, keeping the nanoseconds (extra
/// fraction digits are truncated).
///
/// The shape is checked here, then every number is read from its fixed place and chrono decides
/// which dates and times exist (month 13, Feb 30, hour 24 and offsets from ±24:00 are rejected),
/// as its RFC 3339 parser does: that parser is more lenient than the contract (it accepts second
/// `60`, a leap second that would silently become `:59.999…+1s`, and a Unicode minus sign
/// (U+2212) in the offset) and costs more than the rest of decoding a line. `t` or a space for
/// `T` and `z` for `Z` are tolerated, as chrono does.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    if !has_contract_shape(bytes) {
        return None;
    }
    let (head, rest) = bytes.split_at(HEAD.len());
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(&head[0..4])).ok()?,
        digits(&head[5..7]),
        digits(&head[8..10]),
    )?;
    let (fraction, offset) = match rest.strip_prefix(b".") {
        Some(after_dot) => {
            after_dot.split_at(after_dot.iter().take_while(|b| b.is_ascii_digit()).count())
        }
        None => (&[][..], rest),
    };
    let time = NaiveTime::from_hms_nano_opt(
        digits(&head[11..13]),
        digits(&head[14..16]),
        digits(&head[17..19]),
        nanoseconds(fraction),
    )?;
    let offset = match offset {
        [sign, h1, h2, b':', m1, m2] => {
            let (hours, minutes) = (digits(&[*h1, *h2]), digits(&[*m1, *m2]));
            if minutes >= 60 {
                return None;
            }
            // Refuses ±24:00 and beyond.
            let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            FixedOffset::east_opt(if *sign == b'-' { -seconds } else { seconds })?
        }
        _ => FixedOffset::east_opt(0)?,
    };
    let utc = date.and_time(time).checked_sub_offset(offset)?;
    Some(Utc.from_utc_datetime(&utc))
}

/// `d` = ASCII digit, `T` = date/time separator, anything else must match literally.
const HEAD: &[u8; 19] = b"dddd-dd-ddTdd:dd:dd";

/// The value of a run of ASCII digits (the shape is checked first).
fn digits(text: &[u8]) -> u32 {
    text.iter()
        .fold(0, |value, digit| value * 10 + u32::from(digit - b'0'))
}

/// A fraction of a second: its first nine digits, the later ones cut, as chrono does.
fn nanoseconds(fraction: &[u8]) -> u32 {
    let kept = &fraction[..fraction.len().min(9)];
    let scale = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
    ];
    digits(kept) * scale[9 - kept.len()]
}

/// Checks the character classes of the grammar, not the ranges (chrono checks those), except
/// for the leap second that chrono accepts.
fn has_contract_shape(bytes: &[u8]) -> bool {
    let Some((head, mut rest)) = bytes.split_at_checked(HEAD.len()) else {
        return false;
    };
    let head_ok = HEAD.iter().zip(head).all(|(&want, &got)| match want {
        b'd' => got.is_ascii_digit(),
        b'T' => matches!(got, b'T' | b't' | b' '),
        literal => got == literal,
    });
    if !head_ok || head.get(17..19) == Some(b"60".as_slice()) {
        return false;
    }
    if let Some(after_dot) = rest.strip_prefix(b".") {
        let digits = after_dot.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        rest = after_dot.get(digits..).unwrap_or_default();
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Timelike};
    use proptest::prelude::*;
    use proptest::sample::select;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid test date")
    }

    #[test]
    fn accepts_offsets_and_converts_to_utc() {
        assert_eq!(
            parse_timestamp("2026-11-23T09:15:00-05:00"),
            Some(utc(2026, 11, 23, 14, 15, 0))
        );
        assert_eq!(
            parse_timestamp("2026-11-23T09:15:00Z"),
            Some(utc(2026, 11, 23, 9, 15, 0))
        );
        assert_eq!(
            parse_timestamp("2026-11-23T09:15:00+05:30"),
            Some(utc(2026, 11, 23, 3, 45, 0))
        );
        assert_eq!(
            parse_timestamp("2026-11-23T00:15:00+01:00"),
            Some(utc(2026, 11, 22, 23, 15, 0))
        );
        assert_eq!(
            parse_timestamp("2026-11-23T09:15:00-00:00"),
            Some(utc(2026, 11, 23, 9, 15, 0))
        );
    }

    #[test]
    fn tolerates_lowercase_and_space_separators() {
        let want = Some(utc(2026, 11, 23, 9, 15, 0));
        assert_eq!(parse_timestamp("2026-11-23t09:15:00Z"), want);
        assert_eq!(parse_timestamp("2026-11-23 09:15:00Z"), want);
        assert_eq!(parse_timestamp("2026-11-23T09:15:00z"), want);
    }

    #[test]
    fn keeps_fractions_to_the_nanosecond() {
        let base = utc(2026, 11, 23, 9, 15, 0);
        let at = |nanos: i64| Some(base + chrono::TimeDelta::nanoseconds(nanos));
        assert_eq!(parse_timestamp("2026-11-23T09:15:00.5Z"), at(500_000_000));
        assert_eq!(parse_timestamp("2026-11-23T09:15:00.000000001Z"), at(1));
        assert_eq!(
            parse_timestamp("2026-11-23T09:15:00.123456789Z"),
            at(123_456_789)
        );
        // More than 9 digits: truncated, not rounded.
        assert_eq!(
            parse_timestamp("2026-11-23T09:15:00.1234567899Z"),
            at(123_456_789)
        );
        assert_eq!(parse_timestamp("2026-11-23T09:15:00.0000000009Z"), at(0));
        assert_eq!(
            parse_timestamp("2026-11-23T04:15:00.25-05:00"),
            at(250_000_000)
        );
    }

    #[test]
    fn rejects_out_of_grammar_text() {
        for bad in [
            "2026-11-23T09:15:60Z",             // leap second
            "2016-12-31T23:59:60Z",             // a real leap second is still rejected
            "2026-11-23T09:15:60.5Z",           // leap second with a fraction
            "2026-13-01T00:00:00Z",             // month 13
            "2026-02-30T00:00:00Z",             // Feb 30
            "2026-11-23T24:00:00Z",             // hour 24
            "2026-11-23T09:60:00Z",             // minute 60
            "2026-11-23T09:15:00+5",            // short offset
            "2026-11-23T09:15:00+05",           // offset without minutes
            "2026-11-23T09:15:00+0500",         // offset without colon
            "2026-11-23T09:15:00+24:00",        // offset out of range
            "2026-11-23T09:15:00\u{2212}05:00", // Unicode minus
            "2026-11-23T09:15:00",              // no offset
            "2026-11-23",                       // date alone
            "2026-11-23T09:15Z",                // no seconds
            "2026-11-23T09:15:00.Z",            // empty fraction
            "2026-11-23T09:15:00,5Z",           // comma fraction
            "2026-11-23T09:15:00 Z",            // space before offset
            " 2026-11-23T09:15:00Z",            // leading space
            "2026-11-23T09:15:00Z ",            // trailing space
            "2026-11-23T09:15:00ZZ",            // trailing garbage
            "2026-11-23X09:15:00Z",             // bad separator
            "26-11-23T09:15:00Z",               // two-digit year
            "+2026-11-23T09:15:00Z",            // signed year
            "2026-1-23T09:15:00Z",              // one-digit month
            "1732353300",                       // a number
            "",
            "not a date",
            "2026-11-23T09:15:00UTC",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?} must be rejected");
        }
    }

    #[test]
    fn accepts_calendar_edges() {
        assert_eq!(
            parse_timestamp("2024-02-29T23:59:59Z"),
            Some(utc(2024, 2, 29, 23, 59, 59))
        );
        assert_eq!(parse_timestamp("2025-02-29T00:00:00Z"), None);
        assert_eq!(
            parse_timestamp("0000-01-01T00:00:00Z"),
            Some(utc(0, 1, 1, 0, 0, 0))
        );
        assert_eq!(
            parse_timestamp("9999-12-31T23:59:59+23:59"),
            Some(utc(9999, 12, 31, 0, 0, 59))
        );
    }

    /// What chrono's RFC 3339 parser makes of a text of the contract's shape.
    fn chrono_reading(text: &str) -> Option<Timestamp> {
        let parsed = DateTime::parse_from_rfc3339(text).ok()?;
        (has_contract_shape(text.as_bytes()) && parsed.nanosecond() < 1_000_000_000)
            .then(|| parsed.with_timezone(&Utc))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        /// Reading the numbers by hand decides as chrono does, calendar and ranges included.
        #[test]
        fn reads_as_chrono_does(
            date in (0..10_000u32, 0..20u32, 0..40u32),
            time in (0..30u32, 0..70u32, 0..70u32),
            separator in select(&["T", "t", " "][..]),
            fraction in proptest::option::of("[0-9]{1,12}"),
            offset in prop_oneof![
                select(&["Z", "z"][..]).prop_map(str::to_owned),
                (select(&["+", "-"][..]), 0..30u32, 0..100u32)
                    .prop_map(|(sign, hours, minutes)| format!("{sign}{hours:02}:{minutes:02}")),
            ],
        ) {
            let (year, month, day) = date;
            let (hour, minute, second) = time;
            let fraction = fraction.map(|digits| format!(".{digits}")).unwrap_or_default();
            let text = format!(
                "{year:04}-{month:02}-{day:02}{separator}{hour:02}:{minute:02}:{second:02}{fraction}{offset}"
            );
            prop_assert_eq!(parse_timestamp(&text), chrono_reading(&text), "{}", text);
        }
    }
}
