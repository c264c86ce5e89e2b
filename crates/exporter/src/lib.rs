//! Renders an engine [`Snapshot`] as the Prometheus exposition of METRICS.md, and serves it
//! over HTTP ([`http`]).
//!
//! The exposition is written fresh from each snapshot ("export at scrape time"), so series of
//! closed windows or departed reps simply stop appearing, and the order of the output depends on
//! nothing but the snapshot. It goes straight from the snapshot into text ([`write_snapshot`]),
//! and a scrape of a snapshot already scraped reuses that text ([`ScrapeCache`]).
//!
//! [`Snapshot`]: salespulse_engine::Snapshot

mod extra;
mod families;
pub mod http;
mod scrape;
mod selection;
mod writer;

pub use extra::Family;
pub use families::{encode_text, write_snapshot};
pub use scrape::ScrapeCache;
pub use selection::Selection;
