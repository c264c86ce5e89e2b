//! The `period` and `window` label values of windowed metrics.

/// The `period` label: a calendar period (week, month, quarter) or a rolling span of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Week,
    Month,
    Quarter,
    Days7,
    Days30,
    Days90,
}

impl Period {
    /// Every period, in export order.
    pub const ALL: [Period; 6] = [
        Period::Week,
        Period::Month,
        Period::Quarter,
        Period::Days7,
        Period::Days30,
        Period::Days90,
    ];

    /// The exported `period` label value.
    pub const fn label(self) -> &'static str {
        match self {
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Days7 => "7d",
            Period::Days30 => "30d",
            Period::Days90 => "90d",
        }
    }

    /// The length N of a rolling `Nd` period; `None` for calendar periods.
    pub const fn rolling_days(self) -> Option<u32> {
        match self {
            Period::Week | Period::Month | Period::Quarter => None,
            Period::Days7 => Some(7),
            Period::Days30 => Some(30),
            Period::Days90 => Some(90),
        }
    }

    /// True for week, month and quarter (the periods that have `current`/`previous` windows).
    pub const fn is_calendar(self) -> bool {
        self.rolling_days().is_none()
    }
}

/// The `window` label: which interval of a period a metric covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WindowKind {
    /// The calendar period containing `as_of`, up to `as_of`.
    Current,
    /// The whole calendar period before the current one.
    Previous,
    /// The last N × 24 h up to `as_of`.
    Rolling,
}

impl WindowKind {
    /// The exported `window` label value.
    pub const fn label(self) -> &'static str {
        match self {
            WindowKind::Current => "current",
            WindowKind::Previous => "previous",
            WindowKind::Rolling => "rolling",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let labels: Vec<_> = Period::ALL.iter().map(|p| p.label()).collect();
        assert_eq!(labels, ["week", "month", "quarter", "7d", "30d", "90d"]);
        assert_eq!(WindowKind::Current.label(), "current");
        assert_eq!(WindowKind::Previous.label(), "previous");
        assert_eq!(WindowKind::Rolling.label(), "rolling");
        assert_eq!(Period::Days30.rolling_days(), Some(30));
        assert!(Period::Quarter.is_calendar());
        assert!(!Period::Days7.is_calendar());
    }
}
