//! `salespulse replay`: the engine over a JSON-lines file, printed as one exposition.
//!
//! Memory does not depend on the file's length: each line is decoded, applied and dropped before
//! the next is read. Without `--as-of`, "now" is the newest valid `occurred_at`, which the engine
//! needs before the first line (its windows hang on it), so the input is then read twice: once
//! for that instant, once to apply.
//!
//! Applying uses both cores: one thread reads and decodes, the other applies, in file order
//! (decoding is about a third of the work, the engine the rest). A bounded channel of batches
//! between them keeps memory constant.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::Context;
use salespulse_config::Config;
use salespulse_engine::{Engine, IngestOutcome, Settings};
use salespulse_events::{Event, Rejection, Timestamp, check_size, decode};

/// How much of an oversized line is read at a time while skipping it.
const SKIP_CHUNK_BYTES: u64 = 64 * 1024;

/// The read buffer of each pass: large enough that reading costs few system calls.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Lines decoded per batch sent to the engine's thread: enough that the channel costs little per
/// line, few enough (about a megabyte of events) that memory stays small.
const DECODED_BATCH_LINES: usize = 4096;

/// Batches decoded ahead of the engine at most.
const DECODED_BATCHES_AHEAD: usize = 4;

/// The first pass alternates runs of lines between two decoding threads; a run ends after
/// [`DECODED_BATCH_LINES`] lines or this many bytes, so that long lines keep memory small.
const FIRST_PASS_RUN_BYTES: usize = 1 << 20;

/// A decoded line and its 1-based number.
type Decoded = (usize, Result<Event, Rejection>);

/// Decides "as of" (C28), feeds the engine in file order and prints the exposition to stdout;
/// rejected lines are reported on stderr.
pub fn run(events: &Path, config: &Config, as_of: Option<Timestamp>) -> anyhow::Result<()> {
    let settings = config.engine_settings();
    let engine = match as_of {
        Some(as_of) => apply_all(open(events)?, &settings, as_of)?,
        None => {
            let mut input = rewindable(events)?;
            let as_of = latest_occurred_at(&input, &settings)
                .context("reading the events for the newest `occurred_at`")?
                .unwrap_or_else(chrono::Utc::now);
            input.rewind().context("rewinding the events")?;
            apply_all(input, &settings, as_of)?
        }
    };
    let exposition =
        salespulse_exporter::encode_text(&engine.snapshot(), &config.export, Vec::new());
    // The process ends right after: freeing millions of facts one by one would cost about a
    // tenth of the whole replay for nothing.
    std::mem::forget(engine);
    io::stdout()
        .lock()
        .write_all(exposition.as_bytes())
        .context("writing the exposition to stdout")?;
    Ok(())
}

/// The events to read once: the file, or standard input for `-`.
fn open(path: &Path) -> anyhow::Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(io::stdin()))
    } else {
        Ok(Box::new(open_file(path)?))
    }
}

fn open_file(path: &Path) -> anyhow::Result<File> {
    File::open(path).with_context(|| format!("cannot open {}", path.display()))
}

/// The events in a file that can be read twice: a regular file as it is; standard input, a pipe
/// or a FIFO (which can be read only once) copied first into an anonymous temporary file in the
/// system's temporary directory, gone when the process ends.
fn rewindable(path: &Path) -> anyhow::Result<File> {
    if path.as_os_str() == "-" {
        return spool(io::stdin().lock());
    }
    let file = open_file(path)?;
    let is_regular = file
        .metadata()
        .with_context(|| format!("cannot read the metadata of {}", path.display()))?
        .is_file();
    if is_regular { Ok(file) } else { spool(file) }
}

fn spool(mut input: impl Read) -> anyhow::Result<File> {
    let mut spooled = tempfile::tempfile().context("creating a temporary file for the events")?;
    io::copy(&mut input, &mut spooled).context("copying the events to a temporary file")?;
    spooled
        .rewind()
        .context("rewinding the temporary file of the events")?;
    Ok(spooled)
}

