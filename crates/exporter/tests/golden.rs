//! The exposition of fixed snapshots, byte for byte, against files written by the renderer that
//! went through the `prometheus` crate's metric objects and text encoder: the direct writer must
//! print exactly what it printed (names, HELP texts, label order and escaping, float formatting,
//! empty families left out). After a deliberate change of the exposition, rewrite the files with
//! `SALESPULSE_UPDATE_GOLDEN=1 cargo test -p salespulse-exporter --test golden` and review the diff.

use std::path::PathBuf;

use chrono::TimeDelta;
use salespulse_engine::{Engine, IngestOutcome, Period, RosterRecord, Settings, Snapshot};
use salespulse_events::Role;
use salespulse_exporter::{Selection, encode_text};
use salespulse_sim::{SimConfig, Simulator};

/// Event time simulated: long enough for the previous quarter to have data.
const DAYS: i64 = 200;

/// A rep whose id and team need every escape of the text format (the roster of the config file
/// is the one way to a newline; events refuse control characters).
fn awkward_rep() -> (String, RosterRecord) {
    (
        "r-\"quoted\"\\slash\nline".to_owned(),
        RosterRecord {
            team: "t\\é \"✓\"".to_owned(),
            role: Role::Bdr,
            max_daily_leads: Some(40),
            max_daily_deals: None,
            active: true,
        },
    )
}

/// Lines the simulator does not write: a rep with a quote, a backslash and a non-ASCII letter at
/// work, a dimension value and a segment with a quote and a backslash, and a lead nobody is
/// assigned to (the `unassigned` queue).
fn extra_events(at: &str) -> Vec<String> {
    let rep = r#"r-\"two\"\\ü"#;
    vec![
        format!(
            r#"{{"event_id":"x-0","type":"rep_upserted","occurred_at":"{at}","rep_id":"{rep}","team":"t\"2\\","role":"ae"}}"#
        ),
        format!(
            r#"{{"event_id":"x-1","type":"lead_created","occurred_at":"{at}","lead_id":"X-1","rep_id":"{rep}"}}"#
        ),
        format!(
            r#"{{"event_id":"x-2","type":"activity","occurred_at":"{at}","lead_id":"X-1","rep_id":"{rep}","contact_id":"xc-1","channel":"chat","established":true}}"#
        ),
        format!(
            r#"{{"event_id":"x-3","type":"deal_closed","occurred_at":"{at}","deal_id":"XD-1","rep_id":"{rep}","outcome":"won","amount":"1234.56","industry":"a\"b\\c","channel":"inbound"}}"#
        ),
        format!(
            r#"{{"event_id":"x-4","type":"lead_created","occurred_at":"{at}","lead_id":"X-2"}}"#
        ),
        format!(
            r#"{{"event_id":"x-5","type":"customer_acquired","occurred_at":"{at}","customer_id":"xcu-1","segment":"s\"1\\"}}"#
        ),
        format!(
            r#"{{"event_id":"x-6","type":"revenue","occurred_at":"{at}","customer_id":"xcu-1","amount":"99.95","recurring":true,"segment":"s\"1\\"}}"#
        ),
    ]
}

/// A small floor (one team of two BDRs, an AE and a manager) over 200 days, with duplicates,
/// late and malformed lines, plus the awkward rep.
fn simulated() -> Snapshot {
    let config = SimConfig {
        seed: 11,
        teams: 1,
        bdrs_per_team: 2,
        aes_per_team: 1,
        leads_per_hour: 0.4,
        malformed_share: 0.01,
        ..SimConfig::default()
    };
    let as_of = config.start + TimeDelta::days(DAYS) + TimeDelta::seconds(12_345);
    let settings = Settings {
        roster: vec![awkward_rep()],
        ..Settings::default()
    };
    let simulator = Simulator::new(config);
    let mut engine = Engine::new(settings, as_of);
    for event in simulator.roster_events() {
        engine.ingest(&event.payload);
    }
    for event in simulator.take_while(|event| event.occurred_at < as_of) {
        engine.ingest(&event.payload);
    }
    let stamp = (as_of - TimeDelta::hours(1)).to_rfc3339();
    for line in extra_events(&stamp) {
        let outcome = engine.ingest(line.as_bytes());
        assert!(
            matches!(outcome, IngestOutcome::Accepted(_)),
            "{line}: {outcome:?}"
        );
    }
    engine.snapshot()
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.prom"))
}

fn check(name: &str, snapshot: &Snapshot, selection: &Selection) {
    let text = encode_text(snapshot, selection, Vec::new());
    let path = golden_path(name);
    if std::env::var_os("SALESPULSE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).expect("write the golden file");
        return;
    }
    let golden = std::fs::read_to_string(&path).expect("read the golden file");
    if let Some((line, (expected, actual))) = golden
        .lines()
        .zip(text.lines())
        .enumerate()
        .find(|(_, (expected, actual))| expected != actual)
    {
        panic!(
            "{name}: line {} differs\nexpected: {expected}\nactual:   {actual}",
            line + 1
        );
    }
    assert_eq!(text.len(), golden.len(), "{name}: the length differs");
    assert!(text == golden, "{name}: the bytes differ");
}

#[test]
fn a_simulated_floor_with_every_period() {
    check("all_periods", &simulated(), &Selection::default());
}

#[test]
fn a_simulated_floor_with_the_lightest_selection() {
    let selection = Selection {
        periods: vec![Period::Month],
        rep_histograms: false,
    };
    check("month_only", &simulated(), &selection);
}

#[test]
fn an_empty_engine_leaves_out_the_families_without_series() {
    let as_of = SimConfig::default().start;
    let snapshot = Engine::new(Settings::default(), as_of).snapshot();
    check("empty", &snapshot, &Selection::default());
}
