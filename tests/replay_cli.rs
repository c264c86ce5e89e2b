//! `salespulse replay` as a user runs it: the bundled example, the contract's examples, promtool.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use salespulse_e2e::{
    Sample, parse_exposition, repo_root, salespulse_binary, shared_dir, value_of,
};

fn replay(args: &[&str]) -> Output {
    Command::new(salespulse_binary())
        .arg("replay")
        .args(args)
        .env_clear()
        .output()
        .expect("run salespulse replay")
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8 exposition")
}

/// Metric families named in METRICS.md (read from the contract itself, not from our code).
fn families_in_metrics_md() -> BTreeSet<String> {
    let text = std::fs::read_to_string(shared_dir().join("spec/METRICS.md")).expect("METRICS.md");
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|quoted| {
            let name = quoted.split(['{', ' ', '(']).next()?;
            let is_name = (name.starts_with("sales_") || name.starts_with("salespulse_"))
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            is_name.then(|| name.to_owned())
        })
        .collect()
}

#[test]
fn the_bundled_example_prints_every_metric_family() {
    let output = replay(&[
        "--events",
        &repo_root().join("examples/events.jsonl").to_string_lossy(),
    ]);
    let text = stdout_of(&output);
    let printed: BTreeSet<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split(' ').next())
        .map(str::to_owned)
        .collect();
    // The consumer's and the service's own metrics exist only where there is a consumer (`run`,
    // `demo`); the v1 name METRICS.md mentions only to say it was renamed to `sales_workdays`.
    let consumer_only_or_renamed = [
        "salespulse_consumer_lag_messages",
        "salespulse_event_processing_seconds",
        "salespulse_checkpoint_duration_seconds",
        "salespulse_checkpoint_last_success_timestamp_seconds",
        "salespulse_kafka_errors_total",
        "salespulse_partitions_unowned",
        "salespulse_ready",
        "salespulse_state_history_truncated",
        "sales_business_days",
    ];
    let expected = families_in_metrics_md();
    assert!(
        expected.len() >= 45,
        "METRICS.md names {} families",
        expected.len()
    );
    let missing: Vec<&String> = expected
        .iter()
        .filter(|name| {
            !printed.contains(*name) && !consumer_only_or_renamed.contains(&name.as_str())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "families missing from the example's exposition: {missing:?}"
    );
    // The example carries two bad lines, reported on stderr with their line numbers.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    assert!(
        stderr.contains("rejected: bad_timestamp") && stderr.contains("rejected: negative_amount"),
        "{stderr}"
    );
}

#[test]
fn promtool_finds_nothing_in_a_full_exposition() {
    let text = stdout_of(&replay(&[
        "--events",
        &repo_root().join("examples/events.jsonl").to_string_lossy(),
    ]));
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed by deploy/local/tools.sh");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let result = promtool.wait_with_output().expect("promtool output");
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    // v1.1 renamed `sales_business_days`, which promtool read as a time unit, to
    // `sales_workdays`: a full exposition now has no finding at all.
    assert_eq!(findings.trim(), "", "promtool findings");
    assert!(text.contains("\nsales_workdays{period=\"week\",window=\"current\"} "));
}

fn close_to(actual: Option<f64>, expected: f64) -> bool {
    actual.is_some_and(|actual| (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0))
}

