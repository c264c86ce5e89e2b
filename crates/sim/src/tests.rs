use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use salespulse_events::{Event, EventKind, Outcome, RosterRecord, ValidationRules, decode};

use super::*;

const N: usize = 20_000;

fn start() -> DateTime<Utc> {
    "2026-11-02T08:00:00Z".parse().expect("start")
}

fn config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        start: start(),
        ..SimConfig::default()
    }
}

fn run(config: SimConfig, n: usize) -> Vec<SimEvent> {
    Simulator::new(config).take(n).collect()
}

fn decoded(event: &SimEvent) -> Event {
    match decode(&event.payload, &ValidationRules::default()) {
        Ok(decoded) => decoded,
        Err(rejection) => panic!(
            "{} was rejected: {rejection}",
            String::from_utf8_lossy(&event.payload)
        ),
    }
}

fn type_name(event: &Event) -> &'static str {
    event.event_type().as_str()
}

/// The decoded events, each event id once (the first delivery).
fn distinct(events: &[SimEvent]) -> Vec<Event> {
    let mut seen = HashSet::new();
    events
        .iter()
        .filter(|event| !event.malformed)
        .map(decoded)
        .filter(|event| seen.insert(event.event_id.clone()))
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let a = Simulator::new(config(7));
    let b = Simulator::new(config(7));
    assert_eq!(a.roster_events(), b.roster_events());
    assert_eq!(
        a.take(5_000).collect::<Vec<_>>(),
        b.take(5_000).collect::<Vec<_>>()
    );
    let with_errors = SimConfig {
        malformed_share: 0.05,
        ..config(7)
    };
    assert_eq!(run(with_errors.clone(), 5_000), run(with_errors, 5_000));
}

#[test]
fn another_seed_gives_other_events() {
    let a = run(config(1), 1_000);
    let b = run(config(2), 1_000);
    let payloads = |events: &[SimEvent]| -> HashSet<Vec<u8>> {
        events.iter().map(|event| event.payload.clone()).collect()
    };
    assert_ne!(a, b);
    // Not even the same events under other ids: the times differ.
    let times = |events: &[SimEvent]| -> Vec<DateTime<Utc>> {
        events
            .iter()
            .take(100)
            .map(|event| event.occurred_at)
            .collect()
    };
    assert_ne!(times(&a), times(&b));
    assert!(payloads(&a).is_disjoint(&payloads(&b)));
}

#[test]
fn the_roster_comes_first_one_upsert_per_rep() {
    let config = SimConfig {
        teams: 2,
        bdrs_per_team: 4,
        aes_per_team: 3,
        ..config(3)
    };
    let simulator = Simulator::new(config);
    let roster = simulator.roster_events();
    assert_eq!(roster.len(), 2 * (4 + 3 + 1));
    let mut roles: BTreeMap<String, usize> = BTreeMap::new();
    let mut teams = HashSet::new();
    let mut reps = HashSet::new();
    for event in &roster {
        assert_eq!(event.topic, TOPIC_ROSTER);
        assert_eq!(event.occurred_at, start());
        assert!(!event.malformed);
        let EventKind::RepUpserted {
            rep_id,
            record: RosterRecord { team, role, .. },
        } = decoded(event).kind
        else {
            panic!("not a rep_upserted: {event:?}");
        };
        assert_eq!(event.key, rep_id);
        assert!(reps.insert(rep_id));
        teams.insert(team);
        *roles.entry(role.to_string()).or_default() += 1;
    }
    assert_eq!(teams.len(), 2);
    assert_eq!(
        roles,
        BTreeMap::from([("ae".into(), 6), ("bdr".into(), 8), ("other".into(), 2)])
    );
    // Every rep the stream names is on the roster, and ids are unique across both.
    let events: Vec<SimEvent> = simulator.take(N).collect();
    let mut ids: HashSet<String> = roster.iter().map(|e| decoded(e).event_id).collect();
    for event in distinct(&events) {
        assert!(
            ids.insert(event.event_id.clone()),
            "{} reused",
            event.event_id
        );
        if let Some(rep) = event.rep_id() {
            assert!(reps.contains(rep), "{rep} is not on the roster");
        }
        assert!(event.occurred_at >= start());
    }
}

