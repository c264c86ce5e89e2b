//! `[export]`: the chosen periods and the histogram granularity, checked on a rendered exposition.

use salespulse_engine::{Engine, Period, RosterRecord, Settings};
use salespulse_events::{Role, parse_timestamp};
use salespulse_exporter::{Selection, encode_text};

const AS_OF: &str = "2026-11-25T12:00:00Z";

/// Two reps of team east answer 1 and 2 leads; a rep of team west answers 1.
fn exposition(selection: &Selection) -> String {
    let seed = |rep: &str, team: &str| {
        (
            rep.to_owned(),
            RosterRecord {
                team: team.to_owned(),
                role: Role::Bdr,
                max_daily_leads: None,
                max_daily_deals: None,
                active: true,
            },
        )
    };
    let settings = Settings {
        roster: vec![seed("a", "east"), seed("b", "east"), seed("c", "west")],
        ..Settings::default()
    };
    let mut engine = Engine::new(settings, parse_timestamp(AS_OF).expect("as of"));
    let answered = [
        ("L1", "a", "09:01:00"),
        ("L2", "b", "09:02:00"),
        ("L3", "b", "09:10:00"),
        ("L4", "c", "09:00:30"),
    ];
    for (lead, rep, touched) in answered {
        let created = format!(
            r#"{{"event_id":"c-{lead}","type":"lead_created","occurred_at":"2026-11-25T09:00:00Z","lead_id":"{lead}","rep_id":"{rep}"}}"#
        );
        let touch = format!(
            r#"{{"event_id":"t-{lead}","type":"activity","occurred_at":"2026-11-25T{touched}Z","lead_id":"{lead}","rep_id":"{rep}","contact_id":"x-{lead}","channel":"call","established":true}}"#
        );
        engine.ingest(created.as_bytes());
        engine.ingest(touch.as_bytes());
    }
    encode_text(&engine.snapshot(), selection, Vec::new())
}

fn lines_of<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{family}{{")) || line.starts_with(&format!("{family} "))
        })
        .collect()
}

#[test]
fn by_default_every_period_and_the_per_rep_histogram_are_exported() {
    let text = exposition(&Selection::default());
    let periods: Vec<&str> = lines_of(&text, "sales_workdays")
        .iter()
        .map(|line| line.split('"').nth(1).expect("period label"))
        .collect();
    assert_eq!(
        periods,
        [
            "week", "week", "month", "month", "quarter", "quarter", "7d", "30d", "90d"
        ]
    );
    assert_eq!(
        lines_of(&text, "sales_lead_response_sla_seconds"),
        ["sales_lead_response_sla_seconds 300"]
    );
    // b answered L2 in 120 s and L3 in 600 s.
    assert!(text.contains("sales_lead_response_time_seconds_count{rep=\"b\",team=\"east\"} 2\n"));
    assert!(text.contains("sales_lead_response_time_seconds_sum{rep=\"b\",team=\"east\"} 720\n"));
    assert_eq!(
        lines_of(&text, "sales_magic_number").len(),
        0,
        "no expense: absent"
    );
}

#[test]
fn only_the_chosen_periods_are_exported() {
    let selection = Selection {
        periods: vec![Period::Week, Period::Days30],
        rep_histograms: true,
    };
    let text = exposition(&selection);
    assert_eq!(
        lines_of(&text, "sales_workdays"),
        [
            "sales_workdays{period=\"week\",window=\"current\"} 5",
            "sales_workdays{period=\"week\",window=\"previous\"} 5",
            "sales_workdays{period=\"30d\",window=\"rolling\"} 22",
        ]
    );
    for absent in ["month", "quarter", "7d", "90d"] {
        assert!(
            !text.contains(&format!("period=\"{absent}\"")),
            "period {absent} is exported"
        );
    }
    // 3 reps x 3 windows; lifetime and queue series do not depend on periods.
    assert_eq!(lines_of(&text, "sales_leads_responded").len(), 9);
    assert_eq!(lines_of(&text, "sales_leads_awaiting_response").len(), 3);
    assert_eq!(
        lines_of(&text, "sales_customers"),
        ["sales_customers{segment=\"all\"} 0"]
    );
}

#[test]
fn the_team_histogram_is_always_there_and_the_rep_one_only_when_chosen() {
    let team_lines = |text: &str| -> Vec<String> {
        lines_of(text, "sales_team_lead_response_time_seconds_count")
            .into_iter()
            .map(str::to_owned)
            .collect()
    };
    let with_reps = exposition(&Selection::default());
    let selection = Selection {
        rep_histograms: false,
        ..Selection::default()
    };
    let text = exposition(&selection);
    assert_eq!(
        team_lines(&text),
        [
            "sales_team_lead_response_time_seconds_count{team=\"east\"} 3",
            "sales_team_lead_response_time_seconds_count{team=\"west\"} 1",
        ]
    );
    assert_eq!(team_lines(&with_reps), team_lines(&text));
    // east: 60 s (a), 120 s and 600 s (b); west: 30 s.
    assert!(text.contains("sales_team_lead_response_time_seconds_sum{team=\"east\"} 780\n"));
    assert!(
        text.contains("sales_team_lead_response_time_seconds_bucket{team=\"east\",le=\"60\"} 1\n")
    );
    assert!(
        text.contains("sales_team_lead_response_time_seconds_bucket{team=\"east\",le=\"120\"} 2\n")
    );
    assert!(
        text.contains("sales_team_lead_response_time_seconds_bucket{team=\"east\",le=\"600\"} 3\n")
    );
    assert!(
        text.contains("sales_team_lead_response_time_seconds_bucket{team=\"west\",le=\"30\"} 1\n")
    );
    // The per-rep family is gone, and nothing else changes.
    let of_rep_family = |line: &&str| {
        ["", "# HELP ", "# TYPE "]
            .iter()
            .any(|prefix| line.starts_with(&format!("{prefix}sales_lead_response_time_seconds")))
    };
    assert_eq!(text.lines().filter(of_rep_family).count(), 0);
    assert!(
        with_reps.contains("sales_lead_response_time_seconds_count{rep=\"a\",team=\"east\"} 1\n")
    );
    let without_rep_histogram: Vec<&str> = with_reps
        .lines()
        .filter(|line| !of_rep_family(line))
        .collect();
    assert_eq!(without_rep_histogram, text.lines().collect::<Vec<_>>());
}