/// The first pass without `--as-of`: the newest `occurred_at` of a line that decodes, so of
/// exactly the events the second pass offers the engine. Each event is dropped once read. Both
/// cores decode: every other run of lines (see [`FIRST_PASS_RUN_BYTES`]) is copied to a second
/// thread.
fn latest_occurred_at(input: impl Read, settings: &Settings) -> io::Result<Option<Timestamp>> {
    let newest = |line: &[u8]| {
        decode(line, &settings.validation)
            .ok()
            .map(|event| event.occurred_at)
    };
    std::thread::scope(|scope| {
        let (sender, receiver) = sync_channel::<LineBatch>(1);
        let helper = scope.spawn(move || {
            receiver
                .iter()
                .filter_map(|batch| batch.lines().filter_map(newest).max())
                .max()
        });
        let mut latest = None;
        let mut batch = LineBatch::default();
        let mut this_threads_run = true;
        let (mut run_lines, mut run_bytes) = (0, 0);
        let read = for_each_line(input, settings.max_event_bytes, |_, line| {
            let Ok(line) = line else {
                return Ok(());
            };
            if this_threads_run {
                latest = latest.max(newest(line));
            } else {
                batch.push(line);
            }
            run_lines += 1;
            run_bytes += line.len();
            if run_lines == DECODED_BATCH_LINES || run_bytes >= FIRST_PASS_RUN_BYTES {
                if !this_threads_run {
                    sender
                        .send(std::mem::take(&mut batch))
                        .map_err(|_| io::Error::other("the second decoding thread stopped"))?;
                }
                this_threads_run = !this_threads_run;
                (run_lines, run_bytes) = (0, 0);
            }
            Ok(())
        });
        if read.is_ok() && batch.len() > 0 {
            // Only fails if the helper panicked, which its join reports.
            let _ = sender.send(batch);
        }
        drop(sender);
        let helper_latest = helper
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        read?;
        Ok(latest.max(helper_latest))
    })
}

/// Lines copied for another thread: their bytes one after another, and where each ends.
#[derive(Debug, Default)]
struct LineBatch {
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl LineBatch {
    fn push(&mut self, line: &[u8]) {
        self.text.extend_from_slice(line);
        self.ends.push(self.text.len());
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let line = &self.text[start..end];
            start = end;
            line
        })
    }
}

/// Feeds every line to an engine whose clock is `as_of`, in file order (the clock check and
/// de-duplication happen in the engine), reporting each rejected line on stderr. A second thread
/// reads and decodes while this one applies.
fn apply_all(
    input: impl Read + Send,
    settings: &Settings,
    as_of: Timestamp,
) -> anyhow::Result<Engine> {
    let mut engine = Engine::new(settings.clone(), as_of);
    let (sender, receiver) = sync_channel(DECODED_BATCHES_AHEAD);
    std::thread::scope(|scope| {
        let decoder = scope.spawn(|| decode_all(input, settings, sender));
        let applied = apply_decoded(&mut engine, receiver);
        let decoded = decoder
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // A failed read ends the batches early: that error is the one to report.
        decoded?;
        applied
    })?;
    Ok(engine)
}

/// The decoding thread: sends every line, decoded or rejected, in batches; stops early when the
/// engine's side has hung up (it failed).
fn decode_all(
    input: impl Read,
    settings: &Settings,
    sender: SyncSender<Vec<Decoded>>,
) -> io::Result<()> {
    let mut batch = Vec::with_capacity(DECODED_BATCH_LINES);
    let mut engine_gone = false;
    let read = for_each_line(input, settings.max_event_bytes, |line_number, line| {
        batch.push((
            line_number,
            line.and_then(|line| decode(line, &settings.validation)),
        ));
        if batch.len() == DECODED_BATCH_LINES {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(DECODED_BATCH_LINES));
            if sender.send(full).is_err() {
                engine_gone = true;
                return Err(io::ErrorKind::BrokenPipe.into());
            }
        }
        Ok(())
    });
    // When the engine's side hung up, it failed and reports why.
    if !engine_gone {
        read?;
        if !batch.is_empty() {
            let _ = sender.send(batch);
        }
    }
    Ok(())
}