#[test]
fn activities_are_most_of_the_traffic_and_every_type_occurs() {
    let events = distinct(&run(config(11), N));
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for event in &events {
        *counts.entry(type_name(event)).or_default() += 1;
    }
    let share = counts.get("activity").copied().unwrap_or_default() as f64 / events.len() as f64;
    assert!(
        (0.60..=0.75).contains(&share),
        "activity share {share}: {counts:?}"
    );
    for kind in [
        "activity",
        "appointment_set",
        "lead_created",
        "lead_assigned",
        "lead_disqualified",
        "lead_qualified",
        "deal_opened",
        "deal_closed",
        "customer_acquired",
        "expense",
        "revenue",
        "customer_cost",
    ] {
        assert!(
            counts.get(kind).copied().unwrap_or_default() > 0,
            "no {kind}: {counts:?}"
        );
    }
    // Established contacts: some, not most.
    let (established, activities) =
        events
            .iter()
            .fold((0, 0), |(yes, all), event| match event.kind {
                EventKind::Activity { established, .. } => {
                    (yes + usize::from(established), all + 1)
                }
                _ => (yes, all),
            });
    let share = established as f64 / activities as f64;
    assert!((0.2..=0.45).contains(&share), "established share {share}");
}

#[test]
fn duplicates_are_byte_identical_and_about_one_percent() {
    let events = run(config(5), N);
    let mut first: HashMap<String, &SimEvent> = HashMap::new();
    let mut duplicates = 0;
    for event in &events {
        let id = decoded(event).event_id;
        match first.get(&id) {
            Some(original) => {
                duplicates += 1;
                assert_eq!(original.payload, event.payload, "{id} differs");
                assert_eq!(original.key, event.key);
                assert_eq!(original.topic, event.topic);
                assert!(original.occurred_at == event.occurred_at);
            }
            None => {
                first.insert(id, event);
            }
        }
    }
    let share = duplicates as f64 / events.len() as f64;
    assert!((0.006..=0.014).contains(&share), "duplicate share {share}");

    let none = run(
        SimConfig {
            duplicate_share: 0.0,
            ..config(5)
        },
        5_000,
    );
    let ids: HashSet<String> = none.iter().map(|e| decoded(e).event_id).collect();
    assert_eq!(ids.len(), none.len());
}

#[test]
fn every_valid_payload_decodes_and_exactly_the_malformed_ones_are_rejected() {
    let config = SimConfig {
        malformed_share: 0.01,
        ..config(42)
    };
    let events = run(config, N);
    let rules = ValidationRules::default();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut malformed = 0;
    for event in &events {
        let result = decode(&event.payload, &rules);
        if event.malformed {
            malformed += 1;
            let intended = intended_reason(&event.payload).unwrap_or_else(|| {
                panic!("no reason in {}", String::from_utf8_lossy(&event.payload))
            });
            match result {
                Ok(decoded) => panic!("malformed line accepted: {decoded:?}"),
                Err(rejection) => assert_eq!(
                    rejection.reason.as_str(),
                    intended,
                    "{}: {rejection}",
                    String::from_utf8_lossy(&event.payload)
                ),
            }
            *reasons.entry(intended).or_default() += 1;
        } else {
            let decoded = decoded(event);
            assert_eq!(intended_reason(&event.payload), None);
            assert_eq!(decoded.occurred_at, event.occurred_at);
        }
    }
    let share = malformed as f64 / events.len() as f64;
    assert!((0.007..=0.013).contains(&share), "malformed share {share}");
    for reason in [
        "invalid_json",
        "unknown_type",
        "bad_timestamp",
        "missing_field",
        "invalid_field",
        "negative_amount",
        "foreign_currency",
    ] {
        assert!(reasons.contains_key(reason), "no {reason}: {reasons:?}");
    }
}

#[test]
fn timestamps_are_rfc3339_in_utc_and_ids_carry_the_seed() {
    for event in run(config(9), 5_000) {
        let value: serde_json::Value = serde_json::from_slice(&event.payload).expect("json");
        let stamp = value["occurred_at"].as_str().expect("occurred_at");
        assert!(stamp.ends_with('Z'), "{stamp}");
        assert_eq!(
            DateTime::parse_from_rfc3339(stamp).expect("rfc 3339"),
            event.occurred_at
        );
        let id = value["event_id"].as_str().expect("event_id");
        assert!(id.starts_with("sim-9-"), "{id}");
    }
}

