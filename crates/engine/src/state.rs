//! The engine's whole state as bytes, and back: the engine's part of a checkpoint (issue 6).
//!
//! # Layout
//!
//! ```text
//! "SPES" | format version: u16 LE | settings fingerprint: u64 LE | payload | xxh3-64 of all before: u64 LE
//! ```
//!
//! The payload is [postcard]: serde with varint integers and no field names or schema in the
//! bytes, so the state is about as small as the facts themselves (an instant is ~6 bytes, an
//! interned rep or contact 1–3, a remembered event id 16 plus its expiry). postcard was chosen
//! over bincode 2 because its format is a small, stable, documented specification (postcard 1.x
//! promises wire stability), it needs no derive of its own (the types keep plain serde derives),
//! and its decoder is total: every malformed input is an `Err`, and a length read from damaged
//! input makes it reserve at most about a megabyte up front (serde's cautious size hint). The format has no schema evolution of its own,
//! which is why the envelope carries [`STATE_FORMAT_VERSION`]; the pinned test
//! `state_format_is_pinned` fails whenever the bytes of a fixed state change, as a reminder to bump
//! it.
//!
//! The checksum makes any damage (a flipped bit, a truncation, a wrong file) an error before
//! decoding; the fingerprint refuses a state made under settings that change results
//! ([`crate::Settings::fingerprint`]). Neither the settings nor anything derived from them (the
//! windows, the calendar, the roster seed) is in the bytes: the caller passes the settings to
//! [`Engine::restore_state`], and the restored engine recomputes the rest from them and its clock.
//!
//! Maps are saved as sequences sorted by key, so equal states give equal bytes whatever the order
//! of hash-map iteration: a saved, restored and saved again engine gives the very same bytes.

pub(crate) mod codec;

use salespulse_calendar::Calendar;
use salespulse_events::{EventKind, EventType, IgnoreReason, RejectReason};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::counters::PipelineCounters;
use crate::deals::Deal;
use crate::dedup::Dedup;
use crate::engine::Engine;
use crate::facts::Facts;
use crate::finance::{Customer, Finance, MoneyFact};
use crate::interner::{Interner, KeyedEntries};
use crate::leads::Lead;
use crate::reps::{ActivityFact, AppointmentFact, Reps, RosterRecord};
use crate::settings::Settings;
use crate::stamped::Stamped;
use codec::Ts;

/// The version of the engine state's layout, in every saved state. Bump it whenever the bytes of
/// the same state change (a field, a type, an order); [`Engine::restore_state`] refuses other
/// versions, so an older checkpoint makes the service rebuild instead of misreading it.
///
/// 2: the pipeline counters gained the ignored messages (tombstones, EVENTS.md v1.1).
/// 3: compact state (issue 7): a lead's creation is its instant alone (no event id); a deal keeps
/// its amount (as a compact decimal), industry and channel, not its segment.
pub const STATE_FORMAT_VERSION: u16 = 3;

const MAGIC: [u8; 4] = *b"SPES";
const HEADER_LEN: usize = MAGIC.len() + 2 + 8;
const CHECKSUM_LEN: usize = 8;

/// Why saved bytes could not be restored. Every malformed input gives one of these; restoring
/// never panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("engine state is truncated: {len} bytes is shorter than its envelope")]
    Truncated { len: usize },
    #[error("not a salespulse engine state (the first bytes are not \"SPES\")")]
    NotEngineState,
    #[error("engine state format version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error("engine state is corrupt: checksum mismatch")]
    ChecksumMismatch,
    #[error(
        "engine state was saved with other settings (fingerprint {saved:016x}, now {current:016x})"
    )]
    SettingsChanged { saved: u64, current: u64 },
    #[error("engine state does not decode: {0}")]
    Malformed(String),
    #[error("engine state is inconsistent: {0}")]
    Inconsistent(&'static str),
}

// ---- The payload, as written (borrowing the engine) and as read (owned). Both must serialize
// ---- identically field by field; the round-trip tests prove they do.

#[derive(Serialize)]
struct SavedRef<'a> {
    as_of: Ts,
    reps: Vec<RepRef<'a>>,
    contacts: Names<'a>,
    leads: Vec<(&'a str, &'a Lead)>,
    deals: Vec<(&'a str, &'a Deal)>,
    finance: FinanceRef<'a>,
    dedup: DedupRef,
    pending: Vec<(&'a str, Ts, &'a EventKind)>,
    counters: CountersRef,
}