/// The engine's thread: applies the batches in order and reports each rejected line on stderr.
fn apply_decoded(engine: &mut Engine, batches: Receiver<Vec<Decoded>>) -> anyhow::Result<()> {
    let mut stderr = BufWriter::new(io::stderr().lock());
    for batch in batches {
        for (line_number, decoded) in batch {
            let outcome = match decoded {
                Ok(event) => engine.ingest_event(event),
                Err(rejection) => engine.record_rejection(rejection),
            };
            if let IngestOutcome::Rejected(rejection) = outcome {
                writeln!(stderr, "line {line_number}: rejected: {rejection}")
                    .context("writing a rejection to stderr")?;
            }
        }
    }
    stderr.flush().context("writing the rejections to stderr")?;
    Ok(())
}

/// C2: empty or whitespace-only lines are skipped, not rejected.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Calls `visit` with every line but the blank ones and its 1-based number: the line, or its
/// rejection when it is longer than `max_event_bytes`. The size limit comes first (`too_large`,
/// even for a line of spaces), as for a Kafka message; a line that is not UTF-8 is rejected by
/// the decoder, not here.
fn for_each_line(
    input: impl Read,
    max_event_bytes: usize,
    mut visit: impl FnMut(usize, Result<&[u8], Rejection>) -> io::Result<()>,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, input);
    let mut line = Vec::new();
    let mut line_number = 0;
    while let Some(len) = read_line(&mut reader, &mut line, max_event_bytes)? {
        line_number += 1;
        match check_size(len, max_event_bytes) {
            Err(rejection) => visit(line_number, Err(rejection))?,
            Ok(()) if is_blank(&line) => {}
            Ok(()) => visit(line_number, Ok(&line))?,
        }
    }
    Ok(())
}

/// Reads the next line into `line`, without its `\n` or `\r\n`, and returns its length; `None`
/// at the end of the input.
///
/// A line longer than `max_bytes` is never held whole: `line` then keeps only its first
/// `max_bytes + 2` bytes, the rest is skipped piece by piece up to the next `\n`, and only the
/// returned length tells how long it was. So a 100 MB line costs about `max_bytes` of memory.
fn read_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    max_bytes: usize,
) -> io::Result<Option<usize>> {
    line.clear();
    // Room for the longest line accepted and its `\r\n`: a line cut at this length is too long.
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(2);
    let read = reader.by_ref().take(limit).read_until(b'\n', line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if read as u64 == limit {
        let (skipped, last) = skip_rest_of_line(reader)?;
        let ends_in_cr = last.or(line.last().copied()) == Some(b'\r');
        return Ok(Some(
            line.len().saturating_add(skipped) - usize::from(ends_in_cr),
        ));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line.len()))
}