#[test]
fn keys_follow_the_topic_table() {
    let events = run(config(13), N);
    for event in &events {
        let decoded = decoded(event);
        let (topic, key) = match &decoded.kind {
            EventKind::Activity { rep_id, .. } | EventKind::AppointmentSet { rep_id, .. } => {
                (TOPIC_ACTIVITIES, rep_id.clone())
            }
            EventKind::LeadCreated { lead_id, .. }
            | EventKind::LeadAssigned { lead_id, .. }
            | EventKind::LeadDisqualified { lead_id, .. }
            | EventKind::LeadQualified { lead_id, .. } => (TOPIC_LEADS, lead_id.clone()),
            EventKind::DealOpened { rep_id, .. } | EventKind::DealClosed { rep_id, .. } => {
                (TOPIC_DEALS, rep_id.clone())
            }
            EventKind::CustomerAcquired { customer_id, .. }
            | EventKind::Revenue { customer_id, .. }
            | EventKind::CustomerCost { customer_id, .. } => (TOPIC_FINANCE, customer_id.clone()),
            EventKind::Expense { segment, .. } => (
                TOPIC_FINANCE,
                segment.clone().unwrap_or_else(|| "company".to_owned()),
            ),
            EventKind::RepUpserted { rep_id, .. } => (TOPIC_ROSTER, rep_id.clone()),
        };
        assert_eq!((event.topic, &event.key), (topic, &key), "{decoded:?}");
    }
}

#[test]
fn about_one_lead_in_eight_is_disqualified_untouched() {
    let delivered = run(config(19), N);
    let events = distinct(&delivered);
    let mut created = HashSet::new();
    let mut touched = HashSet::new();
    let mut disqualified: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut lead_created_at: HashMap<String, DateTime<Utc>> = HashMap::new();
    for event in &events {
        match &event.kind {
            EventKind::LeadCreated { lead_id, .. } => {
                created.insert(lead_id.clone());
                lead_created_at.insert(lead_id.clone(), event.occurred_at);
            }
            EventKind::Activity {
                lead_id: Some(lead_id),
                ..
            } => {
                touched.insert(lead_id.clone());
            }
            EventKind::LeadDisqualified { lead_id, .. } => {
                disqualified.insert(lead_id.clone(), event.occurred_at);
            }
            _ => {}
        }
    }
    for event in delivered.iter().filter(|event| !event.malformed) {
        let payload: Value = serde_json::from_slice(&event.payload).expect("json");
        if payload["type"] == "lead_disqualified" {
            *reasons
                .entry(payload["reason"].as_str().unwrap_or("none").to_owned())
                .or_default() += 1;
        }
    }
    let share = disqualified.len() as f64 / created.len() as f64;
    assert!((0.09..=0.15).contains(&share), "disqualified share {share}");
    for (lead, at) in &disqualified {
        assert!(
            !touched.contains(lead),
            "{lead} was touched and disqualified"
        );
        if let Some(created_at) = lead_created_at.get(lead) {
            assert!(at > created_at, "{lead} disqualified before its creation");
        }
    }
    assert_eq!(
        reasons.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "converted_elsewhere",
            "duplicate",
            "existing_customer",
            "junk"
        ]
    );
}

#[test]
fn lead_response_median_is_a_few_minutes_with_a_long_tail() {
    let events = distinct(&run(config(17), N));
    let mut created: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut first_touch: HashMap<String, DateTime<Utc>> = HashMap::new();
    for event in &events {
        match &event.kind {
            EventKind::LeadCreated { lead_id, .. } => {
                created.insert(lead_id.clone(), event.occurred_at);
            }
            EventKind::Activity {
                lead_id: Some(lead_id),
                ..
            } => {
                let touch = first_touch
                    .entry(lead_id.clone())
                    .or_insert(event.occurred_at);
                *touch = (*touch).min(event.occurred_at);
            }
            _ => {}
        }
    }
    let mut responses: Vec<f64> = first_touch
        .iter()
        .filter_map(|(lead, touch)| created.get(lead).map(|created| *touch - *created))
        .map(|delta| delta.num_milliseconds() as f64 / 1000.0)
        .collect();
    assert!(responses.len() > 1_000, "{} responses", responses.len());
    assert!(responses.iter().all(|seconds| *seconds >= 0.0));
    responses.sort_by(f64::total_cmp);
    let quantile = |q: f64| responses[((responses.len() as f64 * q).ceil() as usize).max(1) - 1];
    let median = quantile(0.5);
    assert!((180.0..=240.0).contains(&median), "median {median} s");
    let within_sla = responses
        .iter()
        .filter(|seconds| **seconds <= 300.0)
        .count() as f64
        / responses.len() as f64;
    assert!(
        (0.62..=0.82).contains(&within_sla),
        "SLA met for {within_sla}"
    );
    let p99 = quantile(0.99);
    assert!(p99 > 1_800.0, "p99 {p99} s: no long tail");
}

