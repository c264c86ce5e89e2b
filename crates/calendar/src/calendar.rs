//! Local dates, period boundaries and business-day counts in the business time zone.

use chrono::{
    Datelike, Days, MappedLocalTime, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Utc, Weekday,
};
use chrono_tz::{GapInfo, Tz};

use crate::{CalendarSettings, Period, Timestamp};

/// The business calendar, preprocessed from [`CalendarSettings`] so that the per-snapshot work
/// (window bounds, business-day counts) does no set look-ups beyond a binary search.
#[derive(Debug, Clone)]
pub struct Calendar {
    tz: Tz,
    week_start: Weekday,
    /// Month index (0 = January) of the first quarter start, reduced mod 3: quarters start in the
    /// months congruent to it, so this is all the fiscal-year start month decides.
    quarter_phase: u32,
    /// Indexed by `Weekday::num_days_from_monday`.
    workdays: [bool; 7],
    workdays_per_week: u32,
    /// Sorted holidays that fall on a workday; holidays on other days never reduce a count, so
    /// dropping them up front is what makes "not subtracted twice" hold.
    workday_holidays: Vec<NaiveDate>,
}

impl Calendar {
    /// Builds the calendar. A `fiscal_year_start_month` outside 1..=12 (config rejects it) is clamped
    /// into that range rather than panicking.
    pub fn new(settings: &CalendarSettings) -> Calendar {
        let mut workdays = [false; 7];
        for day in settings.workdays.iter(Weekday::Mon) {
            workdays[day.num_days_from_monday() as usize] = true;
        }
        let workdays_per_week = workdays.iter().filter(|&&w| w).count() as u32;
        let workday_holidays = settings
            .holidays
            .iter()
            .copied()
            .filter(|d| workdays[d.weekday().num_days_from_monday() as usize])
            .collect(); // BTreeSet iteration is sorted
        Calendar {
            tz: settings.timezone,
            week_start: settings.week_start,
            quarter_phase: (settings.fiscal_year_start_month.clamp(1, 12) - 1) % 3,
            workdays,
            workdays_per_week,
            workday_holidays,
        }
    }

    /// The business time zone.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The local date of `t` in the business time zone (saturating at chrono's date range).
    pub fn local_date(&self, t: Timestamp) -> NaiveDate {
        let utc = t.naive_utc();
        let offset = self.tz.offset_from_utc_datetime(&utc).fix();
        // `DateTime::date_naive` panics when the local time leaves chrono's range; saturate instead.
        match utc.checked_add_offset(offset) {
            Some(local) => local.date(),
            None if offset.local_minus_utc() >= 0 => NaiveDate::MAX,
            None => NaiveDate::MIN,
        }
    }

    /// The first instant of local `date`: local midnight; if midnight falls in a DST gap, the first
    /// instant after the gap (the start of that local day, or of the next existing day when the whole
    /// date was skipped); if midnight happens twice, the earlier.
    pub fn start_of_day(&self, date: NaiveDate) -> Timestamp {
        let midnight = date.and_time(NaiveTime::MIN);
        match self.tz.from_local_datetime(&midnight) {
            MappedLocalTime::Single(t) => t.with_timezone(&Utc),
            MappedLocalTime::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
            MappedLocalTime::None => match GapInfo::new(&midnight, &self.tz).and_then(|g| g.end) {
                Some(after_gap) => after_gap.with_timezone(&Utc),
                // Not a gap: the conversion left chrono's range.
                None => self.saturating_from_local(midnight),
            },
        }
    }

    /// Best effort for local times at the edge of chrono's range: apply the offset in force at the
    /// same wall-clock reading taken as UTC, else clamp to the representable range.
    fn saturating_from_local(&self, local: NaiveDateTime) -> Timestamp {
        let offset = self.tz.offset_from_utc_datetime(&local).fix();
        match local.checked_sub_offset(offset) {
            Some(utc) => utc.and_utc(),
            None if local.and_utc() > Timestamp::UNIX_EPOCH => Timestamp::MAX_UTC,
            None => Timestamp::MIN_UTC,
        }
    }

