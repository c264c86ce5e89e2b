//! Hostile input through the real binary's `replay`: the size limit at its boundary and from the
//! configuration, a 100 MB line in bounded memory, a key given twice and an escaped NUL in a
//! rep id (EVENTS.md v1.1).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use salespulse_e2e::{Sample, Scratch, parse_exposition, salespulse_binary, value_of};

const AS_OF: &str = "2026-11-25T12:00:00Z";

/// Every rejection reason, for the ones that must stay 0.
const REASONS: [&str; 10] = [
    "invalid_json",
    "missing_field",
    "invalid_field",
    "bad_timestamp",
    "unknown_type",
    "negative_amount",
    "foreign_currency",
    "future_timestamp",
    "unsupported_version",
    "too_large",
];

/// An activity of rep `r-ana` on `channel`, padded with an ignored `note` to exactly `len` bytes.
fn activity(event_id: &str, channel: &str, len: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"event_id":"{event_id}","type":"activity","occurred_at":"2026-11-25T09:00:00Z","rep_id":"r-ana","contact_id":"c-1","channel":"{channel}","established":true,"note":""#
    );
    let mut line = head.into_bytes();
    let padding = len - line.len() - 2;
    line.resize(line.len() + padding, b'x');
    line.extend_from_slice(b"\"}");
    assert_eq!(line.len(), len);
    line
}

