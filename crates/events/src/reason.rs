//! Why a line was rejected, or ignored as no event: stable names, exported as the `reason` label
//! and dead-letter header.

use std::fmt;

/// A rejection reason. The names are part of the public API (metrics labels, DLQ headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    InvalidJson,
    MissingField,
    InvalidField,
    BadTimestamp,
    UnknownType,
    NegativeAmount,
    ForeignCurrency,
    FutureTimestamp,
    UnsupportedVersion,
    /// v1.1: above the configured maximum size, rejected before parsing.
    TooLarge,
}

impl RejectReason {
    /// Every reason, so counters can be exported at 0.
    pub const ALL: &'static [RejectReason] = &[
        RejectReason::InvalidJson,
        RejectReason::MissingField,
        RejectReason::InvalidField,
        RejectReason::BadTimestamp,
        RejectReason::UnknownType,
        RejectReason::NegativeAmount,
        RejectReason::ForeignCurrency,
        RejectReason::FutureTimestamp,
        RejectReason::UnsupportedVersion,
        RejectReason::TooLarge,
    ];

    /// The stable wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::MissingField => "missing_field",
            RejectReason::InvalidField => "invalid_field",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::UnknownType => "unknown_type",
            RejectReason::NegativeAmount => "negative_amount",
            RejectReason::ForeignCurrency => "foreign_currency",
            RejectReason::FutureTimestamp => "future_timestamp",
            RejectReason::UnsupportedVersion => "unsupported_version",
            RejectReason::TooLarge => "too_large",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a message was neither accepted nor rejected: it is not an event at all (EVENTS.md v1.1).
/// The names are part of the public API (the `reason` label of `salespulse_events_ignored_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IgnoreReason {
    /// A message with a null value: the deletion marker of a compacted topic.
    Tombstone,
}

impl IgnoreReason {
    /// Every reason, so counters can be exported at 0.
    pub const ALL: &'static [IgnoreReason] = &[IgnoreReason::Tombstone];

    /// The stable wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            IgnoreReason::Tombstone => "tombstone",
        }
    }
}

/// A rejected line: the stable reason plus a human-readable detail naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    pub reason: RejectReason,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }
}