/// Consumes the input up to and including the next `\n` (or to its end), holding at most
/// [`SKIP_CHUNK_BYTES`] of it; returns how many bytes came before the `\n` and the last of them.
fn skip_rest_of_line(reader: &mut impl BufRead) -> io::Result<(usize, Option<u8>)> {
    let mut chunk = Vec::new();
    let mut skipped = 0usize;
    let mut last = None;
    loop {
        chunk.clear();
        if reader
            .by_ref()
            .take(SKIP_CHUNK_BYTES)
            .read_until(b'\n', &mut chunk)?
            == 0
        {
            return Ok((skipped, last));
        }
        let ended = chunk.last() == Some(&b'\n');
        if ended {
            chunk.pop();
        }
        skipped = skipped.saturating_add(chunk.len());
        last = chunk.last().copied().or(last);
        if ended {
            return Ok((skipped, last));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use salespulse_events::parse_timestamp;

    /// Day `day` of November 2026, 09:00 UTC.
    fn november(day: u32) -> String {
        format!("2026-11-{day:02}T09:00:00Z")
    }

    /// `count` activities on 1 November with `newest` (a line index and its day) among them.
    fn activities_with(count: usize, newest: (usize, u32)) -> String {
        (0..count)
            .map(|index| {
                let day = if index == newest.0 { newest.1 } else { 1 };
                activity(&format!("e{index}"), &november(day))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn latest_of(input: &str) -> Option<Timestamp> {
        latest_occurred_at(input.as_bytes(), &Settings::default()).expect("read")
    }

    #[test]
    fn the_newest_instant_is_found_whichever_thread_decodes_its_line() {
        let n = DECODED_BATCH_LINES;
        // Runs of n lines alternate between this thread and the helper: 0..n here, n..2n
        // there, 2n..3n here, then a last, partial run there.
        for index in [0, n - 1, n, 2 * n - 1, 2 * n + 7, 3 * n, 3 * n + 9] {
            assert_eq!(
                latest_of(&activities_with(3 * n + 10, (index, 20))),
                instant(&november(20)),
                "newest at line {index}"
            );
        }
    }

    #[test]
    fn lines_that_do_not_decode_or_are_too_large_do_not_count() {
        let n = DECODED_BATCH_LINES;
        let mut input = activities_with(2 * n + 3, (n + 1, 12));
        // Later, but without a rep: rejected, so not an instant the second pass applies.
        input.push_str(
            "\n{\"event_id\":\"x\",\"type\":\"activity\",\"occurred_at\":\"2026-11-25T09:00:00Z\",\"contact_id\":\"c\",\"channel\":\"call\",\"established\":false}",
        );
        let padding = " ".repeat(Settings::default().max_event_bytes);
        input.push_str(&format!("\n{}{padding}", activity("e-late", &november(28))));
        assert_eq!(latest_of(&input), instant(&november(12)));
        assert_eq!(latest_of(""), None);
    }

    /// Every line of `input` as read with a limit of `max_bytes`: its length, and its bytes when
    /// they fit.
    fn lines(input: &[u8], max_bytes: usize) -> Vec<(usize, Option<Vec<u8>>)> {
        // A tiny buffer, so that lines cross buffer boundaries.
        let mut reader = BufReader::with_capacity(3, input);
        let mut line = Vec::new();
        let mut out = Vec::new();
        while let Some(len) = read_line(&mut reader, &mut line, max_bytes).expect("reads") {
            assert!(line.len() <= max_bytes + 2, "held {} bytes", line.len());
            out.push((len, (len <= max_bytes).then(|| line.clone())));
        }
        out
    }

    fn held(text: &str) -> Option<Vec<u8>> {
        Some(text.as_bytes().to_vec())
    }

    #[test]
    fn lines_within_the_limit_are_read_as_before() {
        assert_eq!(lines(b"", 5), vec![]);
        assert_eq!(lines(b"\n", 5), vec![(0, held(""))]);
        assert_eq!(
            lines(b"ab\r\n\ncd\nlast", 5),
            vec![
                (2, held("ab")),
                (0, held("")),
                (2, held("cd")),
                (4, held("last"))
            ]
        );
        // A final `\r` without `\n` is a line end too; a `\r` inside a line is kept.
        assert_eq!(lines(b"a\rb\r", 5), vec![(3, held("a\rb"))]);
    }

    #[test]
    fn the_limit_counts_the_line_without_its_end() {
        // Exactly 5 bytes, with each kind of end: held.
        for input in [&b"12345\n"[..], b"12345\r\n", b"12345", b"12345\r"] {
            assert_eq!(lines(input, 5), vec![(5, held("12345"))], "{input:?}");
        }
        // 6 bytes: too long, and its length is exact whatever the end.
        for input in [&b"123456\nx"[..], b"123456\r\nx", b"123456", b"123456\r"] {
            let read = lines(input, 5);
            assert_eq!(read[0], (6, None), "{input:?}");
        }
        assert_eq!(lines(b"123456\nx", 5)[1], (1, held("x")));
    }

    #[test]
    fn a_long_line_is_skipped_to_its_end_and_measured() {
        let mut input = vec![b'x'; 200_000];
        input.extend_from_slice(b"\r\nok\n");
        input.extend_from_slice(&[b'y'; 70_000]);
        assert_eq!(
            lines(&input, 10),
            vec![(200_000, None), (2, held("ok")), (70_000, None)]
        );
        // A `\r` at a chunk boundary of the skipped part is still the line end.
        let mut input = vec![b'z'; 12 + 65_535];
        input.extend_from_slice(b"\r\n");
        assert_eq!(lines(&input, 10), vec![(12 + 65_535, None)]);
    }

    fn activity(event_id: &str, occurred_at: &str) -> String {
        format!(
            r#"{{"event_id":"{event_id}","type":"activity","occurred_at":"{occurred_at}","rep_id":"r-ana","contact_id":"c-1","channel":"call","established":true}}"#
        )
    }

    fn instant(text: &str) -> Option<Timestamp> {
        Some(parse_timestamp(text).expect("a valid timestamp"))
    }

    /// Every line `for_each_line` visits: its number, and its bytes or its rejection reason.
    fn visited(input: &str, max_event_bytes: usize) -> Vec<(usize, Result<String, String>)> {
        let mut seen = Vec::new();
        for_each_line(input.as_bytes(), max_event_bytes, |number, line| {
            let line = line
                .map(|line| String::from_utf8_lossy(line).into_owned())
                .map_err(|rejection| rejection.reason.to_string());
            seen.push((number, line));
            Ok(())
        })
        .expect("reads");
        seen
    }

    #[test]
    fn lines_keep_their_numbers_and_blank_ones_are_skipped() {
        assert_eq!(
            visited("a\n\n  \r\n123456\r\nb\r\n      \nc", 5),
            vec![
                (1, Ok("a".to_owned())),
                (4, Err("too_large".to_owned())),
                (5, Ok("b".to_owned())),
                // Six spaces: too large, not blank.
                (6, Err("too_large".to_owned())),
                (7, Ok("c".to_owned())),
            ]
        );
    }

    #[test]
    fn the_newest_occurred_at_counts_only_lines_that_decode() {
        let settings = Settings {
            max_event_bytes: 200,
            ..Settings::default()
        };
        let too_large = format!(
            r#"{{"event_id":"big","type":"activity","occurred_at":"2026-12-31T00:00:00Z","rep_id":"r-ana","contact_id":"{}","channel":"call","established":true}}"#,
            "c".repeat(100)
        );
        assert!(too_large.len() > 200);
        let input = [
            activity("a-1", "2026-11-24T09:00:00Z"),
            // Later, but with no `contact_id`: rejected, so it does not count.
            r#"{"event_id":"bad","type":"activity","occurred_at":"2026-12-30T00:00:00Z","rep_id":"r-ana","channel":"call","established":true}"#.to_owned(),
            too_large,
            String::new(),
            // An offset: 2026-11-25T09:30:00Z, the newest valid instant.
            activity("a-2", "2026-11-25T04:30:00-05:00"),
            activity("a-3", "2026-11-25T09:00:00Z"),
        ]
        .join("\n");
        assert_eq!(
            latest_occurred_at(input.as_bytes(), &settings).expect("reads"),
            instant("2026-11-25T09:30:00Z")
        );
        assert_eq!(
            latest_occurred_at(&b"\n{}\n"[..], &settings).expect("reads"),
            None
        );
    }

    #[test]
    fn the_newest_occurred_at_is_found_on_any_line() {
        // About 150 bytes a line: 5,000 lines are more than twice the read buffer.
        for newest_at in [0, 2_500, 4_999] {
            let input: String = (0..5_000)
                .map(|n| {
                    let day = if n == newest_at { 26 } else { 24 };
                    activity(&format!("a-{n}"), &format!("2026-11-{day}T09:00:00Z")) + "\n"
                })
                .collect();
            assert!(input.len() > 2 * READ_BUFFER_BYTES);
            assert_eq!(
                latest_occurred_at(input.as_bytes(), &Settings::default()).expect("reads"),
                instant("2026-11-26T09:00:00Z"),
                "newest on line {}",
                newest_at + 1
            );
        }
    }
}
