//! The metric windows of one snapshot (SEMANTICS C7) and their business days (C8).

use chrono::{NaiveDate, TimeDelta};

use crate::{Calendar, Period, Timestamp, WindowKind};

/// The order of [`WindowSet::windows`]; bit `i` of [`WindowSet::mask`] is window `i`. Every
/// per-window vector follows it, and code finds a window by name ([`WindowSet::index_of`]), so
/// this list is the only place that decides positions.
pub const WINDOW_ORDER: [(Period, WindowKind); 9] = [
    (Period::Week, WindowKind::Current),
    (Period::Week, WindowKind::Previous),
    (Period::Month, WindowKind::Current),
    (Period::Month, WindowKind::Previous),
    (Period::Quarter, WindowKind::Current),
    (Period::Quarter, WindowKind::Previous),
    (Period::Days7, WindowKind::Rolling),
    (Period::Days30, WindowKind::Rolling),
    (Period::Days90, WindowKind::Rolling),
];

/// How many windows a snapshot has.
pub const WINDOW_COUNT: usize = WINDOW_ORDER.len();

// A mask is a `u16`, one bit per window.
const _: () = assert!(WINDOW_COUNT <= u16::BITS as usize);

/// The position of the current week, whose start decides lateness.
const CURRENT_WEEK: usize = WindowSet::position(Period::Week, WindowKind::Current);

/// One metric window: an interval of instants whose open/closed ends depend on `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub period: Period,
    pub kind: WindowKind,
    /// `sales_window_start_timestamp_seconds`: the interval start (excluded for rolling windows).
    pub start: Timestamp,
    /// `sales_window_end_timestamp_seconds`: `as_of` for current and rolling windows (included),
    /// the start of the current period for previous ones (excluded).
    pub end: Timestamp,
    /// Business days of the whole period (C8), including dates after `as_of` for `current`.
    pub business_days: u32,
}

impl Window {
    /// Whether `t` is in the window: current `[start, end]`, previous `[start, end)`, rolling
    /// `(start, end]`.
    #[inline]
    pub fn contains(&self, t: Timestamp) -> bool {
        match self.kind {
            WindowKind::Current => self.start <= t && t <= self.end,
            WindowKind::Previous => self.start <= t && t < self.end,
            WindowKind::Rolling => self.start < t && t <= self.end,
        }
    }
}

/// All windows of a snapshot at `as_of`, computed once so that classifying an event is a handful
/// of comparisons.
#[derive(Debug, Clone)]
pub struct WindowSet {
    pub as_of: Timestamp,
    /// In [`WINDOW_ORDER`].
    pub windows: [Window; WINDOW_COUNT],
    /// `[start of the quarter before the previous one, start of the previous quarter)`: the
    /// denominator quarter of the magic number's `previous` window (C22). Not part of `mask`.
    pub quarter_before_previous: Window,
    /// [`WindowSet::windows_horizon`] and [`WindowSet::horizon`], worked out once: the engine asks
    /// for every event, and comparing every window's start each time was 7 % of `run`'s applying
    /// thread.
    windows_horizon: Timestamp,
    horizon: Timestamp,
}

impl WindowSet {
    /// Bit `i` set iff `windows[i].contains(t)`.
    #[inline]
    pub fn mask(&self, t: Timestamp) -> u16 {
        let mut mask = 0;
        for (i, w) in self.windows.iter().enumerate() {
            mask |= u16::from(w.contains(t)) << i;
        }
        mask
    }

    /// Start of the current week.
    pub fn current_week_start(&self) -> Timestamp {
        self.windows[CURRENT_WEEK].start
    }

    /// A lower bound of every instant any window (`quarter_before_previous` included) can contain;
    /// state older than this cannot affect a windowed metric.
    pub fn horizon(&self) -> Timestamp {
        self.horizon
    }

    /// The earliest instant one of [`WindowSet::windows`] can contain (`quarter_before_previous`
    /// aside).
    pub fn windows_horizon(&self) -> Timestamp {
        self.windows_horizon
    }