#[derive(Deserialize)]
struct Saved<'a> {
    as_of: Ts,
    reps: Vec<SavedRep>,
    #[serde(borrow)]
    contacts: Vec<&'a str>,
    leads: KeyedEntries<Lead>,
    deals: KeyedEntries<Deal>,
    #[serde(borrow)]
    finance: SavedFinance<'a>,
    #[serde(borrow)]
    dedup: SavedDedup<'a>,
    pending: Vec<(String, Ts, EventKind)>,
    counters: SavedCounters,
}

/// The remembered event ids: their 16-byte hashes (little-endian) back to back as one byte
/// string, sorted, then each one's expiry (`None`: never forgotten) in the same order.
#[derive(Serialize)]
struct DedupRef {
    hashes: Bytes,
    expiries: Vec<Option<Ts>>,
}

#[derive(Deserialize)]
struct SavedDedup<'a> {
    hashes: &'a [u8],
    expiries: Vec<Option<Ts>>,
}

/// Serialized as a byte string (one length, then the bytes), not as a sequence of numbers.
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

/// An interner's names in id order, serialized as a sequence of strings.
struct Names<'a>(&'a Interner);

impl Serialize for Names<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.names())
    }
}

/// A postcard output appending to a `Vec` (with the envelope's header already in it).
struct VecFlavor(Vec<u8>);

impl postcard::ser_flavors::Flavor for VecFlavor {
    type Output = Vec<u8>;

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        // Most writes are varints of a few bytes: a `memcpy` call for each costs more than
        // the copy.
        if data.len() <= 16 {
            for &byte in data {
                self.0.push(byte);
            }
        } else {
            self.0.extend_from_slice(data);
        }
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// A rep without its configuration seed (restored from the settings).
#[derive(Serialize)]
struct RepRef<'a> {
    name: &'a str,
    latest_upsert: &'a Option<Stamped<RosterRecord>>,
    activities: &'a [ActivityFact],
    appointments: &'a [AppointmentFact],
}

#[derive(Deserialize)]
struct SavedRep {
    name: Box<str>,
    latest_upsert: Option<Stamped<RosterRecord>>,
    activities: Vec<ActivityFact>,
    appointments: Vec<AppointmentFact>,
}

#[derive(Serialize)]
struct FinanceRef<'a> {
    segments: Names<'a>,
    expenses: &'a [MoneyFact],
    recurring_revenue: &'a [MoneyFact],
    #[serde(with = "codec::decimals")]
    lifetime_expense: &'a [rust_decimal::Decimal],
    #[serde(with = "codec::decimal")]
    lifetime_expense_all: rust_decimal::Decimal,
    customers: Vec<(&'a str, &'a Customer)>,
}

#[derive(Deserialize)]
struct SavedFinance<'a> {
    #[serde(borrow)]
    segments: Vec<&'a str>,
    expenses: Vec<MoneyFact>,
    recurring_revenue: Vec<MoneyFact>,
    #[serde(with = "codec::decimals")]
    lifetime_expense: Vec<rust_decimal::Decimal>,
    #[serde(with = "codec::decimal")]
    lifetime_expense_all: rust_decimal::Decimal,
    customers: KeyedEntries<Customer>,
}

