//! Money arithmetic: exact decimal sums that never panic.

use rust_decimal::Decimal;

/// Adds `amount` to `total`, saturating at the decimal type's bound (about 7.9e28) instead of
/// panicking: each amount is valid on its own, but no input may stop the pipeline.
pub(crate) fn add(total: &mut Decimal, amount: Decimal) {
    *total = total.saturating_add(amount);
}

/// An exact decimal as the nearest f64 (through its text, which Rust parses correctly rounded).
pub fn decimal_to_f64(value: Decimal) -> f64 {
    value.to_string().parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_saturate_instead_of_panicking() {
        let mut total = Decimal::MAX;
        add(&mut total, Decimal::ONE);
        assert_eq!(total, Decimal::MAX);
        let mut cents = Decimal::new(1, 1);
        add(&mut cents, Decimal::new(2, 1));
        assert_eq!(decimal_to_f64(cents), 0.3);
    }
}