    /// Index of `(period, kind)` in [`WINDOW_ORDER`], if it is one of the windows. A `const fn`,
    /// so positions used in code are found at compile time (see [`WindowSet::position`]).
    pub const fn index_of(period: Period, kind: WindowKind) -> Option<usize> {
        let mut index = 0;
        while index < WINDOW_COUNT {
            let (p, k) = WINDOW_ORDER[index];
            // `==` of the derived `PartialEq` is not const; the discriminants compare the same.
            if p as u8 == period as u8 && k as u8 == kind as u8 {
                return Some(index);
            }
            index += 1;
        }
        None
    }

    /// Index of a window that exists, for constants: `const I: usize = WindowSet::position(..)`
    /// fails to compile if `(period, kind)` is not in [`WINDOW_ORDER`].
    pub const fn position(period: Period, kind: WindowKind) -> usize {
        match Self::index_of(period, kind) {
            Some(index) => index,
            None => panic!("not one of the snapshot's windows"),
        }
    }

    /// The window for `(period, kind)`, if it is one of the windows.
    pub fn get(&self, period: Period, kind: WindowKind) -> Option<&Window> {
        Self::index_of(period, kind).map(|i| &self.windows[i])
    }
}

impl Calendar {
    /// The windows of a snapshot at `as_of` (C7), with business days (C8), each built from its
    /// name in [`WINDOW_ORDER`].
    pub fn windows(&self, as_of: Timestamp) -> WindowSet {
        let today = self.local_date(as_of);
        let previous_quarter_start = self.previous_period_start(Period::Quarter, today);
        let windows: [Window; WINDOW_COUNT] = std::array::from_fn(|index| {
            let (period, kind) = WINDOW_ORDER[index];
            match kind {
                WindowKind::Current => self.current_window(period, today, as_of),
                WindowKind::Previous => {
                    self.previous_window(period, self.period_start(period, today))
                }
                WindowKind::Rolling => self.rolling_window(period, today, as_of),
            }
        });
        let quarter_before_previous = self.previous_window(Period::Quarter, previous_quarter_start);
        let windows_horizon = windows
            .iter()
            .map(|window| window.start)
            .fold(as_of, Timestamp::min);
        WindowSet {
            as_of,
            windows,
            horizon: windows_horizon.min(quarter_before_previous.start),
            windows_horizon,
            quarter_before_previous,
        }
    }

    /// The calendar period containing local date `today`, up to `as_of`.
    fn current_window(&self, period: Period, today: NaiveDate, as_of: Timestamp) -> Window {
        let first = self.period_start(period, today);
        Window {
            period,
            kind: WindowKind::Current,
            start: self.start_of_day(first),
            end: as_of,
            business_days: self.business_days(first, self.period_last(period, first)),
        }
    }

    /// The whole period before the one starting on local date `current_first`.
    fn previous_window(&self, period: Period, current_first: NaiveDate) -> Window {
        let last = current_first.pred_opt().unwrap_or(current_first);
        let first = self.period_start(period, last);
        Window {
            period,
            kind: WindowKind::Previous,
            start: self.start_of_day(first),
            end: self.start_of_day(current_first),
            business_days: self.business_days(first, last),
        }
    }