#[test]
fn deals_are_won_about_a_third_of_the_time_and_some_are_reopened() {
    let events = distinct(&run(config(19), 60_000));
    let mut closes: HashMap<String, Vec<(DateTime<Utc>, Outcome)>> = HashMap::new();
    let mut opened = HashSet::new();
    for event in &events {
        match &event.kind {
            EventKind::DealOpened {
                deal_id,
                attributes,
                ..
            } => {
                opened.insert(deal_id.clone());
                if let Some(amount) = attributes.amount {
                    assert!(amount.is_sign_positive() && !amount.is_zero(), "{amount}");
                }
            }
            EventKind::DealClosed {
                deal_id, outcome, ..
            } => closes
                .entry(deal_id.clone())
                .or_default()
                .push((event.occurred_at, *outcome)),
            _ => {}
        }
    }
    let finals: Vec<Outcome> = closes
        .values()
        .map(|list| list.iter().max_by_key(|(at, _)| *at).expect("a close").1)
        .collect();
    let won = finals
        .iter()
        .filter(|outcome| **outcome == Outcome::Won)
        .count();
    let rate = won as f64 / finals.len() as f64;
    assert!(finals.len() > 200, "{} closed deals", finals.len());
    assert!((0.28..=0.45).contains(&rate), "win rate {rate}");
    let reopened = closes
        .values()
        .filter(|list| {
            let mut list = (*list).clone();
            list.sort();
            list.len() == 2 && list[0].1 == Outcome::Lost && list[1].1 == Outcome::Won
        })
        .count();
    assert!(reopened > 0, "no reopened deal");
    assert!(closes.values().all(|list| list.len() <= 2));
}

#[test]
fn output_is_in_event_time_order_except_late_and_duplicate_deliveries() {
    let exact = run(
        SimConfig {
            late_share: 0.0,
            duplicate_share: 0.0,
            ..config(23)
        },
        N,
    );
    assert!(
        exact
            .windows(2)
            .all(|pair| pair[0].occurred_at <= pair[1].occurred_at)
    );

    let events = run(config(23), N);
    let mut newest = start();
    let mut behind = 0;
    let mut worst = TimeDelta::zero();
    for event in &events {
        if event.occurred_at < newest {
            behind += 1;
            worst = worst.max(newest - event.occurred_at);
        }
        newest = newest.max(event.occurred_at);
    }
    let share = behind as f64 / events.len() as f64;
    assert!((0.01..=0.03).contains(&share), "out of order share {share}");
    assert!(worst <= TimeDelta::hours(5), "{worst}");
    assert!(
        worst >= TimeDelta::minutes(30),
        "{worst}: nothing really late"
    );
}

#[test]
fn odd_configurations_do_not_panic() {
    let odd = [
        SimConfig {
            teams: 0,
            ..config(1)
        },
        SimConfig {
            leads_per_hour: 0.0,
            ..config(1)
        },
        SimConfig {
            leads_per_hour: f64::NAN,
            duplicate_share: f64::NAN,
            late_share: -1.0,
            malformed_share: 2.0,
            ..config(1)
        },
        SimConfig {
            teams: 12,
            bdrs_per_team: 0,
            aes_per_team: 0,
            leads_per_hour: 1e9,
            ..config(1)
        },
        SimConfig {
            start: DateTime::<Utc>::MAX_UTC - TimeDelta::days(40),
            ..config(1)
        },
        SimConfig {
            start: DateTime::<Utc>::MIN_UTC,
            ..config(1)
        },
    ];
    for config in odd {
        let simulator = Simulator::new(config.clone());
        let _ = simulator.roster_events();
        let events: Vec<SimEvent> = simulator.take(2_000).collect();
        assert!(!events.is_empty(), "{config:?}");
    }
    // Everything malformed: still every line is rejected with its reason.
    let all_bad = run(
        SimConfig {
            malformed_share: 1.0,
            ..config(1)
        },
        2_000,
    );
    for event in all_bad {
        assert!(event.malformed);
        let reason = intended_reason(&event.payload).expect("a reason");
        let rejection = decode(&event.payload, &ValidationRules::default()).expect_err("bad");
        assert_eq!(rejection.reason.as_str(), reason);
    }
}
