//! The envelope, the decoder's totality and the consistency checks, from inside the crate (the
//! end-to-end exactness tests are in `tests/state_roundtrip.rs`).

use chrono::{TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use salespulse_events::Timestamp;

use super::*;
use crate::stamped::Stamped;

fn as_of() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .expect("valid instant")
}

/// A small engine with a bit of every kind of state.
fn engine() -> Engine {
    let mut engine = Engine::new(Settings::default(), as_of());
    let lines = [
        r#"{"event_id":"a1","type":"activity","occurred_at":"2026-11-24T09:00:00Z","rep_id":"r-a","contact_id":"c1","channel":"call","established":true,"lead_id":"L1"}"#,
        r#"{"event_id":"a2","type":"appointment_set","occurred_at":"2026-11-24T09:30:00Z","rep_id":"r-a","contact_id":"c1"}"#,
        r#"{"event_id":"l1","type":"lead_created","occurred_at":"2026-11-24T08:59:00Z","lead_id":"L1","rep_id":"r-b"}"#,
        r#"{"event_id":"l2","type":"lead_qualified","occurred_at":"2026-11-24T10:00:00Z","lead_id":"L1","stage":"mql"}"#,
        r#"{"event_id":"l3","type":"lead_disqualified","occurred_at":"2026-11-24T10:00:00Z","lead_id":"L2"}"#,
        r#"{"event_id":"d1","type":"deal_opened","occurred_at":"2026-11-20T10:00:00Z","deal_id":"D1","rep_id":"r-a","amount":"12.50","industry":"retail"}"#,
        r#"{"event_id":"d2","type":"deal_closed","occurred_at":"2026-11-21T10:00:00Z","deal_id":"D1","rep_id":"r-a","outcome":"won"}"#,
        r#"{"event_id":"f1","type":"expense","occurred_at":"2026-11-02T10:00:00Z","amount":"100.10","category":"sales","segment":"smb"}"#,
        r#"{"event_id":"f2","type":"revenue","occurred_at":"2026-11-03T10:00:00Z","customer_id":"cu1","amount":"7.5","recurring":true,"segment":"smb"}"#,
        r#"{"event_id":"f3","type":"customer_acquired","occurred_at":"2026-11-03T10:00:00Z","customer_id":"cu1","segment":"smb"}"#,
        r#"{"event_id":"f4","type":"customer_cost","occurred_at":"2026-11-03T10:00:00Z","customer_id":"cu1","amount":"1.25"}"#,
        r#"{"event_id":"u1","type":"rep_upserted","occurred_at":"2026-11-01T10:00:00Z","rep_id":"r-a","team":"east","role":"bdr","active":true}"#,
        r#"{"event_id":"p1","type":"revenue","occurred_at":"2026-11-25T12:03:00Z","customer_id":"cu2","amount":"3","recurring":false}"#,
        r#"{"event_id":"x1","type":"meeting","occurred_at":"2026-11-25T12:00:00Z"}"#,
        r#"{"event_id":"a1","type":"activity","occurred_at":"2026-11-24T09:00:00Z","rep_id":"r-a","contact_id":"c1","channel":"call","established":true,"lead_id":"L1"}"#,
    ];
    for line in lines {
        engine.ingest(line.as_bytes());
    }
    assert_eq!(engine.pending.len(), 1, "p1 waits for the clock");
    engine
}

fn restore(bytes: &[u8]) -> Result<Engine, StateError> {
    Engine::restore_state(Settings::default(), bytes)
}

/// Wraps `payload` in a valid envelope, so that the decoder itself sees it.
fn envelope(payload: &[u8]) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&STATE_FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&Settings::default().fingerprint().to_le_bytes());
    bytes.extend_from_slice(payload);
    let checksum = xxh3_64(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    bytes
}

fn payload(bytes: &[u8]) -> &[u8] {
    &bytes[HEADER_LEN..bytes.len() - CHECKSUM_LEN]
}

#[test]
fn a_saved_state_restores_to_the_same_snapshot_and_bytes() {
    let engine = engine();
    let bytes = engine.save_state();
    let restored = restore(&bytes).expect("restores");
    assert_eq!(restored.snapshot(), engine.snapshot());
    assert_eq!(restored.save_state(), bytes);
    assert_eq!(restored.state_sizes(), engine.state_sizes());
    assert_eq!(payload(&envelope(payload(&bytes))), payload(&bytes));
}

#[test]
fn the_envelope_is_checked_first() {
    let bytes = engine().save_state();
    assert_eq!(restore(&[]).err(), Some(StateError::Truncated { len: 0 }));
    assert_eq!(restore(b"SP").err(), Some(StateError::Truncated { len: 2 }));
    assert_eq!(restore(b"{}").err(), Some(StateError::NotEngineState));
    let mut other = bytes.clone();
    other[0] = b'X';
    assert_eq!(restore(&other).err(), Some(StateError::NotEngineState));

    let mut newer = bytes.clone();
    newer[4..6].copy_from_slice(&(STATE_FORMAT_VERSION + 1).to_le_bytes());
    assert_eq!(
        restore(&newer).err(),
        Some(StateError::UnsupportedVersion {
            found: STATE_FORMAT_VERSION + 1,
            supported: STATE_FORMAT_VERSION
        })
    );

    let mut damaged = bytes.clone();
    let middle = bytes.len() / 2;
    damaged[middle] ^= 0x10;
    assert_eq!(restore(&damaged).err(), Some(StateError::ChecksumMismatch));
    assert_eq!(
        restore(&bytes[..bytes.len() - 1]).err(),
        Some(StateError::ChecksumMismatch)
    );

    let other_settings = Settings {
        lead_response_sla: TimeDelta::seconds(60),
        ..Settings::default()
    };
    assert_eq!(
        Engine::restore_state(other_settings.clone(), &bytes).err(),
        Some(StateError::SettingsChanged {
            saved: Settings::default().fingerprint(),
            current: other_settings.fingerprint(),
        })
    );
}

