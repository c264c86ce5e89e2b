//! Business-calendar date logic for salespulse: which local dates belong to which week, month and
//! (fiscal) quarter, where each metric window starts and ends (SEMANTICS C7), and how many business
//! days a window has (C8).
//!
//! Everything here is pure: no I/O and no wall clock. The caller passes `as_of` explicitly so that
//! `replay` and `run` share the same code path and tests are deterministic. All functions are total:
//! date arithmetic that would leave chrono's range saturates at the range limits instead of panicking.

mod calendar;
mod period;
mod settings;
mod window;

pub use calendar::Calendar;
pub use period::{Period, WindowKind};
pub use settings::CalendarSettings;
pub use window::{WINDOW_COUNT, WINDOW_ORDER, Window, WindowSet};

/// An instant; all window bounds and event times are compared in UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
