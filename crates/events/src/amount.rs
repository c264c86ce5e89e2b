//! Exact money amounts (EVENTS.md: amounts are summed exactly, never through f64).

use rust_decimal::Decimal;
use serde_json::Value;

/// Parses an `amount`: a JSON number (its exact source text, thanks to serde_json's
/// `arbitrary_precision`) or a decimal string such as `"12.50"`, `"+1.5"`, `"-3"`, `"1e3"`,
/// `"1.5E-2"`.
///
/// Returns `None` for anything else (`"12,50"`, `"abc"`, `""`, `" 1"`, `"NaN"`, `"inf"`,
/// `true`, `null`, …) and for values that do not fit a [`Decimal`] exactly (overflow, or more
/// than 28 fraction digits): the caller reports `invalid_field`. Negative values are returned
/// (the caller reports `negative_amount`); a negative zero comes back as plain zero, because
/// `-0` is not negative (SEMANTICS C5).
pub fn parse_amount(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(number) => parse_amount_text(number.as_str()),
        Value::String(text) => parse_amount_text(text),
        _ => None,
    }
}

/// [`parse_amount`] on the text of a JSON number or string, for a decoder that holds no
/// [`Value`].
pub(crate) fn parse_amount_text(text: &str) -> Option<Decimal> {
    let mut amount = parse_decimal_text(text)?;
    if amount.is_zero() {
        amount.set_sign_positive(true);
    }
    Some(amount)
}

/// The grammar is checked here because rust_decimal's parser is laxer than the contract (it
/// takes `_` digit separators, and `from_scientific` takes `1e-+3`); the arithmetic is left to
/// rust_decimal. `from_scientific` rounds its mantissa, so the mantissa is first required to be
/// exact with `from_str_exact`.
fn parse_decimal_text(text: &str) -> Option<Decimal> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (text.get(..at)?, Some(text.get(at + 1..)?)),
        None => (text, None),
    };
    if !is_mantissa(mantissa) || !exponent.is_none_or(is_exponent) {
        return None;
    }
    let exact = Decimal::from_str_exact(mantissa).ok()?;
    match exponent {
        None => Some(exact),
        Some(_) => Decimal::from_scientific(text).ok(),
    }
}

/// `[+-]` then digits with at most one `.`, and at least one digit (`.5` and `5.` are fine).
fn is_mantissa(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty())
}

/// `[+-]` then at least one digit.
fn is_exponent(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::str::FromStr;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).expect("valid test decimal")
    }

    fn from_json(text: &str) -> Option<Decimal> {
        let value: Value = serde_json::from_str(text).expect("valid test JSON");
        parse_amount(&value)
    }

    #[test]
    fn strings() {
        assert_eq!(parse_amount(&json!("12.50")), Some(dec("12.50")));
        assert_eq!(parse_amount(&json!("4200.50")), Some(dec("4200.5")));
        assert_eq!(parse_amount(&json!("+1.5")), Some(dec("1.5")));
        assert_eq!(parse_amount(&json!("-3")), Some(dec("-3")));
        assert_eq!(parse_amount(&json!("1e3")), Some(dec("1000")));
        assert_eq!(parse_amount(&json!("1.5E-2")), Some(dec("0.015")));
        assert_eq!(parse_amount(&json!("1.5e+2")), Some(dec("150")));
        assert_eq!(parse_amount(&json!("-2.5e1")), Some(dec("-25")));
        assert_eq!(parse_amount(&json!("007")), Some(dec("7")));
        assert_eq!(parse_amount(&json!(".5")), Some(dec("0.5")));
        assert_eq!(parse_amount(&json!("5.")), Some(dec("5")));
        assert_eq!(
            parse_amount(&json!("79228162514264337593543950335")),
            Some(Decimal::MAX)
        );
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        assert_eq!(from_json("12500"), Some(dec("12500")));
        assert_eq!(from_json("1041.67"), Some(dec("1041.67")));
        assert_eq!(from_json("-5"), Some(dec("-5")));
        assert_eq!(from_json("1E3"), Some(dec("1000")));
        assert_eq!(from_json("2.5e-3"), Some(dec("0.0025")));
        // 0.1 + 0.2 is exactly 0.3 (it is not in f64).
        let sum = from_json("0.1").expect("0.1") + from_json("0.2").expect("0.2");
        assert_eq!(sum, dec("0.3"));
        assert_eq!(sum.to_string(), "0.3");
        // More digits than f64 holds survive.
        assert_eq!(
            from_json("12345678901234567.89"),
            Some(dec("12345678901234567.89"))
        );
    }

    #[test]
    fn negative_zero_is_zero() {
        for zero in [
            from_json("-0"),
            from_json("-0.0"),
            parse_amount(&json!("-0")),
        ] {
            let zero = zero.expect("zero parses");
            assert!(zero.is_zero());
            assert!(!zero.is_sign_negative());
            assert!(zero >= Decimal::ZERO);
        }
    }

    #[test]
    fn rejects_non_decimals() {
        for bad in [
            json!("12,50"),
            json!("abc"),
            json!(""),
            json!(" 1"),
            json!("1 "),
            json!("NaN"),
            json!("nan"),
            json!("inf"),
            json!("-Infinity"),
            json!("1_000"),
            json!("1.2.3"),
            json!("."),
            json!("+"),
            json!("-"),
            json!("+-1"),
            json!("1e"),
            json!("e3"),
            json!("1e-+3"),
            json!("1e3.5"),
            json!("1e3e4"),
            json!("0x10"),
            json!("$5"),
            json!("٣"),
            json!(true),
            json!(false),
            Value::Null,
            json!([1]),
            json!({"amount": 1}),
        ] {
            assert_eq!(parse_amount(&bad), None, "{bad} must be rejected");
        }
    }

    #[test]
    fn rejects_what_decimal_cannot_hold_exactly() {
        assert_eq!(from_json("1e400"), None);
        assert_eq!(from_json("79228162514264337593543950336"), None);
        assert_eq!(from_json("123456789012345678901234567890123"), None);
        assert_eq!(parse_amount(&json!("1e29")), None);
        assert_eq!(parse_amount(&json!("1e-40")), None);
        assert_eq!(
            parse_amount(&json!("0.12345678901234567890123456789")),
            None,
            "29 fraction digits would be rounded"
        );
    }
}
