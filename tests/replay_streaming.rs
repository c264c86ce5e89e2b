//! `salespulse replay` streams its input: the same output from a file, a pipe and standard input,
//! "as of" found by a first pass over the whole file, and memory that does not grow with the
//! file's length.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use salespulse_e2e::{Scratch, parse_exposition, salespulse_binary, value_of};

/// What standard input of the replay is.
enum Input<'a> {
    /// `/dev/null`.
    Nothing,
    /// These bytes, written into a pipe.
    Piped(&'a [u8]),
    /// This file, opened as standard input (as `< file` does).
    File(&'a Path),
}

/// `salespulse replay` with `args`, run through `sh` so that `limits` (shell `ulimit` options)
/// apply to it alone; it must succeed.
fn replay(args: &[&str], input: Input<'_>, limits: &str) -> Output {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("{limits} exec \"$0\" \"$@\""))
        .arg(salespulse_binary())
        .arg("replay")
        .args(args)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = match input {
        Input::Nothing => command.stdin(Stdio::null()).output(),
        Input::File(path) => command
            .stdin(File::open(path).expect("open the events"))
            .output(),
        Input::Piped(bytes) => {
            let mut child = command
                .stdin(Stdio::piped())
                .spawn()
                .expect("start salespulse replay");
            let mut stdin = child.stdin.take().expect("piped stdin");
            // A thread of its own, so that a full stdout pipe cannot block the write.
            let bytes = bytes.to_vec();
            let writer = std::thread::spawn(move || stdin.write_all(&bytes));
            let output = child.wait_with_output();
            writer
                .join()
                .expect("writer thread")
                .expect("write the events to stdin");
            output
        }
    }
    .expect("run salespulse replay");
    assert!(
        output.status.success(),
        "replay {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout_text(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 exposition")
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Each line of stderr up to its rejection reason: `line N: rejected: reason`.
fn rejected_lines(output: &Output) -> Vec<String> {
    stderr_lines(output)
        .iter()
        .map(|line| line.splitn(4, ':').take(3).collect::<Vec<_>>().join(":"))
        .collect()
}

/// An activity of `rep` to contact `c-1`.
fn activity(event_id: &str, occurred_at: &str, rep: &str, channel: &str) -> String {
    format!(
        r#"{{"event_id":"{event_id}","type":"activity","occurred_at":"{occurred_at}","rep_id":"{rep}","contact_id":"c-1","channel":"{channel}","established":true}}"#
    )
}

/// `sales_contact_attempts` of `rep` on `channel` this week.
fn attempts_this_week(text: &str, rep: &str, channel: &str) -> Option<f64> {
    value_of(
        &parse_exposition(text),
        "sales_contact_attempts",
        &[
            ("rep", rep),
            ("channel", channel),
            ("period", "week"),
            ("window", "current"),
        ],
    )
}

/// The end of the current week's window: "as of", in Unix seconds.
fn as_of_seconds(text: &str) -> Option<f64> {
    value_of(
        &parse_exposition(text),
        "sales_window_end_timestamp_seconds",
        &[("period", "week"), ("window", "current")],
    )
}

#[test]
fn a_file_a_pipe_and_standard_input_give_the_same_output() {
    let scratch = Scratch::new("replay-streaming-same");
    let config = scratch.write("salespulse.toml", b"[kafka]\nmax_message_bytes = 300\n");
    let config = config.to_string_lossy();
    let lines = [
        // 1
        r#"{"event_id":"u-1","type":"rep_upserted","occurred_at":"2026-11-23T08:00:00Z","rep_id":"r-ana","team":"east","role":"bdr"}"#.to_owned(),
        // 2
        activity("a-1", "2026-11-23T09:00:00Z", "r-ana", "call"),
        // 3: not JSON
        "{not json".to_owned(),
        // 4: blank: skipped, but it keeps its line number
        "   ".to_owned(),
        // 5: the same event_id again: a duplicate, not a rejection
        activity("a-1", "2026-11-23T09:00:00Z", "r-ana", "call"),
        // 6: 301 bytes, over the configured limit
        format!(
            r#"{{"event_id":"big","note":"{}"}}"#,
            "x".repeat(301 - r#"{"event_id":"big","note":""}"#.len())
        ),
        // 7: the newest valid event, with a CRLF line end
        format!(
            "{}\r",
            activity("a-2", "2026-11-25T10:00:00Z", "r-ana", "email")
        ),
        // 8
        activity("a-3", "2026-11-24T10:00:00Z", "r-ana", "email"),
    ];
    assert_eq!(lines[5].len(), 301);
    // Lines 9 to 3008: calls, but lines 1500 and 3000 are not JSON. About 450 kB, so that the
    // numbers must hold across several fills of the read buffer.
    let calls = (9..=3008).map(|number| match number {
        1500 | 3000 => "{not json".to_owned(),
        _ => activity(
            &format!("b-{number}"),
            "2026-11-23T10:00:00Z",
            "r-ana",
            "call",
        ),
    });
    let lines: Vec<String> = lines.into_iter().chain(calls).collect();
    let file = lines.join("\n").into_bytes();
    let events = scratch.write("events.jsonl", &file);
    let events = events.to_string_lossy();

    let from_file = replay(
        &["--events", &events, "--config", &config],
        Input::Nothing,
        "",
    );
    let text = stdout_text(&from_file);
    assert_eq!(
        rejected_lines(&from_file),
        [
            "line 3: rejected: invalid_json",
            "line 6: rejected: too_large",
            "line 1500: rejected: invalid_json",
            "line 3000: rejected: invalid_json",
        ]
    );
    assert_eq!(
        stderr_lines(&from_file)[1],
        "line 6: rejected: too_large: 301 bytes is more than the maximum of 300 bytes"
    );
    // Line 2 and the 2,998 valid lines of 9 to 3008.
    assert_eq!(attempts_this_week(&text, "r-ana", "call"), Some(2_999.0));
    assert_eq!(attempts_this_week(&text, "r-ana", "email"), Some(2.0));
    // 2026-11-25T10:00:00Z, line 7: `date -u -d 2026-11-25T10:00:00Z +%s`.
    assert_eq!(as_of_seconds(&text), Some(1_795_600_800.0));

    // Standard input from a pipe, from a file, and a path that is a pipe (not a regular file).
    for (args, input) in [
        (["--events", "-"], Input::Piped(&file)),
        (["--events", "-"], Input::File(Path::new(&*events))),
        (["--events", "/dev/stdin"], Input::Piped(&file)),
    ] {
        let output = replay(&[&args[..], &["--config", &config]].concat(), input, "");
        assert_eq!(
            stdout_text(&output),
            text,
            "stdout of {args:?} differs from the file's"
        );
        assert_eq!(output.stderr, from_file.stderr, "stderr of {args:?}");
    }

    // With `--as-of` (one pass), the two lines after it by more than the 300 s of tolerated
    // skew are rejected the same way from the file and from stdin.
    let as_of = ["--as-of", "2026-11-23T12:00:00Z", "--config", &config];
    let from_file = replay(
        &[&["--events", &events][..], &as_of].concat(),
        Input::Nothing,
        "",
    );
    let from_stdin = replay(
        &[&["--events", "-"][..], &as_of].concat(),
        Input::Piped(&file),
        "",
    );
    assert_eq!(from_stdin.stdout, from_file.stdout);
    assert_eq!(from_stdin.stderr, from_file.stderr);
    assert_eq!(
        rejected_lines(&from_file),
        [
            "line 3: rejected: invalid_json",
            "line 6: rejected: too_large",
            "line 7: rejected: future_timestamp",
            "line 8: rejected: future_timestamp",
            "line 1500: rejected: invalid_json",
            "line 3000: rejected: invalid_json",
        ]
    );
}

#[test]
fn as_of_is_the_newest_valid_event_even_on_the_last_line() {
    let scratch = Scratch::new("replay-streaming-last");
    let lines = [
        activity("a-1", "2026-11-23T09:00:00Z", "r-ana", "call"),
        // Later than every other line, but rejected (no `contact_id`): it must not set "as of".
        r#"{"event_id":"bad","type":"activity","occurred_at":"2026-11-27T00:00:00Z","rep_id":"r-ana","channel":"call","established":true}"#.to_owned(),
        activity("a-2", "2026-11-24T09:00:00Z", "r-ana", "call"),
        // The newest valid event, last, with no line end.
        activity("a-3", "2026-11-25T15:30:00Z", "r-ana", "chat"),
    ];
    let events = scratch.write("events.jsonl", lines.join("\n").as_bytes());
    let events = events.to_string_lossy();

    let found = replay(&["--events", &events], Input::Nothing, "");
    let given = replay(
        &["--events", &events, "--as-of", "2026-11-25T15:30:00Z"],
        Input::Nothing,
        "",
    );
    assert_eq!(stdout_text(&found), stdout_text(&given));
    assert_eq!(found.stderr, given.stderr);
    // `date -u -d 2026-11-25T15:30:00Z +%s`
    assert_eq!(as_of_seconds(&stdout_text(&found)), Some(1_795_620_600.0));
    assert_eq!(
        attempts_this_week(&stdout_text(&found), "r-ana", "chat"),
        Some(1.0)
    );
    assert_eq!(rejected_lines(&found), ["line 2: rejected: missing_field"]);
    // The instant matters: as of the second-newest event, the last one is not counted yet.
    let earlier = replay(
        &["--events", &events, "--as-of", "2026-11-24T09:00:00Z"],
        Input::Nothing,
        "",
    );
    assert_ne!(stdout_text(&earlier), stdout_text(&found));
}

#[test]
fn a_newest_event_the_quick_first_pass_misreads_still_sets_as_of() {
    let scratch = Scratch::new("replay-streaming-glimpse");
    let newest = "2026-11-25T15:30:00Z";
    // The quick first pass reads `occurred_at` without decoding; these two lines defeat it.
    // An escaped key (the same key to the decoder): the quick pass sees no time on this line,
    // guesses 24 November, and the applying pass, finding 25 November, must apply again.
    let escaped =
        activity("a-3", newest, "r-ana", "chat").replace("occurred_at", r"occurred\u005fat");
    // A nested `occurred_at` first: the quick pass reads 2030 on a valid line of 24 November.
    let nested = activity("a-4", "2026-11-24T12:00:00Z", "r-ana", "email").replacen(
        '{',
        r#"{"crm":{"occurred_at":"2030-01-01T00:00:00Z"},"#,
        1,
    );
    let common = [
        activity("a-1", "2026-11-23T09:00:00Z", "r-ana", "call"),
        "{not json".to_owned(),
        activity("a-2", "2026-11-24T09:00:00Z", "r-ana", "call"),
    ];
    for (case, tricky) in [("escaped", &escaped), ("nested", &nested)] {
        let lines = [&common[..], std::slice::from_ref(tricky)].concat();
        let events = scratch.write(&format!("{case}.jsonl"), lines.join("\n").as_bytes());
        let events = events.to_string_lossy();
        let expected_as_of = if case == "escaped" {
            newest
        } else {
            "2026-11-24T12:00:00Z"
        };
        let found = replay(&["--events", &events], Input::Nothing, "");
        let given = replay(
            &["--events", &events, "--as-of", expected_as_of],
            Input::Nothing,
            "",
        );
        assert!(
            stdout_text(&found) == stdout_text(&given),
            "{case}: the exposition differs from that of --as-of {expected_as_of}"
        );
        // Each rejected line once: the 25 November line, in the future of the guess, is not.
        assert_eq!(
            rejected_lines(&found),
            ["line 2: rejected: invalid_json"],
            "{case}"
        );
        assert_eq!(found.stderr, given.stderr, "{case}");
    }
    // `date -u -d 2026-11-25T15:30:00Z +%s`; the chat activity counted once.
    let events = scratch.write(
        "escaped-again.jsonl",
        [&common[..], &[escaped]].concat().join("\n").as_bytes(),
    );
    let text = stdout_text(&replay(
        &["--events", &events.to_string_lossy()],
        Input::Nothing,
        "",
    ));
    assert_eq!(as_of_seconds(&text), Some(1_795_620_600.0));
    assert_eq!(attempts_this_week(&text, "r-ana", "chat"), Some(1.0));
    assert_eq!(attempts_this_week(&text, "r-ana", "call"), Some(2.0));
}

/// Lines in the file of the memory test.
const LINES: usize = 50_000;
/// Length of the one `contact_id` every line names.
const CONTACT_ID_BYTES: usize = 2_000;

#[test]
fn memory_does_not_grow_with_the_file() {
    // Every line is an activity with its own `event_id` by the same rep to the same contact,
    // whose id is 2,000 bytes long: 50,000 lines make a 107 MB file.
    //
    // What the engine keeps per line is small and does not depend on the contact id's length: a
    // 128-bit hash of the event id for de-duplication (with its expiry, in a hash map) and an
    // activity fact that names the contact by a number; the contact id itself once. Under
    // 100 bytes a line, so under 5 MB in all. A replay that held the decoded events before
    // applying them kept each line's 2,000-byte contact id: over 100 MB.
    //
    // The heap (RLIMIT_DATA) is capped at 64 MiB, between the two: the replay then fits only if
    // it streams. A debug build of the streaming replay needs about 25 MB here.
    let scratch = Scratch::new("replay-streaming-memory");
    let contact = "c".repeat(CONTACT_ID_BYTES);
    let mut file = Vec::with_capacity(LINES * (CONTACT_ID_BYTES + 200));
    for n in 0..LINES {
        // The events span one day; the newest, on the last line, is "as of".
        let minute = n * 1_440 / LINES;
        writeln!(
            file,
            r#"{{"event_id":"e-{n}","type":"activity","occurred_at":"2026-11-24T{:02}:{:02}:00Z","rep_id":"r-ana","contact_id":"{contact}","channel":"call","established":true}}"#,
            minute / 60,
            minute % 60
        )
        .expect("write a line");
    }
    assert!(file.len() > 100_000_000);
    let events = scratch.write("events.jsonl", &file);
    drop(file);
    let cap = "ulimit -d 65536 &&";

    // Two passes over the file, then two over stdin copied to a temporary file.
    let from_file = replay(
        &["--events", &events.to_string_lossy()],
        Input::Nothing,
        cap,
    );
    let from_stdin = replay(&["--events", "-"], Input::File(&events), cap);
    for output in [&from_file, &from_stdin] {
        let text = stdout_text(output);
        assert_eq!(attempts_this_week(&text, "r-ana", "call"), Some(50_000.0));
        // The last line's 2026-11-24T23:59:00Z: `date -u -d 2026-11-24T23:59:00Z +%s`.
        assert_eq!(as_of_seconds(&text), Some(1_795_564_740.0));
        assert_eq!(stderr_lines(output), Vec::<String>::new());
    }
}