/// Counters by their stable names (not by position), non-zero ones only.
#[derive(Serialize)]
struct CountersRef {
    accepted: Vec<(&'static str, u64)>,
    rejected: Vec<(&'static str, u64)>,
    duplicates: u64,
    late: u64,
    last_event: Option<Ts>,
    ignored: Vec<(&'static str, u64)>,
}

#[derive(Deserialize)]
struct SavedCounters {
    accepted: Vec<(Box<str>, u64)>,
    rejected: Vec<(Box<str>, u64)>,
    duplicates: u64,
    late: u64,
    last_event: Option<Ts>,
    ignored: Vec<(Box<str>, u64)>,
}

fn named_counts<T: Copy>(
    all: &[T],
    counts: &[u64],
    name: impl Fn(T) -> &'static str,
) -> Vec<(&'static str, u64)> {
    all.iter()
        .zip(counts)
        .filter(|(_, count)| **count > 0)
        .map(|(item, count)| (name(*item), *count))
        .collect()
}

impl Engine {
    /// The engine's whole state as bytes: the clock, every rep with its facts and roster upserts,
    /// the contact table, leads, deals, finance, the remembered event ids, the events waiting for
    /// the clock and the pipeline counters. [`Engine::restore_state`] with the same settings gives
    /// an engine that behaves exactly like this one from here on.
    ///
    /// The settings are not in the bytes, only their [`Settings::fingerprint`]. The layout is
    /// described in the `state` module: versioned ([`STATE_FORMAT_VERSION`]), checksummed, and
    /// deterministic (the same state always gives the same bytes).
    pub fn save_state(&self) -> Vec<u8> {
        let facts = &self.facts;
        let reps = facts
            .reps
            .iter()
            .map(|(rep, state)| RepRef {
                name: facts.reps.name(rep),
                latest_upsert: &state.latest_upsert,
                activities: &state.activities,
                appointments: &state.appointments,
            })
            .collect();
        let finance = &facts.finance;
        let saved = SavedRef {
            as_of: Ts(self.as_of()),
            reps,
            contacts: Names(&facts.contacts),
            leads: facts.leads.sorted(),
            deals: facts.deals.sorted(),
            finance: FinanceRef {
                segments: Names(&finance.segments),
                expenses: &finance.expenses,
                recurring_revenue: &finance.recurring_revenue,
                lifetime_expense: &finance.lifetime_expense,
                lifetime_expense_all: finance.lifetime_expense_all,
                customers: finance.customers.sorted(),
            },
            dedup: {
                let entries = self.dedup.entries();
                let mut hashes = Vec::with_capacity(entries.len() * 16);
                for (hash, _) in &entries {
                    hashes.extend_from_slice(&hash.to_le_bytes());
                }
                DedupRef {
                    hashes: Bytes(hashes),
                    expiries: entries.iter().map(|(_, expiry)| expiry.map(Ts)).collect(),
                }
            },
            pending: self
                .pending
                .iter()
                .map(|event| (event.event_id.as_str(), Ts(event.occurred_at), &event.kind))
                .collect(),
            counters: CountersRef {
                accepted: named_counts(EventType::ALL, &self.counters.accepted, EventType::as_str),
                rejected: named_counts(
                    RejectReason::ALL,
                    &self.counters.rejected,
                    RejectReason::as_str,
                ),
                duplicates: self.counters.duplicates,
                late: self.counters.late,
                last_event: self.counters.last_event.map(Ts),
                ignored: named_counts(
                    IgnoreReason::ALL,
                    &self.counters.ignored,
                    IgnoreReason::as_str,
                ),
            },
        };
        let mut bytes = Vec::with_capacity(HEADER_LEN + CHECKSUM_LEN + 4096);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&STATE_FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&self.settings.fingerprint().to_le_bytes());
        // Serializing into memory fails only for sequences of unknown length or a failing
        // `Serialize` impl, and the state has neither.
        let mut bytes = postcard::serialize_with_flavor(&saved, VecFlavor(bytes))
            .expect("the engine state serializes into memory: every sequence has a known length");
        let checksum = xxh3_64(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        bytes
    }

    /// Rebuilds the engine saved by [`Engine::save_state`], with its clock (`as_of`) as it was;
    /// the caller may then [`Engine::advance_clock`].
    ///
    /// Fails, without panicking, on any bytes that are not such a state made by this format
    /// version under settings with the same [`Settings::fingerprint`]: truncated, damaged, of
    /// another version or another configuration, or decoding to an impossible state.
    pub fn restore_state(settings: Settings, bytes: &[u8]) -> Result<Engine, StateError> {
        let payload = open_envelope(bytes, settings.fingerprint())?;
        let (saved, rest) = postcard::take_from_bytes::<Saved>(payload)
            .map_err(|error| StateError::Malformed(error.to_string()))?;
        if !rest.is_empty() {
            return Err(StateError::Malformed(format!(
                "{} bytes after the state",
                rest.len()
            )));
        }
        saved.into_engine(settings)
    }
}

/// Checks the envelope and returns the payload.
fn open_envelope(bytes: &[u8], fingerprint: u64) -> Result<&[u8], StateError> {
    let truncated = StateError::Truncated { len: bytes.len() };
    if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
        // A prefix of a state is truncated; anything else is not a state at all.
        let magic_prefix = &MAGIC[..bytes.len().min(MAGIC.len())];
        return Err(if bytes.starts_with(magic_prefix) {
            truncated
        } else {
            StateError::NotEngineState
        });
    }
    let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    let (header, payload) = body.split_at(HEADER_LEN);
    let (magic, header) = header.split_at(MAGIC.len());
    let (version, saved_fingerprint) = header.split_at(2);
    if magic != MAGIC {
        return Err(StateError::NotEngineState);
    }
    let version = u16::from_le_bytes(version.try_into().map_err(|_| truncated.clone())?);
    if version != STATE_FORMAT_VERSION {
        return Err(StateError::UnsupportedVersion {
            found: version,
            supported: STATE_FORMAT_VERSION,
        });
    }
    let checksum = u64::from_le_bytes(checksum.try_into().map_err(|_| truncated.clone())?);
    if xxh3_64(body) != checksum {
        return Err(StateError::ChecksumMismatch);
    }
    let saved_fingerprint =
        u64::from_le_bytes(saved_fingerprint.try_into().map_err(|_| truncated)?);
    if saved_fingerprint != fingerprint {
        return Err(StateError::SettingsChanged {
            saved: saved_fingerprint,
            current: fingerprint,
        });
    }
    Ok(payload)
}

fn ensure(condition: bool, what: &'static str) -> Result<(), StateError> {
    if condition {
        Ok(())
    } else {
        Err(StateError::Inconsistent(what))
    }
}

impl Saved<'_> {
    fn into_engine(self, settings: Settings) -> Result<Engine, StateError> {
        let as_of = self.as_of.0;

        // Reps: the configuration seeds first (as `Engine::new` interns them), then every saved
        // rep must land on its saved index.
        let mut reps = Reps::seeded(&settings.roster);
        let contact_count = self.contacts.len();
        for (index, saved) in (0u32..).zip(self.reps) {
            ensure(reps.intern(&saved.name) == index, "rep ids out of order")?;
            ensure(
                saved
                    .activities
                    .iter()
                    .map(|fact| fact.contact)
                    .chain(saved.appointments.iter().map(|fact| fact.contact))
                    .all(|contact| (contact as usize) < contact_count),
                "a fact names an unknown contact",
            )?;
            let rep = reps
                .get_mut(index)
                .ok_or(StateError::Inconsistent("rep ids out of order"))?;
            rep.latest_upsert = saved.latest_upsert;
            rep.activities = saved.activities;
            rep.appointments = saved.appointments;
        }
        let rep_count = reps.len();
        let known_rep = |rep: &u32| (*rep as usize) < rep_count;
        let contacts = Interner::from_names(self.contacts.into_iter())
            .ok_or(StateError::Inconsistent("a contact is listed twice"))?;

        for lead in self.leads.values() {
            ensure(
                lead.first_touch
                    .iter()
                    .map(|touch| &touch.value)
                    .all(known_rep)
                    && lead.assignments.iter().map(|a| &a.value).all(known_rep)
                    && [&lead.first_mql, &lead.first_sql]
                        .into_iter()
                        .flatten()
                        .filter_map(|qualification| qualification.value.as_ref())
                        .all(known_rep),
                "a lead names an unknown rep",
            )?;
        }
        let leads = self
            .leads
            .into_keyed()
            .ok_or(StateError::Inconsistent("a lead is listed twice"))?;
        ensure(
            self.deals
                .values()
                .filter_map(|deal| deal.latest_close.as_ref())
                .all(|close| known_rep(&close.value.rep)),
            "a deal names an unknown rep",
        )?;
        let deals = self
            .deals
            .into_keyed()
            .ok_or(StateError::Inconsistent("a deal is listed twice"))?;
        let finance = self.finance.into_finance()?;

        let SavedDedup { hashes, expiries } = self.dedup;
        let hashes = hashes.chunks_exact(16);
        ensure(
            hashes.remainder().is_empty() && hashes.len() == expiries.len(),
            "event id hashes do not match their expiries",
        )?;
        let dedup = Dedup::from_entries(hashes.zip(expiries).map(|(hash, expiry)| {
            let mut bytes = [0; 16];
            bytes.copy_from_slice(hash);
            (u128::from_le_bytes(bytes), expiry.map(|ts| ts.0))
        }))
        .ok_or(StateError::Inconsistent("an event id is listed twice"))?;

        let pending: Vec<_> = self
            .pending
            .into_iter()
            .map(|(event_id, at, kind)| salespulse_events::Event {
                event_id,
                occurred_at: at.0,
                kind,
            })
            .collect();
        ensure(
            pending.iter().all(|event| event.occurred_at > as_of),
            "a pending event is not in the future",
        )?;
        let counters = self.counters.into_counters()?;

        let calendar = Calendar::new(&settings.calendar);
        let windows = calendar.windows(as_of);
        Ok(Engine {
            settings,
            calendar,
            windows,
            dedup,
            facts: Facts {
                reps,
                contacts,
                leads,
                deals,
                finance,
            },
            pending,
            counters,
        })
    }
}

impl SavedFinance<'_> {
    fn into_finance(self) -> Result<Finance, StateError> {
        let segment_count = self.segments.len();
        let known = |segment: &u32| (*segment as usize) < segment_count;
        ensure(
            self.lifetime_expense.len() == segment_count,
            "lifetime expense does not match the segments",
        )?;
        ensure(
            self.expenses
                .iter()
                .chain(&self.recurring_revenue)
                .filter_map(|fact| fact.segment.as_ref())
                .all(known),
            "a money fact names an unknown segment",
        )?;
        ensure(
            self.customers.values().all(|customer| {
                let acquired = customer
                    .first_acquired
                    .as_ref()
                    .and_then(|acquired| acquired.value.as_ref());
                let segmented = [
                    &customer.first_segmented_acquired,
                    &customer.first_segmented_revenue,
                ]
                .into_iter()
                .flatten()
                .map(|stamped| &stamped.value);
                acquired.into_iter().chain(segmented).all(known)
            }),
            "a customer names an unknown segment",
        )?;
        Ok(Finance {
            segments: Interner::from_names(self.segments.into_iter())
                .ok_or(StateError::Inconsistent("a segment is listed twice"))?,
            expenses: self.expenses,
            recurring_revenue: self.recurring_revenue,
            lifetime_expense: self.lifetime_expense,
            lifetime_expense_all: self.lifetime_expense_all,
            customers: self
                .customers
                .into_keyed()
                .ok_or(StateError::Inconsistent("a customer is listed twice"))?,
        })
    }
}