/// `salespulse replay` of `events` as of [`AS_OF`], run through `sh` so that `limits` (shell
/// `ulimit` options) apply to it alone.
fn replay(events: &Path, extra: &[&str], limits: &str) -> Output {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("{limits} exec \"$0\" \"$@\""))
        .arg(salespulse_binary())
        .args(["replay", "--as-of", AS_OF, "--events"])
        .arg(events)
        .args(extra)
        .env_clear()
        .output()
        .expect("run salespulse replay");
    assert!(
        output.status.success(),
        "replay failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn samples(output: &Output) -> Vec<Sample> {
    parse_exposition(&String::from_utf8(output.stdout.clone()).expect("utf-8 exposition"))
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `salespulse_events_rejected_total` of every reason, in the order of [`REASONS`].
fn rejected(samples: &[Sample]) -> Vec<(&'static str, Option<f64>)> {
    REASONS
        .iter()
        .map(|reason| {
            (
                *reason,
                value_of(
                    samples,
                    "salespulse_events_rejected_total",
                    &[("reason", reason)],
                ),
            )
        })
        .collect()
}

/// `rejected` with the given reasons at their counts and every other at 0.
fn only(counts: &[(&str, f64)]) -> Vec<(&'static str, Option<f64>)> {
    REASONS
        .iter()
        .map(|reason| {
            let count = counts
                .iter()
                .find(|(name, _)| name == reason)
                .map_or(0.0, |(_, count)| *count);
            (*reason, Some(count))
        })
        .collect()
}

fn accepted_activities(samples: &[Sample]) -> Option<f64> {
    value_of(samples, "salespulse_events_total", &[("type", "activity")])
}

fn attempts(samples: &[Sample], channel: &str) -> Option<f64> {
    value_of(
        samples,
        "sales_contact_attempts",
        &[
            ("rep", "r-ana"),
            ("channel", channel),
            ("period", "week"),
            ("window", "current"),
        ],
    )
}

#[test]
fn the_default_limit_duplicate_keys_and_control_characters() {
    let scratch = Scratch::new("input-limits-default");
    let mut file = Vec::new();
    // 1: exactly 1 MiB, valid: accepted.
    file.extend(activity("at-max", "call", 1_048_576));
    file.push(b'\n');
    // 2: one byte more: too large, before parsing.
    file.extend(activity("over-max", "call", 1_048_577));
    file.push(b'\n');
    // 3: `rep_id` twice.
    file.extend_from_slice(br#"{"event_id":"dup","rep_id":"r-ana","rep_id":"r-ben","type":"activity","occurred_at":"2026-11-25T09:00:00Z","contact_id":"c-1","channel":"call","established":true}"#);
    file.push(b'\n');
    // 4: an escaped NUL in the rep id (the bytes `\u0000`, no raw NUL).
    file.extend_from_slice(br#"{"event_id":"nul","type":"activity","occurred_at":"2026-11-25T09:00:00Z","rep_id":"r\u0000x","contact_id":"c-1","channel":"call","established":true}"#);
    // 5: blank, skipped; 6: a small valid event.
    file.extend_from_slice(b"\n\n");
    file.extend(activity("small", "email", 200));
    file.push(b'\n');
    let output = replay(&scratch.write("events.jsonl", &file), &[], "");
    let samples = samples(&output);

    assert_eq!(accepted_activities(&samples), Some(2.0));
    assert_eq!(attempts(&samples, "call"), Some(1.0));
    assert_eq!(attempts(&samples, "email"), Some(1.0));
    assert_eq!(
        rejected(&samples),
        only(&[
            ("too_large", 1.0),
            ("invalid_json", 1.0),
            ("invalid_field", 1.0)
        ])
    );
    // Nothing of the bad lines reached a label: `r-ana` is the only rep.
    let reps: BTreeSet<&str> = samples
        .iter()
        .filter_map(|sample| sample.label("rep"))
        .filter(|rep| *rep != "unassigned")
        .collect();
    assert_eq!(reps, BTreeSet::from(["r-ana"]));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains('\0') && !text.contains("u0000") && !text.contains("r-ben"));
    // The duplicate is found at the end of the second `rep_id`'s value: column 51.
    assert_eq!(
        stderr_lines(&output),
        [
            "line 2: rejected: too_large: 1048577 bytes is more than the maximum of 1048576 bytes",
            "line 3: rejected: invalid_json: duplicate key \"rep_id\" at line 1 column 51",
            "line 4: rejected: invalid_field: `rep_id` must not contain control characters (U+0000-U+001F, U+007F-U+009F)",
        ]
    );
}

#[test]
fn the_configured_limit_applies_to_replay_lines_without_their_line_end() {
    let scratch = Scratch::new("input-limits-configured");
    let config = scratch.write("salespulse.toml", b"[kafka]\nmax_message_bytes = 250\n");
    let mut file = Vec::new();
    // 250 bytes and a CRLF: the line end does not count.
    file.extend(activity("at-max", "call", 250));
    file.extend_from_slice(b"\r\n");
    file.extend(activity("over-max", "email", 251));
    file.push(b'\n');
    let output = replay(
        &scratch.write("events.jsonl", &file),
        &["--config", &config.to_string_lossy()],
        "",
    );
    let samples = samples(&output);
    assert_eq!(accepted_activities(&samples), Some(1.0));
    assert_eq!(attempts(&samples, "call"), Some(1.0));
    assert_eq!(attempts(&samples, "email"), Some(0.0));
    assert_eq!(rejected(&samples), only(&[("too_large", 1.0)]));
    assert_eq!(
        stderr_lines(&output),
        ["line 2: rejected: too_large: 251 bytes is more than the maximum of 250 bytes"]
    );
}

#[test]
fn a_100_mb_line_is_rejected_in_bounded_memory() {
    let scratch = Scratch::new("input-limits-huge");
    let mut file = activity("before", "call", 200);
    file.push(b'\n');
    file.extend(activity("huge", "call", 100_000_000));
    file.push(b'\n');
    file.extend(activity("after", "email", 200));
    file.push(b'\n');
    let events = scratch.write("events.jsonl", &file);
    drop(file);
    // The heap (RLIMIT_DATA) capped at 64 MiB, less than the line itself: holding the line whole
    // makes an allocation fail and the replay abort. A debug build needs about 20 MB.
    let output = replay(&events, &[], "ulimit -d 65536 &&");
    let samples = samples(&output);
    assert_eq!(accepted_activities(&samples), Some(2.0));
    assert_eq!(attempts(&samples, "call"), Some(1.0));
    assert_eq!(attempts(&samples, "email"), Some(1.0));
    assert_eq!(rejected(&samples), only(&[("too_large", 1.0)]));
    assert_eq!(
        stderr_lines(&output),
        ["line 2: rejected: too_large: 100000000 bytes is more than the maximum of 1048576 bytes"]
    );
}