    /// The first local date of the period containing `date`. For rolling `Nd` periods this is the
    /// first of the N dates ending with `date` (the dates C8 counts business days over).
    pub fn period_start(&self, period: Period, date: NaiveDate) -> NaiveDate {
        match period {
            Period::Week => {
                let back = (7 + date.weekday().num_days_from_monday()
                    - self.week_start.num_days_from_monday())
                    % 7;
                sub_days(date, back.into())
            }
            Period::Month => first_of_month(date.year(), date.month0()),
            Period::Quarter => {
                let month0 = date.month0();
                let back = (month0 + 3 - self.quarter_phase) % 3;
                if back <= month0 {
                    first_of_month(date.year(), month0 - back)
                } else {
                    // e.g. fiscal start February: January belongs to the quarter begun in November.
                    first_of_month(date.year().saturating_sub(1), month0 + 12 - back)
                }
            }
            Period::Days7 | Period::Days30 | Period::Days90 => {
                let n = period.rolling_days().unwrap_or(1);
                sub_days(date, (n - 1).into())
            }
        }
    }

    /// The last local date of the period containing `date` (for rolling periods, `date` itself).
    pub fn period_last(&self, period: Period, date: NaiveDate) -> NaiveDate {
        let start = self.period_start(period, date);
        let next = match period {
            Period::Week => start.checked_add_days(Days::new(7)),
            Period::Month => start.checked_add_months(Months::new(1)),
            Period::Quarter => start.checked_add_months(Months::new(3)),
            Period::Days7 | Period::Days30 | Period::Days90 => return date,
        };
        // No next period start in range: the period runs to the end of the representable dates.
        next.and_then(|d| d.pred_opt()).unwrap_or(NaiveDate::MAX)
    }

    /// The first local date of the period before the one containing `date`.
    pub fn previous_period_start(&self, period: Period, date: NaiveDate) -> NaiveDate {
        let start = self.period_start(period, date);
        self.period_start(period, start.pred_opt().unwrap_or(start))
    }

    /// Number of dates in `first..=last_inclusive` that are workdays and not holidays (0 when the
    /// range is empty). Constant time in the range length plus a binary search over holidays.
    pub fn business_days(&self, first: NaiveDate, last_inclusive: NaiveDate) -> u32 {
        if last_inclusive < first {
            return 0;
        }
        let len = last_inclusive.signed_duration_since(first).num_days() + 1;
        let full_weeks = len / 7;
        let first_wd = first.weekday().num_days_from_monday() as i64;
        let partial = (0..len % 7)
            .filter(|i| self.workdays[((first_wd + i) % 7) as usize])
            .count() as i64;
        let workdays = full_weeks * i64::from(self.workdays_per_week) + partial;
        let lo = self.workday_holidays.partition_point(|&d| d < first);
        let hi = self
            .workday_holidays
            .partition_point(|&d| d <= last_inclusive);
        let holidays = (hi - lo) as i64;
        u32::try_from(workdays - holidays).unwrap_or(u32::MAX)
    }
}

fn sub_days(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_sub_days(Days::new(days))
        .unwrap_or(NaiveDate::MIN)
}