#[test]
fn trailing_bytes_after_the_payload_are_refused() {
    let bytes = engine().save_state();
    let mut longer = payload(&bytes).to_vec();
    longer.push(0);
    assert!(matches!(
        restore(&envelope(&longer)),
        Err(StateError::Malformed(_))
    ));
}

#[test]
fn impossible_states_are_refused() {
    type Damage = fn(&mut Engine);
    let damages: &[(&str, Damage)] = &[
        ("unknown rep in a lead", |engine| {
            if let Some(lead) = engine.facts.leads.values_mut().next() {
                lead.assignments.push(Stamped::new(as_of(), "z", 99));
            }
        }),
        ("unknown rep in a deal", |engine| {
            if let Some(close) = engine
                .facts
                .deals
                .values_mut()
                .find_map(|deal| deal.latest_close.as_mut())
            {
                close.value.rep = 99;
            }
        }),
        ("unknown contact", |engine| {
            if let Some(fact) = engine
                .facts
                .reps
                .get_mut(0)
                .and_then(|rep| rep.activities.first_mut())
            {
                fact.contact = 99;
            }
        }),
        ("unknown segment", |engine| {
            if let Some(fact) = engine.facts.finance.expenses.first_mut() {
                fact.segment = Some(99);
            }
        }),
        ("segment sums", |engine| {
            engine
                .facts
                .finance
                .lifetime_expense
                .push(rust_decimal::Decimal::ONE);
        }),
        ("pending in the past", |engine| {
            if let Some(event) = engine.pending.first_mut() {
                event.occurred_at = as_of() - TimeDelta::seconds(1);
            }
        }),
    ];
    for (name, damage) in damages {
        let mut engine = engine();
        damage(&mut engine);
        let result = restore(&engine.save_state());
        assert!(
            matches!(result, Err(StateError::Inconsistent(_))),
            "{name}: {:?}",
            result.err()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary bytes are an error, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        prop_assert!(restore(&bytes).is_err());
    }

    /// The decoder and the checks behind a valid envelope: damaged payloads (bytes changed,
    /// removed or inserted) decode to an error or to a state the engine can run on.
    #[test]
    fn damaged_payloads_never_panic(
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>(), 0u8..3), 1..8)
    ) {
        let saved = engine().save_state();
        let mut damaged = payload(&saved).to_vec();
        for (at, byte, how) in edits {
            let index = at.index(damaged.len().max(1));
            match how {
                0 if index < damaged.len() => damaged[index] = byte,
                1 if index < damaged.len() => { damaged.remove(index); }
                _ => damaged.insert(index.min(damaged.len()), byte),
            }
        }
        if let Ok(mut engine) = restore(&envelope(&damaged)) {
            let _ = engine.snapshot();
            engine.advance_clock(as_of() + TimeDelta::days(40));
            let _ = engine.snapshot();
            let _ = engine.save_state();
        }
    }

    /// Random payloads in a valid envelope.
    #[test]
    fn random_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(engine) = restore(&envelope(&bytes)) {
            let _ = engine.snapshot();
        }
    }
}

#[test]
fn ignored_messages_and_too_large_rejections_survive_a_restore() {
    let settings = Settings {
        max_event_bytes: 64,
        ..Settings::default()
    };
    let mut engine = Engine::new(settings.clone(), as_of());
    for _ in 0..3 {
        engine.ignore_tombstone();
    }
    engine.ingest(&[b' '; 65]);
    let before = engine.snapshot().pipeline;
    assert_eq!(before.ignored, [3]);
    let too_large = RejectReason::ALL
        .iter()
        .position(|reason| *reason == RejectReason::TooLarge)
        .expect("a reason");
    assert_eq!(before.rejected[too_large], 1);
    assert_eq!(before.rejected.iter().sum::<u64>(), 1);

    let bytes = engine.save_state();
    let mut restored = Engine::restore_state(settings, &bytes).expect("restores");
    assert_eq!(restored.snapshot().pipeline, before);
    assert_eq!(restored.save_state(), bytes);
    // They go on from where they were.
    restored.ignore_tombstone();
    assert_eq!(restored.snapshot().pipeline.ignored, [4]);
}

#[test]
fn states_of_older_format_versions_are_refused() {
    // Version 1 had no ignored-message counts, version 2 kept the creations' event ids and the
    // deals' segments: both must be rebuilt, not misread.
    assert_eq!(STATE_FORMAT_VERSION, 3);
    for version in [1u16, 2] {
        let mut old = engine().save_state();
        old[4..6].copy_from_slice(&version.to_le_bytes());
        assert_eq!(
            restore(&old).err(),
            Some(StateError::UnsupportedVersion {
                found: version,
                supported: 3
            })
        );
    }
}