/// Sets `counts[i]` for each `(name, count)`, `i` being the position of the item named so.
fn fill_counts<T: Copy>(
    counts: &mut [u64],
    all: &[T],
    name: impl Fn(T) -> &'static str,
    saved: Vec<(Box<str>, u64)>,
) -> Result<(), StateError> {
    let mut seen = vec![false; counts.len()];
    for (saved_name, count) in saved {
        let index = all
            .iter()
            .position(|item| name(*item) == &*saved_name)
            .ok_or(StateError::Inconsistent("a counter has an unknown name"))?;
        let (Some(slot), Some(seen)) = (counts.get_mut(index), seen.get_mut(index)) else {
            return Err(StateError::Inconsistent("a counter has an unknown name"));
        };
        ensure(!*seen, "a counter is listed twice")?;
        *seen = true;
        *slot = count;
    }
    Ok(())
}

impl SavedCounters {
    fn into_counters(self) -> Result<PipelineCounters, StateError> {
        let mut counters = PipelineCounters {
            duplicates: self.duplicates,
            late: self.late,
            last_event: self.last_event.map(|ts| ts.0),
            ..PipelineCounters::default()
        };
        fill_counts(
            &mut counters.accepted,
            EventType::ALL,
            EventType::as_str,
            self.accepted,
        )?;
        fill_counts(
            &mut counters.rejected,
            RejectReason::ALL,
            RejectReason::as_str,
            self.rejected,
        )?;
        fill_counts(
            &mut counters.ignored,
            IgnoreReason::ALL,
            IgnoreReason::as_str,
            self.ignored,
        )?;
        Ok(counters)
    }
}

#[cfg(test)]
mod tests;