fn first_of_month(year: i32, month0: u32) -> NaiveDate {
    // Only fails below chrono's first year (the quarter of an early January reaching back).
    NaiveDate::from_ymd_opt(year, month0 + 1, 1).unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Weekday};

    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn ts(s: &str) -> Timestamp {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    fn cal(tz: Tz) -> Calendar {
        Calendar::new(&CalendarSettings {
            timezone: tz,
            ..CalendarSettings::default()
        })
    }

    fn fiscal(month: u32) -> Calendar {
        Calendar::new(&CalendarSettings {
            fiscal_year_start_month: month,
            ..CalendarSettings::default()
        })
    }

    #[test]
    fn week_start_monday_and_sunday() {
        let mon = cal(Tz::UTC);
        // 2026-03-11 is a Wednesday; its Monday is 03-09, its Sunday 03-08.
        assert_eq!(
            mon.period_start(Period::Week, d("2026-03-11")),
            d("2026-03-09")
        );
        assert_eq!(
            mon.period_start(Period::Week, d("2026-03-09")),
            d("2026-03-09")
        );
        // Sunday 03-15 still belongs to the Monday-started week of 03-09.
        assert_eq!(
            mon.period_start(Period::Week, d("2026-03-15")),
            d("2026-03-09")
        );
        assert_eq!(
            mon.period_last(Period::Week, d("2026-03-11")),
            d("2026-03-15")
        );

        let sun = Calendar::new(&CalendarSettings {
            week_start: Weekday::Sun,
            ..CalendarSettings::default()
        });
        assert_eq!(
            sun.period_start(Period::Week, d("2026-03-11")),
            d("2026-03-08")
        );
        assert_eq!(
            sun.period_start(Period::Week, d("2026-03-08")),
            d("2026-03-08")
        );
        // Saturday 03-14 is the last day of the Sunday-started week; Sunday 03-15 starts the next.
        assert_eq!(
            sun.period_start(Period::Week, d("2026-03-14")),
            d("2026-03-08")
        );
        assert_eq!(
            sun.period_start(Period::Week, d("2026-03-15")),
            d("2026-03-15")
        );
        assert_eq!(
            sun.period_last(Period::Week, d("2026-03-11")),
            d("2026-03-14")
        );
    }

    #[test]
    fn calendar_and_fiscal_quarters() {
        let q1 = fiscal(1);
        assert_eq!(
            q1.period_start(Period::Quarter, d("2026-02-15")),
            d("2026-01-01")
        );
        assert_eq!(
            q1.period_start(Period::Quarter, d("2026-12-31")),
            d("2026-10-01")
        );
        assert_eq!(
            q1.period_last(Period::Quarter, d("2026-11-05")),
            d("2026-12-31")
        );
        // Previous quarter of Q1 2026 is Q4 2025.
        assert_eq!(
            q1.previous_period_start(Period::Quarter, d("2026-02-15")),
            d("2025-10-01")
        );

        // Fiscal start February: quarters begin Feb, May, Aug, Nov.
        let feb = fiscal(2);
        assert_eq!(
            feb.period_start(Period::Quarter, d("2026-01-15")),
            d("2025-11-01")
        );
        assert_eq!(
            feb.period_start(Period::Quarter, d("2026-01-31")),
            d("2025-11-01")
        );
        assert_eq!(
            feb.period_start(Period::Quarter, d("2026-02-01")),
            d("2026-02-01")
        );
        assert_eq!(
            feb.period_start(Period::Quarter, d("2026-04-30")),
            d("2026-02-01")
        );
        assert_eq!(
            feb.period_start(Period::Quarter, d("2026-05-01")),
            d("2026-05-01")
        );
        assert_eq!(
            feb.period_start(Period::Quarter, d("2026-12-01")),
            d("2026-11-01")
        );
        assert_eq!(
            feb.period_last(Period::Quarter, d("2026-01-15")),
            d("2026-01-31")
        );
        assert_eq!(
            feb.previous_period_start(Period::Quarter, d("2026-01-15")),
            d("2025-08-01")
        );

        // Fiscal start December (phase 2): quarters begin Dec, Mar, Jun, Sep; fiscal start 5 behaves
        // like 2 (May ≡ Feb mod 3), 13/0 are clamped to 12/1.
        let dec = fiscal(12);
        assert_eq!(
            dec.period_start(Period::Quarter, d("2026-02-28")),
            d("2025-12-01")
        );
        assert_eq!(
            dec.period_start(Period::Quarter, d("2026-03-01")),
            d("2026-03-01")
        );
        assert_eq!(
            fiscal(5).period_start(Period::Quarter, d("2026-01-15")),
            d("2025-11-01")
        );
        assert_eq!(
            fiscal(13).period_start(Period::Quarter, d("2026-01-15")),
            d("2025-12-01")
        );
        assert_eq!(
            fiscal(0).period_start(Period::Quarter, d("2026-01-15")),
            d("2026-01-01")
        );
    }

    #[test]
    fn month_and_rolling_period_dates() {
        let c = cal(Tz::UTC);
        assert_eq!(
            c.period_start(Period::Month, d("2026-01-10")),
            d("2026-01-01")
        );
        assert_eq!(
            c.previous_period_start(Period::Month, d("2026-01-10")),
            d("2025-12-01")
        );
        assert_eq!(
            c.period_last(Period::Month, d("2028-02-10")),
            d("2028-02-29")
        );
        // Rolling 7d ending 2026-03-11 covers 03-05..=03-11.
        assert_eq!(
            c.period_start(Period::Days7, d("2026-03-11")),
            d("2026-03-05")
        );
        assert_eq!(
            c.period_last(Period::Days7, d("2026-03-11")),
            d("2026-03-11")
        );
    }

    #[test]
    fn business_days_with_holidays() {
        let c = Calendar::new(&CalendarSettings {
            // 2026-12-25 is a Friday, 2026-12-26 a Saturday, 2027-01-01 a Friday.
            holidays: [d("2026-12-25"), d("2026-12-26"), d("2027-01-01")]
                .into_iter()
                .collect(),
            ..CalendarSettings::default()
        });
        // Week Mon 12-21..Sun 12-27: 5 weekdays − Fri 25th = 4; the Saturday holiday is no workday.
        assert_eq!(c.business_days(d("2026-12-21"), d("2026-12-27")), 4);
        // December 2026 starts on a Tuesday: Tue 1st..Mon 28th = 4 weeks = 20 weekdays, + Tue 29,
        // Wed 30, Thu 31 = 23; − the 25th = 22.
        assert_eq!(c.business_days(d("2026-12-01"), d("2026-12-31")), 22);
        // Single days, an empty range, a reversed range.
        assert_eq!(c.business_days(d("2026-12-25"), d("2026-12-25")), 0);
        assert_eq!(c.business_days(d("2026-12-24"), d("2026-12-24")), 1);
        assert_eq!(c.business_days(d("2026-12-26"), d("2026-12-27")), 0);
        assert_eq!(c.business_days(d("2026-12-27"), d("2026-12-21")), 0);
        // 2026-12-28 (Mon)..2027-01-03 (Sun): 5 − New Year's Day = 4.
        assert_eq!(c.business_days(d("2026-12-28"), d("2027-01-03")), 4);
    }

    #[test]
    fn business_days_matches_day_by_day_count() {
        let c = Calendar::new(&CalendarSettings {
            workdays: [Weekday::Sun, Weekday::Tue, Weekday::Sat]
                .into_iter()
                .collect(),
            holidays: [d("2026-03-01"), d("2026-03-02"), d("2026-03-14")]
                .into_iter()
                .collect(),
            ..CalendarSettings::default()
        });
        let base = d("2026-02-20");
        for a in 0..30u64 {
            for len in 0..40u64 {
                let first = base + Days::new(a);
                let last = first + Days::new(len);
                let naive = first
                    .iter_days()
                    .take_while(|x| *x <= last)
                    .filter(|x| {
                        matches!(x.weekday(), Weekday::Sun | Weekday::Tue | Weekday::Sat)
                            && ![d("2026-03-01"), d("2026-03-14")].contains(x)
                    })
                    .count() as u32;
                assert_eq!(c.business_days(first, last), naive, "{first}..={last}");
            }
        }
        let none = Calendar::new(&CalendarSettings {
            workdays: chrono::WeekdaySet::EMPTY,
            ..CalendarSettings::default()
        });
        assert_eq!(none.business_days(d("2026-01-01"), d("2026-12-31")), 0);
    }

    #[test]
    fn start_of_day_across_dst() {
        let ny = cal(Tz::America__New_York);
        // EDT (−04:00) before the 2026-11-01 fall-back, EST (−05:00) after.
        assert_eq!(ny.start_of_day(d("2026-10-26")), ts("2026-10-26T04:00:00Z"));
        assert_eq!(ny.start_of_day(d("2026-11-02")), ts("2026-11-02T05:00:00Z"));
        // The change happens at 02:00 local, so both midnights of the change days are unique.
        assert_eq!(ny.start_of_day(d("2026-11-01")), ts("2026-11-01T04:00:00Z"));
        assert_eq!(ny.start_of_day(d("2026-03-08")), ts("2026-03-08T05:00:00Z"));
        assert_eq!(ny.start_of_day(d("2026-03-09")), ts("2026-03-09T04:00:00Z"));
        assert_eq!(ny.local_date(ts("2026-11-02T04:59:59Z")), d("2026-11-01"));
        assert_eq!(ny.local_date(ts("2026-11-02T05:00:00Z")), d("2026-11-02"));
    }

    #[test]
    fn start_of_day_in_midnight_gap() {
        // Chile: DST starts "Sep Sun>=2 4:00u"; at 04:00 UTC it is 00:00 at −04:00, so the clocks
        // jump from 2026-09-05 24:00 (−04) to 2026-09-06 01:00 (−03): local midnight of Sunday
        // 2026-09-06 does not exist and the day starts at 01:00−03:00 = 04:00Z.
        let scl = cal(Tz::America__Santiago);
        let tz = Tz::America__Santiago;
        assert!(
            tz.from_local_datetime(&d("2026-09-06").and_time(NaiveTime::MIN))
                .single()
                .is_none()
        );
        let start = scl.start_of_day(d("2026-09-06"));
        assert_eq!(start, ts("2026-09-06T04:00:00Z"));
        assert_eq!(scl.local_date(start), d("2026-09-06"));
        assert_eq!(scl.local_date(ts("2026-09-06T03:59:59Z")), d("2026-09-05"));
        // The day before starts normally at 00:00−04:00.
        assert_eq!(
            scl.start_of_day(d("2026-09-05")),
            ts("2026-09-05T04:00:00Z")
        );

        // Chile's fall-back "Apr Sun>=2 3:00u" turns Sun 2026-04-05 00:00−03 into Sat 23:00−04, so
        // Sunday's midnight only exists once, at −04:00 = 04:00Z, and Saturday lasts 25 h.
        assert_eq!(
            scl.start_of_day(d("2026-04-04")),
            ts("2026-04-04T03:00:00Z")
        );
        assert_eq!(
            scl.start_of_day(d("2026-04-05")),
            ts("2026-04-05T04:00:00Z")
        );

        // Samoa skipped the whole of 2011-12-30 (−10:00 → +14:00 at the end of 12-29): the date's
        // "first instant" is the first instant after the gap, 2011-12-31 00:00+14:00 = 12-30T10:00Z.
        let apia = cal(Tz::Pacific__Apia);
        assert_eq!(
            apia.start_of_day(d("2011-12-30")),
            ts("2011-12-30T10:00:00Z")
        );
        assert_eq!(
            apia.start_of_day(d("2011-12-31")),
            ts("2011-12-30T10:00:00Z")
        );
        assert_eq!(apia.local_date(ts("2011-12-30T09:59:59Z")), d("2011-12-29"));
    }

    #[test]
    fn ambiguous_midnight_takes_the_earlier() {
        // Brazil ended DST at 00:00 local (−02 → −03) e.g. 2018-02-18: Sat 17th 23:00−23:59 happens
        // twice, Sunday's midnight once (03:00Z). Cuba ends DST "Nov Sun>=1 0:00s" = 01:00 local
        // daylight, falling back to 00:00: Sun 2026-11-01 00:00 happens at −04 (04:00Z) and −05
        // (05:00Z); the earlier is the start of the day.
        let sao = cal(Tz::America__Sao_Paulo);
        assert_eq!(
            sao.start_of_day(d("2018-02-18")),
            ts("2018-02-18T03:00:00Z")
        );
        let hav = cal(Tz::America__Havana);
        let midnight = d("2026-11-01").and_time(NaiveTime::MIN);
        assert!(matches!(
            Tz::America__Havana.from_local_datetime(&midnight),
            MappedLocalTime::Ambiguous(..)
        ));
        assert_eq!(
            hav.start_of_day(d("2026-11-01")),
            ts("2026-11-01T04:00:00Z")
        );
    }

    #[test]
    fn extremes_do_not_panic() {
        for tz in [
            Tz::UTC,
            Tz::Pacific__Kiritimati,
            Tz::Pacific__Pago_Pago,
            Tz::America__New_York,
        ] {
            let c = Calendar::new(&CalendarSettings {
                timezone: tz,
                fiscal_year_start_month: 2,
                ..CalendarSettings::default()
            });
            for t in [
                Timestamp::MIN_UTC,
                Timestamp::MAX_UTC,
                Timestamp::UNIX_EPOCH,
            ] {
                let date = c.local_date(t);
                let _ = c.start_of_day(date);
                for p in Period::ALL {
                    let _ = c.period_start(p, date);
                    let _ = c.period_last(p, date);
                    let _ = c.previous_period_start(p, date);
                }
            }
            for date in [NaiveDate::MIN, NaiveDate::MAX] {
                let _ = c.start_of_day(date);
            }
            assert!(c.business_days(NaiveDate::MIN, NaiveDate::MAX) > 0);
        }
    }
}