    /// `(as_of − N × 86 400 s, as_of]`; business days over the N local dates ending today.
    fn rolling_window(&self, period: Period, today: NaiveDate, as_of: Timestamp) -> Window {
        let days = period.rolling_days().unwrap_or(0);
        let start = as_of
            .checked_sub_signed(TimeDelta::seconds(i64::from(days) * 86_400))
            .unwrap_or(Timestamp::MIN_UTC);
        Window {
            period,
            kind: WindowKind::Rolling,
            start,
            end: as_of,
            business_days: self.business_days(self.period_start(period, today), today),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc, Weekday};
    use chrono_tz::Tz;

    use super::*;
    use crate::CalendarSettings;

    fn ts(s: &str) -> Timestamp {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    fn calendar(tz: Tz, week_start: Weekday, fiscal: u32, holidays: &[&str]) -> Calendar {
        Calendar::new(&CalendarSettings {
            timezone: tz,
            week_start,
            fiscal_year_start_month: fiscal,
            holidays: holidays.iter().map(|h| h.parse().expect("date")).collect(),
            ..CalendarSettings::default()
        })
    }

    fn utc() -> Calendar {
        calendar(Tz::UTC, Weekday::Mon, 1, &[])
    }

    fn win(set: &WindowSet, period: Period, kind: WindowKind) -> Window {
        *set.get(period, kind).expect("window")
    }

    /// (start, end, business days)
    fn bounds(w: Window) -> (Timestamp, Timestamp, u32) {
        (w.start, w.end, w.business_days)
    }

    #[test]
    fn order_and_labels() {
        let set = utc().windows(ts("2026-03-11T12:00:00Z"));
        for (w, (p, k)) in set.windows.iter().zip(WINDOW_ORDER) {
            assert_eq!((w.period, w.kind), (p, k));
        }
        assert_eq!(
            WindowSet::index_of(Period::Days90, WindowKind::Rolling),
            Some(8)
        );
        assert_eq!(
            WindowSet::index_of(Period::Days7, WindowKind::Current),
            None
        );
        assert_eq!(set.quarter_before_previous.period, Period::Quarter);
        assert_eq!(set.quarter_before_previous.kind, WindowKind::Previous);
    }

    #[test]
    fn horizons_are_the_earliest_window_starts() {
        // 30 November 2026, UTC: the previous quarter (July to September) starts first among
        // the windows, before the 90 rolling days (from 2 September); the quarter before it
        // starts on 1 April.
        let set = utc().windows(ts("2026-11-30T12:00:00Z"));
        assert_eq!(set.windows_horizon(), ts("2026-07-01T00:00:00Z"));
        assert_eq!(set.horizon(), ts("2026-04-01T00:00:00Z"));
        // New York, 1 November: the previous quarter starts at local midnight, 04:00Z (EDT).
        let ny = calendar(Tz::America__New_York, Weekday::Mon, 1, &[]);
        let set = ny.windows(ts("2026-11-01T12:00:00-05:00"));
        assert_eq!(set.windows_horizon(), ts("2026-07-01T04:00:00Z"));
        assert_eq!(set.horizon(), ts("2026-04-01T04:00:00Z"));
    }

    #[test]
    fn windows_are_found_by_name() {
        use Period::*;
        use WindowKind::*;
        assert_eq!(WINDOW_COUNT, 9);
        let expected = [
            ((Week, Current), 0),
            ((Week, Previous), 1),
            ((Month, Current), 2),
            ((Month, Previous), 3),
            ((Quarter, Current), 4),
            ((Quarter, Previous), 5),
            ((Days7, Rolling), 6),
            ((Days30, Rolling), 7),
            ((Days90, Rolling), 8),
        ];
        for ((period, kind), index) in expected {
            assert_eq!(WindowSet::index_of(period, kind), Some(index));
            assert_eq!(WindowSet::position(period, kind), index);
        }
        for (period, kind) in [(Week, Rolling), (Days30, Current), (Days90, Previous)] {
            assert_eq!(WindowSet::index_of(period, kind), None);
        }
        const QUARTER: usize = WindowSet::position(Quarter, Current);
        assert_eq!(QUARTER, 4);
        // Each window of a set sits where its name says, with the bounds of its own kind:
        // UTC, as_of Wed 2026-04-15 12:00Z.
        let set = utc().windows(ts("2026-04-15T12:00:00Z"));
        let at = |period, kind| set.windows[WindowSet::position(period, kind)];
        assert_eq!(at(Week, Previous).start, ts("2026-04-06T00:00:00Z"));
        assert_eq!(at(Month, Current).start, ts("2026-04-01T00:00:00Z"));
        assert_eq!(at(Quarter, Previous).start, ts("2026-01-01T00:00:00Z"));
        assert_eq!(at(Days30, Rolling).start, ts("2026-03-16T12:00:00Z"));
    }

    #[test]
    fn new_york_week_after_fall_back() {
        // as_of Wed 2026-11-04 12:00 EST (−05) = 17:00Z. The week began Mon 11-02 00:00 EST = 05:00Z.
        // The previous week, Mon 10-26 00:00 EDT (04:00Z) .. 11-02 05:00Z, contains the 11-01
        // fall-back and lasts 7 × 24 + 1 = 169 h.
        let ny = calendar(Tz::America__New_York, Weekday::Mon, 1, &[]);
        let as_of = ts("2026-11-04T12:00:00-05:00");
        let set = ny.windows(as_of);
        let cur = win(&set, Period::Week, WindowKind::Current);
        let prev = win(&set, Period::Week, WindowKind::Previous);
        assert_eq!(bounds(cur), (ts("2026-11-02T05:00:00Z"), as_of, 5));
        assert_eq!(
            bounds(prev),
            (ts("2026-10-26T04:00:00Z"), ts("2026-11-02T05:00:00Z"), 5)
        );
        assert_eq!((prev.end - prev.start).num_hours(), 169);
        assert_eq!(set.current_week_start(), ts("2026-11-02T05:00:00Z"));
        // The last EDT instant of Sunday 11-01 (04:59:59Z is 23:59:59 EST) is in the previous week.
        assert!(prev.contains(ts("2026-11-02T04:59:59Z")));
        assert!(!cur.contains(ts("2026-11-02T04:59:59Z")));
        assert!(cur.contains(ts("2026-11-02T05:00:00Z")));
    }

    #[test]
    fn new_york_week_containing_fall_back() {
        // as_of Sun 2026-11-01 12:00 EST = 17:00Z, after the 02:00 fall-back: the week started
        // Mon 10-26 00:00 EDT = 04:00Z; the week before (10-19..10-25) is entirely EDT, 168 h.
        let ny = calendar(Tz::America__New_York, Weekday::Mon, 1, &[]);
        let as_of = ts("2026-11-01T12:00:00-05:00");
        let set = ny.windows(as_of);
        let cur = win(&set, Period::Week, WindowKind::Current);
        let prev = win(&set, Period::Week, WindowKind::Previous);
        assert_eq!(bounds(cur), (ts("2026-10-26T04:00:00Z"), as_of, 5));
        assert_eq!(prev.start, ts("2026-10-19T04:00:00Z"));
        assert_eq!((prev.end - prev.start).num_hours(), 168);
        // The month of November starts at 11-01 00:00 EDT = 04:00Z; October is all EDT.
        let month = win(&set, Period::Month, WindowKind::Current);
        assert_eq!(month.start, ts("2026-11-01T04:00:00Z"));
        let prev_month = win(&set, Period::Month, WindowKind::Previous);
        assert_eq!(prev_month.start, ts("2026-10-01T04:00:00Z"));
    }

    #[test]
    fn new_york_week_after_spring_forward() {
        // as_of Wed 2026-03-11 12:00 EDT = 16:00Z. Current week: Mon 03-09 00:00 EDT = 04:00Z.
        // Previous week: Mon 03-02 00:00 EST = 05:00Z .. 03-09 04:00Z, containing the 03-08
        // spring-forward: 167 h.
        let ny = calendar(Tz::America__New_York, Weekday::Mon, 1, &[]);
        let as_of = ts("2026-03-11T12:00:00-04:00");
        let set = ny.windows(as_of);
        let cur = win(&set, Period::Week, WindowKind::Current);
        let prev = win(&set, Period::Week, WindowKind::Previous);
        assert_eq!(cur.start, ts("2026-03-09T04:00:00Z"));
        assert_eq!(
            bounds(prev),
            (ts("2026-03-02T05:00:00Z"), ts("2026-03-09T04:00:00Z"), 5)
        );
        assert_eq!((prev.end - prev.start).num_hours(), 167);
    }

    #[test]
    fn sunday_start_week() {
        // Sunday-start, UTC: as_of Sat 2026-03-14 23:59:59 is the last second of the week that began
        // Sun 03-08; at Sun 03-15 00:00 a new week begins (start == end, as_of exactly at the start).
        let c = calendar(Tz::UTC, Weekday::Sun, 1, &[]);
        let set = c.windows(ts("2026-03-14T23:59:59Z"));
        assert_eq!(set.current_week_start(), ts("2026-03-08T00:00:00Z"));
        let w = win(&set, Period::Week, WindowKind::Previous);
        assert_eq!(
            bounds(w),
            (ts("2026-03-01T00:00:00Z"), ts("2026-03-08T00:00:00Z"), 5)
        );
        let set = c.windows(ts("2026-03-15T00:00:00Z"));
        assert_eq!(set.current_week_start(), ts("2026-03-15T00:00:00Z"));
    }

    #[test]
    fn as_of_exactly_at_period_start() {
        // Mon 2026-06-01 00:00Z starts a week and a month (not a quarter: Q2 began 04-01). Current
        // week and month are the single instant as_of; the previous ones are whole and exclude it.
        let as_of = ts("2026-06-01T00:00:00Z");
        let set = utc().windows(as_of);
        let week = win(&set, Period::Week, WindowKind::Current);
        assert_eq!((week.start, week.end), (as_of, as_of));
        assert!(week.contains(as_of));
        assert_eq!(week.business_days, 5); // the whole week 06-01..06-07 counts
        let prev = win(&set, Period::Week, WindowKind::Previous);
        assert_eq!((prev.start, prev.end), (ts("2026-05-25T00:00:00Z"), as_of));
        assert!(!prev.contains(as_of));
        assert!(prev.contains(ts("2026-05-31T23:59:59.999999999Z")));
        let month = win(&set, Period::Month, WindowKind::Current);
        assert_eq!((month.start, month.end), (as_of, as_of));
        // June 2026: Mon 1st..Sun 28th = 20 weekdays + Mon 29, Tue 30 = 22.
        assert_eq!(month.business_days, 22);
        let prev_month = win(&set, Period::Month, WindowKind::Previous);
        // May 2026: Fri 1st; Fri 1..Thu 28 = 20 weekdays + Fri 29 (Sat 30, Sun 31) = 21.
        assert_eq!(bounds(prev_month), (ts("2026-05-01T00:00:00Z"), as_of, 21));
        assert_eq!(set.mask(as_of), 0b1_1101_0101);
    }

    #[test]
    fn fiscal_quarters_starting_in_february() {
        let c = calendar(Tz::UTC, Weekday::Mon, 2, &[]);

        // January belongs to the quarter Nov–Jan begun the previous year.
        let set = c.windows(ts("2026-01-15T10:00:00Z"));
        let cur = win(&set, Period::Quarter, WindowKind::Current);
        let prev = win(&set, Period::Quarter, WindowKind::Previous);
        assert_eq!(cur.start, ts("2025-11-01T00:00:00Z"));
        assert_eq!(
            (prev.start, prev.end),
            (ts("2025-08-01T00:00:00Z"), cur.start)
        );
        let qbp = set.quarter_before_previous;
        assert_eq!(
            (qbp.start, qbp.end),
            (ts("2025-05-01T00:00:00Z"), prev.start)
        );
        assert_eq!(set.horizon(), qbp.start);

        // Exactly at 02-01 00:00 a quarter starts: current is [as_of, as_of], previous Nov–Jan.
        let as_of = ts("2026-02-01T00:00:00Z");
        let set = c.windows(as_of);
        let cur = win(&set, Period::Quarter, WindowKind::Current);
        let prev = win(&set, Period::Quarter, WindowKind::Previous);
        assert_eq!((cur.start, cur.end), (as_of, as_of));
        // Feb 2026 (Sun 1st, 28 days) 20 weekdays; Mar (Sun 1st, 31 days) 20 + Mon 30, Tue 31 = 22;
        // Apr (Wed 1st, 30 days) 20 + Wed 29, Thu 30 = 22. Total 64.
        assert_eq!(cur.business_days, 64);
        assert_eq!((prev.start, prev.end), (ts("2025-11-01T00:00:00Z"), as_of));
        // Nov 2025 (Sat 1st) 20; Dec 2025 (Mon 1st) 20 + Mon 29, Tue 30, Wed 31 = 23;
        // Jan 2026 (Thu 1st) 20 + Thu 29, Fri 30 = 22. Total 65.
        assert_eq!(prev.business_days, 65);

        // April: still the Feb–Apr quarter; previous is Nov–Jan across the year boundary.
        let set = c.windows(ts("2026-04-30T23:00:00Z"));
        let cur = win(&set, Period::Quarter, WindowKind::Current);
        let prev = win(&set, Period::Quarter, WindowKind::Previous);
        assert_eq!(
            (cur.start, cur.business_days),
            (ts("2026-02-01T00:00:00Z"), 64)
        );
        assert_eq!(
            (prev.start, prev.end),
            (ts("2025-11-01T00:00:00Z"), cur.start)
        );
        assert_eq!(
            set.quarter_before_previous.start,
            ts("2025-08-01T00:00:00Z")
        );
    }

    #[test]
    fn calendar_quarter_and_month_across_year_boundary() {
        let set = utc().windows(ts("2027-01-10T08:00:00Z"));
        let q = win(&set, Period::Quarter, WindowKind::Previous);
        assert_eq!(
            (q.start, q.end),
            (ts("2026-10-01T00:00:00Z"), ts("2027-01-01T00:00:00Z"))
        );
        assert_eq!(
            set.quarter_before_previous.start,
            ts("2026-07-01T00:00:00Z")
        );
        let m = win(&set, Period::Month, WindowKind::Previous);
        // December 2026 (Tue 1st): 23 weekdays, no holidays configured.
        assert_eq!(
            bounds(m),
            (ts("2026-12-01T00:00:00Z"), ts("2027-01-01T00:00:00Z"), 23)
        );
        let m = win(&set, Period::Month, WindowKind::Current);
        // January 2027 (Fri 1st): Fri 1..Thu 28 = 20 + Fri 29 = 21.
        assert_eq!(m.start, ts("2027-01-01T00:00:00Z"));
        assert_eq!(m.business_days, 21);
    }

    #[test]
    fn holidays_in_window_business_days() {
        // 12-25 Friday and 12-26 Saturday are holidays; as_of Wed 2026-12-23.
        let c = calendar(Tz::UTC, Weekday::Mon, 1, &["2026-12-25", "2026-12-26"]);
        let set = c.windows(ts("2026-12-23T09:00:00Z"));
        // Week 12-21..12-27: 5 − 1 (the Saturday holiday is not a workday anyway) = 4, counting
        // the days after as_of.
        assert_eq!(
            win(&set, Period::Week, WindowKind::Current).business_days,
            4
        );
        // December: 23 − 1 = 22. Q4 2026: Oct (Thu 1st) 20 + Thu 29, Fri 30 = 22; Nov (Sun 1st)
        // 20 + Mon 30 = 21; Dec 22. Total 65.
        assert_eq!(
            win(&set, Period::Month, WindowKind::Current).business_days,
            22
        );
        assert_eq!(
            win(&set, Period::Quarter, WindowKind::Current).business_days,
            65
        );
        // Rolling 7d = 12-17 (Thu)..12-23 (Wed): Thu, Fri, Mon, Tue, Wed = 5.
        assert_eq!(
            win(&set, Period::Days7, WindowKind::Rolling).business_days,
            5
        );
        // Later, 7d = 12-22..12-28 (Mon): Tue, Wed, Thu, Mon (Fri 25th holiday) = 4.
        let set = c.windows(ts("2026-12-28T09:00:00Z"));
        assert_eq!(
            win(&set, Period::Days7, WindowKind::Rolling).business_days,
            4
        );
        // And the previous week is the holiday week: 4.
        assert_eq!(
            win(&set, Period::Week, WindowKind::Previous).business_days,
            4
        );
    }

    #[test]
    fn rolling_bounds() {
        // as_of 2026-03-31T12:00Z; 7d starts 03-24 12:00 (excluded), ends as_of (included).
        let as_of = ts("2026-03-31T12:00:00Z");
        let set = utc().windows(as_of);
        let d7 = win(&set, Period::Days7, WindowKind::Rolling);
        assert_eq!((d7.start, d7.end), (ts("2026-03-24T12:00:00Z"), as_of));
        assert!(!d7.contains(d7.start));
        assert!(d7.contains(ts("2026-03-24T12:00:00.000000001Z")));
        assert!(d7.contains(as_of));
        assert!(!d7.contains(ts("2026-03-31T12:00:00.000000001Z")));
        // 7 local dates 03-25 (Wed)..03-31 (Tue): 5 weekdays.
        assert_eq!(d7.business_days, 5);
        let d30 = win(&set, Period::Days30, WindowKind::Rolling);
        assert_eq!(d30.start, ts("2026-03-01T12:00:00Z"));
        // 30 dates 03-02 (Mon)..03-31 (Tue): 4 weeks = 20 + Mon 30, Tue 31 = 22.
        assert_eq!(d30.business_days, 22);
        let d90 = win(&set, Period::Days90, WindowKind::Rolling);
        // 90 days before 03-31 is 2025-12-31 (31 + 28 + 31 = 90).
        assert_eq!(d90.start, ts("2025-12-31T12:00:00Z"));
        // 90 dates 2026-01-01 (Thu)..03-31 (Tue): 12 weeks = 60 + Thu 03-26 .. Tue 03-31 minus
        // Sat/Sun = Thu, Fri, Mon, Tue = 64.
        assert_eq!(d90.business_days, 64);
        assert!(set.horizon() <= d90.start);
    }

    #[test]
    fn rolling_is_24h_multiples_not_local_days() {
        // New York, as_of Mon 2026-03-09 12:00 EDT = 16:00Z: 7 × 86 400 s back is 03-02 16:00Z,
        // which is 11:00 EST, not 12:00 local, because the window spans the spring-forward.
        let ny = calendar(Tz::America__New_York, Weekday::Mon, 1, &[]);
        let set = ny.windows(ts("2026-03-09T12:00:00-04:00"));
        let d7 = win(&set, Period::Days7, WindowKind::Rolling);
        assert_eq!(d7.start, ts("2026-03-02T11:00:00-05:00"));
    }

    #[test]
    fn masks() {
        // UTC, as_of Wed 2026-04-15 12:00Z. Week: [04-13, as_of], prev [04-06, 04-13).
        // Month: [04-01, as_of], prev [03-01, 04-01). Quarter: [04-01, as_of], prev [01-01, 04-01).
        // 7d (04-08 12:00, as_of], 30d (03-16 12:00, as_of], 90d (2026-01-15 12:00, as_of].
        let as_of = ts("2026-04-15T12:00:00Z");
        let set = utc().windows(as_of);
        let bit = |p, k| 1u16 << WindowSet::index_of(p, k).expect("index");
        use Period::*;
        use WindowKind::*;
        let rolling = bit(Days7, Rolling) | bit(Days30, Rolling) | bit(Days90, Rolling);
        let now = bit(Week, Current) | bit(Month, Current) | bit(Quarter, Current) | rolling;
        assert_eq!(set.mask(as_of), now);
        assert_eq!(set.mask(ts("2026-04-13T00:00:00Z")), now);
        // Sun 04-12 23:00: previous week, but still current month/quarter and all rolling.
        assert_eq!(
            set.mask(ts("2026-04-12T23:00:00Z")),
            bit(Week, Previous) | bit(Month, Current) | bit(Quarter, Current) | rolling
        );
        // 04-08 12:00 exactly: the 7d start, excluded.
        assert_eq!(
            set.mask(ts("2026-04-08T12:00:00Z")),
            bit(Week, Previous)
                | bit(Month, Current)
                | bit(Quarter, Current)
                | bit(Days30, Rolling)
                | bit(Days90, Rolling)
        );
        // 03-20: previous month and quarter, 30d and 90d.
        assert_eq!(
            set.mask(ts("2026-03-20T00:00:00Z")),
            bit(Month, Previous)
                | bit(Quarter, Previous)
                | bit(Days30, Rolling)
                | bit(Days90, Rolling)
        );
        // 2026-01-10: previous quarter only (before the 90d start 01-15 12:00).
        assert_eq!(set.mask(ts("2026-01-10T00:00:00Z")), bit(Quarter, Previous));
        // 2025-12-31 and after as_of: nothing.
        assert_eq!(set.mask(ts("2025-12-31T23:59:59Z")), 0);
        assert_eq!(set.mask(ts("2026-04-15T12:00:00.000000001Z")), 0);
        assert_eq!(set.horizon(), ts("2025-10-01T00:00:00Z"));
    }

    #[test]
    fn extremes_do_not_panic() {
        for tz in [Tz::UTC, Tz::Pacific__Kiritimati, Tz::America__New_York] {
            let c = calendar(tz, Weekday::Sun, 11, &["2026-12-25"]);
            for t in [Timestamp::MIN_UTC, Timestamp::MAX_UTC] {
                let set = c.windows(t);
                let _ = set.mask(t);
                let _ = set.horizon();
            }
        }
    }
}
