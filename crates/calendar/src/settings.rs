use std::collections::BTreeSet;

use chrono::{NaiveDate, Weekday, WeekdaySet};
use chrono_tz::Tz;

/// The business calendar: where periods start and which days are worked.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarSettings {
    pub timezone: Tz,
    pub week_start: Weekday,
    /// 1 = calendar quarters; 2 = quarters start in Feb/May/Aug/Nov; ...
    pub fiscal_year_start_month: u32,
    /// A `WeekdaySet` because chrono's `Weekday` is not `Ord` (no `BTreeSet<Weekday>`); it
    /// collects from an iterator of `Weekday` all the same.
    pub workdays: WeekdaySet,
    pub holidays: BTreeSet<NaiveDate>,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        CalendarSettings {
            timezone: Tz::UTC,
            week_start: Weekday::Mon,
            fiscal_year_start_month: 1,
            workdays: WeekdaySet::from_array([
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ]),
            holidays: BTreeSet::new(),
        }
    }
}