#[test]
fn the_contract_examples_replay_to_hand_computed_values() {
    let output = replay(&[
        "--events",
        &shared_dir().join("spec/examples.jsonl").to_string_lossy(),
    ]);
    let samples: Vec<Sample> = parse_exposition(&stdout_of(&output));
    let get = |name: &str, labels: &[(&str, &str)]| value_of(&samples, name, labels);
    let week = [("period", "week"), ("window", "current")];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        extra.iter().chain(week.iter()).copied().collect()
    };
    // as_of = the latest occurred_at, 2026-11-27T00:00-05:00.
    assert_eq!(
        get("sales_window_end_timestamp_seconds", &week),
        Some(1_795_755_600.0)
    );
    let ana = [("rep", "r-ana"), ("team", "east")];
    let ben = [("rep", "r-ben"), ("team", "east")];
    assert_eq!(
        get(
            "sales_contact_attempts",
            &with(&[ana[0], ("channel", "call")])
        ),
        Some(1.0)
    );
    assert_eq!(
        get(
            "sales_contact_attempts",
            &with(&[ana[0], ("channel", "email")])
        ),
        Some(1.0)
    );
    assert_eq!(get("sales_contacts_established", &with(&ana)), Some(1.0));
    assert_eq!(get("sales_appointment_set_ratio", &with(&ana)), Some(1.0));
    // L-1: created 09:00, touched 09:03:30 by r-ana: 210 s, within the 300 s SLA.
    assert_eq!(
        get("sales_leads_responded_within_sla", &with(&ana)),
        Some(1.0)
    );
    assert_eq!(
        get(
            "sales_lead_response_seconds",
            &with(&[ana[0], ("percentile", "99")])
        ),
        Some(210.0)
    );
    // The MQL has no rep: it goes to the lead's owner then, r-ana; the SQL names r-ben.
    assert_eq!(get("sales_mqls", &with(&ana)), Some(1.0));
    assert_eq!(get("sales_sqls", &with(&ben)), Some(1.0));
    assert_eq!(get("sales_mql_to_sql_ratio", &with(&ben)), None);
    assert_eq!(get("sales_deals_won_amount", &with(&ben)), Some(12_500.0));
    assert_eq!(get("sales_win_ratio", &with(&ben)), Some(1.0));
    for (dimension, value) in [
        ("industry", "retail"),
        ("channel", "inbound"),
        ("size", "medium"),
    ] {
        assert_eq!(
            get(
                "sales_dimension_deals_won",
                &with(&[("dimension", dimension), ("value", value)])
            ),
            Some(1.0)
        );
    }
    // Capacity this week: 5 business days; r-ana 45 leads a day, r-ben 6 deals a day.
    assert_eq!(
        get("sales_bdr_capacity_leads", &with(&[("team", "east")])),
        Some(225.0)
    );
    assert!(close_to(
        get(
            "sales_bdr_capacity_utilization_ratio",
            &with(&[("team", "east")])
        ),
        1.0 / 225.0
    ));
    assert!(close_to(
        get(
            "sales_ae_capacity_utilization_ratio",
            &with(&[("team", "east")])
        ),
        1.0 / 30.0
    ));
    // November: 8000 (smb) + 4200.50 (no segment) of expense, one new smb customer.
    let month = [("period", "month"), ("window", "current")];
    let segment = |name: &'static str| -> Vec<(&'static str, &'static str)> {
        std::iter::once(("segment", name))
            .chain(month.iter().copied())
            .collect()
    };
    assert_eq!(get("sales_sm_expense", &segment("all")), Some(12_200.5));
    assert_eq!(get("sales_sm_expense", &segment("smb")), Some(8_000.0));
    assert_eq!(get("sales_cac", &segment("all")), Some(12_200.5));
    assert_eq!(
        get("sales_recurring_revenue", &segment("smb")),
        Some(1_041.67)
    );
    // No S&M expense in the previous quarter: no magic number.
    assert_eq!(get("sales_magic_number", &[("window", "current")]), None);
    // LTV = 1041.67 - 120; LTV:CAC = LTV / (12200.50 / 1) for all, / (8000 / 1) for smb.
    assert_eq!(get("sales_ltv", &[("segment", "smb")]), Some(921.67));
    assert!(close_to(
        get("sales_ltv_to_cac_ratio", &[("segment", "all")]),
        921.67 / 12_200.5
    ));
    assert!(close_to(
        get("sales_ltv_to_cac_ratio", &[("segment", "smb")]),
        921.67 / 8_000.0
    ));
    // Pipeline: 16 accepted, 1 duplicate, 7 rejected (one of each reason), 4 before this week.
    let accepted: f64 = samples
        .iter()
        .filter(|s| s.name == "salespulse_events_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(accepted, 16.0);
    assert_eq!(get("salespulse_events_duplicate_total", &[]), Some(1.0));
    assert_eq!(get("salespulse_events_late_total", &[]), Some(4.0));
    for reason in [
        "bad_timestamp",
        "invalid_field",
        "negative_amount",
        "foreign_currency",
        "unknown_type",
        "missing_field",
        "invalid_json",
    ] {
        assert_eq!(
            get("salespulse_events_rejected_total", &[("reason", reason)]),
            Some(1.0),
            "{reason}"
        );
    }
    assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 7);
}

