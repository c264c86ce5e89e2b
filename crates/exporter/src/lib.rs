//! Renders an engine [`Snapshot`] as the Prometheus exposition of METRICS.md, and serves it
//! over HTTP ([`http`]).
//!
//! Families are built fresh from each snapshot ("export at scrape time"), so series of closed
//! windows or departed reps simply stop appearing, and the order of the output depends on nothing
//! but the snapshot.

mod families;
pub mod http;
mod selection;

pub use families::{Family, encode_text, render};
pub use selection::Selection;