#[test]
fn replay_reads_standard_input_and_honours_as_of() {
    let mut child = Command::new(salespulse_binary())
        .args(["replay", "--events", "-", "--as-of", "2026-11-25T12:00:00Z"])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn replay");
    let lines = concat!(
        r#"{"event_id":"a","type":"activity","occurred_at":"2026-11-25T12:00:00Z","rep_id":"r1","contact_id":"c","channel":"chat","established":true}"#,
        "\n",
        "   \n",
        r#"{"event_id":"b","type":"activity","occurred_at":"2026-11-25T12:05:01Z","rep_id":"r1","contact_id":"c","channel":"chat","established":true}"#,
        "\n",
    );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(lines.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("replay output");
    let samples = parse_exposition(&stdout_of(&output));
    let labels = [
        ("rep", "r1"),
        ("channel", "chat"),
        ("period", "week"),
        ("window", "current"),
    ];
    assert_eq!(
        value_of(&samples, "sales_contact_attempts", &labels),
        Some(1.0)
    );
    // 301 s past as_of is beyond the default 300 s skew; the blank line is skipped, not rejected.
    assert_eq!(
        value_of(
            &samples,
            "salespulse_events_rejected_total",
            &[("reason", "future_timestamp")]
        ),
        Some(1.0)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "line 3: rejected: future_timestamp: `occurred_at` 2026-11-25T12:05:01+00:00 is more than 300 s after now (2026-11-25T12:00:00+00:00)"
    );
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    assert_eq!(replay(&["--events"]).status.code(), Some(2));
    let config = std::env::temp_dir().join(format!("salespulse-bad-{}.toml", std::process::id()));
    std::fs::write(&config, "[business]\ntimezone = \"Mars/Base\"\n").expect("write config");
    let output = replay(&["--events", "-", "--config", &config.to_string_lossy()]);
    std::fs::remove_file(&config).ok();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("business.timezone"));
    let missing = replay(&["--events", "/nonexistent/events.jsonl"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn check_config_prints_the_effective_configuration_with_secrets_masked() {
    let config = std::env::temp_dir().join(format!("salespulse-check-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        "[business]\ntimezone = \"Europe/Berlin\"\n\n[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n\"sasl.password\" = \"hunter2\"\n",
    )
    .expect("write config");
    let output = Command::new(salespulse_binary())
        .args(["check-config", "--config"])
        .arg(&config)
        .env_clear()
        .env("SALESPULSE_BUSINESS__WEEK_START", "sunday")
        .output()
        .expect("run check-config");
    std::fs::remove_file(&config).ok();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Europe/Berlin"), "{text}");
    assert!(
        text.contains("sunday"),
        "the environment override wins: {text}"
    );
    assert!(text.contains("SASL_SSL"), "{text}");
    assert!(!text.contains("hunter2"), "the secret is masked: {text}");
    assert!(text.contains("****"), "{text}");
}

#[test]
fn simulate_writes_exactly_the_requested_number_of_valid_events() {
    let file = std::env::temp_dir().join(format!("salespulse-sim-{}.jsonl", std::process::id()));
    let status = Command::new(salespulse_binary())
        .args([
            "simulate", "--events", "500", "--rate", "20", "--seed", "3", "--out",
        ])
        .arg(&file)
        .env_clear()
        .status()
        .expect("run simulate");
    assert!(status.success());
    let text = std::fs::read_to_string(&file).expect("simulated file");
    assert_eq!(text.lines().count(), 500);
    // Replayed as of its own latest event, nothing is rejected (no line lies in the future).
    let output = replay(&["--events", &file.to_string_lossy()]);
    std::fs::remove_file(&file).ok();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

/// `--events N` ends at the moment it runs, at any rate: at low rates the N events span months,
/// where monthly spend and month lengths make the stream differ from a shifted copy.
#[test]
fn simulate_events_end_now_at_any_rate() {
    for rate in ["20", "0.01", "0.001"] {
        let file = std::env::temp_dir().join(format!(
            "salespulse-sim-now-{}-{rate}.jsonl",
            std::process::id()
        ));
        let before = chrono::Utc::now();
        let status = Command::new(salespulse_binary())
            .args(["simulate", "--events", "2000", "--rate", rate, "--out"])
            .arg(&file)
            .env_clear()
            .status()
            .expect("run simulate");
        let after = chrono::Utc::now();
        assert!(status.success());
        let text = std::fs::read_to_string(&file).expect("simulated file");
        std::fs::remove_file(&file).ok();
        assert_eq!(text.lines().count(), 2000);
        let last = text
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|event| {
                chrono::DateTime::parse_from_rfc3339(event["occurred_at"].as_str()?).ok()
            })
            .max()
            .expect("timestamps");
        assert!(
            last >= before - chrono::TimeDelta::seconds(2)
                && last <= after + chrono::TimeDelta::seconds(2),
            "rate {rate}: the last event is at {last}, the run was from {before} to {after}"
        );
    }
}
