//! `salespulse replay`: the engine over a JSON-lines file, printed as one exposition.
//!
//! Memory does not depend on the file's length: each line is decoded, applied and dropped before
//! the next is read. Without `--as-of`, "now" is the newest valid `occurred_at`, which the engine
//! needs before the first line (its windows hang on it), so the input is then read twice: once
//! for that instant, once to apply.
//!
//! The first pass does not decode every line: it glimpses each line's `occurred_at` and decodes
//! only the few newest (see [`newest_by_glimpse`]). A glimpse is a guess, so the applying pass,
//! which decodes every line anyway, checks it: if the newest decoded `occurred_at` is another
//! instant, the engine is thrown away and the file applied again as of that instant. Until that
//! check, rejections are held in a temporary file, so stderr reports each line once.
//!
//! Applying uses both cores: one thread reads and decodes, the other applies, in file order
//! (decoding is about a third of the work, the engine the rest). A bounded channel of batches
//! between them keeps memory constant.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use anyhow::Context;
use memchr::memmem;
use salespulse_config::Config;
use salespulse_engine::{Engine, IngestOutcome, Settings};
use salespulse_events::{Event, Rejection, Timestamp, check_size, decode, parse_timestamp};

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
    let mut stderr = BufWriter::new(io::stderr().lock());
    let engine = match as_of {
        Some(as_of) => apply_all(open(events)?, &settings, as_of, &mut stderr)?.0,
        None => apply_as_of_newest(rewindable(events)?, &settings, &mut stderr)?,
    };
    stderr.flush().context("writing the rejections to stderr")?;
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

/// C28: applies the events as of the newest `occurred_at` of a valid line (the wall clock if
/// there is none). The instant comes from [`newest_by_glimpse`], checked by the applying pass;
/// when the glimpses cannot settle it, or the check fails, from decoding every line.
fn apply_as_of_newest(
    mut input: File,
    settings: &Settings,
    stderr: &mut impl Write,
) -> anyhow::Result<Engine> {
    let reading = "reading the events for the newest `occurred_at`";
    let guess = newest_by_glimpse(&input, settings).context(reading)?;
    input.rewind().context("rewinding the events")?;
    let Some(guess) = guess else {
        let newest = latest_occurred_at(&input, settings).context(reading)?;
        input.rewind().context("rewinding the events")?;
        return Ok(apply_all(input, settings, or_now(newest), stderr)?.0);
    };
    let mut held = BufWriter::new(
        tempfile::tempfile().context("creating a temporary file for the rejections")?,
    );
    let (engine, newest) = apply_all(&input, settings, or_now(guess), &mut held)?;
    if newest == guess {
        let mut held = held
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
            .context("holding the rejections in a temporary file")?;
        held.rewind().context("rewinding the rejections")?;
        io::copy(&mut held, stderr).context("writing the rejections to stderr")?;
        return Ok(engine);
    }
    drop(engine);
    input.rewind().context("rewinding the events")?;
    Ok(apply_all(input, settings, or_now(newest), stderr)?.0)
}

fn or_now(instant: Option<Timestamp>) -> Timestamp {
    instant.unwrap_or_else(chrono::Utc::now)
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

/// Lines with the newest glimpses that [`newest_by_glimpse`] keeps to decode: enough that a few
/// rejected lines at the end of a feed do not send the replay back to decoding every line.
const GLIMPSED_CANDIDATES: usize = 16;

/// The quick first pass: the newest `occurred_at` of a valid line, found by decoding only the
/// lines with the newest [`glimpse`]s, newest first, until one is valid. `Some(None)` if no line
/// has a glimpse; `None` when the glimpses cannot tell: the newest of them all is on invalid
/// lines, or a decoded line's `occurred_at` is not its glimpse.
///
/// It is the right instant when every valid line's glimpse is its `occurred_at` (the key appears
/// once, at the top level, unescaped, as every producer we know writes it); the applying pass
/// checks that it was.
fn newest_by_glimpse(
    input: impl Read,
    settings: &Settings,
) -> io::Result<Option<Option<Timestamp>>> {
    let key = memmem::Finder::new(OCCURRED_AT_KEY);
    let mut candidates = Candidates::default();
    for_each_line(input, settings.max_event_bytes, |_, line| {
        if let Ok(line) = line
            && let Some(at) = glimpse(line, &key)
        {
            candidates.offer(at, line);
        }
        Ok(())
    })?;
    Ok(candidates.settle(settings))
}

/// The lines with the newest glimpses, newest first, at most [`GLIMPSED_CANDIDATES`].
#[derive(Debug, Default)]
struct Candidates {
    newest_first: Vec<(Timestamp, Vec<u8>)>,
    /// Whether a line with a glimpse was left out.
    left_out: bool,
}

impl Candidates {
    fn offer(&mut self, at: Timestamp, line: &[u8]) {
        let mut bytes = Vec::new();
        if self.newest_first.len() == GLIMPSED_CANDIDATES {
            self.left_out = true;
            match self.newest_first.pop() {
                Some(oldest) if at <= oldest.0 => {
                    self.newest_first.push(oldest);
                    return;
                }
                // The oldest is pushed out; its buffer takes the new line.
                oldest => bytes = oldest.map(|(_, bytes)| bytes).unwrap_or_default(),
            }
        }
        bytes.clear();
        bytes.extend_from_slice(line);
        // Input in time order makes every line the newest so far: that case skips the search.
        let position = if self
            .newest_first
            .first()
            .is_none_or(|(newest, _)| at > *newest)
        {
            0
        } else {
            self.newest_first.partition_point(|(newer, _)| *newer >= at)
        };
        self.newest_first.insert(position, (at, bytes));
    }

    /// The newest glimpse of a line that decodes with that `occurred_at`; see
    /// [`newest_by_glimpse`] for what `None` and `Some(None)` mean.
    fn settle(&self, settings: &Settings) -> Option<Option<Timestamp>> {
        for (at, line) in &self.newest_first {
            match decode(line, &settings.validation) {
                Ok(event) if event.occurred_at == *at => return Some(Some(*at)),
                Ok(_) => return None,
                Err(_) => {}
            }
        }
        (!self.left_out).then_some(None)
    }
}

const OCCURRED_AT_KEY: &[u8] = b"\"occurred_at\"";

/// What a line's `occurred_at` looks like without decoding it: the timestamp in the string after
/// the first `"occurred_at"` in the line that is followed by a colon, so a key. Only a guess: that
/// key may be nested, escaped or absent.
fn glimpse(line: &[u8], key: &memmem::Finder<'_>) -> Option<Timestamp> {
    let value = key.find_iter(line).find_map(|at| {
        line[at + OCCURRED_AT_KEY.len()..]
            .trim_ascii_start()
            .strip_prefix(b":")
    })?;
    let value = value.trim_ascii_start().strip_prefix(b"\"")?;
    let text = &value[..memchr::memchr(b'"', value)?];
    parse_timestamp(std::str::from_utf8(text).ok()?)
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
/// de-duplication happen in the engine), reporting each rejected line to `rejections`. A second
/// thread reads and decodes while this one applies. Also returns the newest `occurred_at` of a
/// line that decoded.
fn apply_all(
    input: impl Read + Send,
    settings: &Settings,
    as_of: Timestamp,
    rejections: &mut impl Write,
) -> anyhow::Result<(Engine, Option<Timestamp>)> {
    let mut engine = Engine::new(settings.clone(), as_of);
    let (sender, receiver) = sync_channel(DECODED_BATCHES_AHEAD);
    let (give_back, given_back) = channel();
    let newest = std::thread::scope(|scope| {
        let decoder = scope.spawn(|| decode_all(input, settings, sender, given_back));
        let applied = apply_decoded(&mut engine, receiver, give_back, rejections);
        let decoded = decoder
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // A failed read ends the batches early: that error is the one to report.
        decoded?;
        applied
    })?;
    Ok((engine, newest))
}

/// The decoding thread: sends every line, decoded or rejected, in batches; stops early when the
/// engine's side has hung up (it failed). The batches the engine gives back are cleared here, so
/// their events are freed by the thread that allocated them, and their vectors reused.
fn decode_all(
    input: impl Read,
    settings: &Settings,
    sender: SyncSender<Vec<Decoded>>,
    given_back: Receiver<Vec<Decoded>>,
) -> io::Result<()> {
    let mut batch = Vec::with_capacity(DECODED_BATCH_LINES);
    let mut engine_gone = false;
    let read = for_each_line(input, settings.max_event_bytes, |line_number, line| {
        batch.push((
            line_number,
            line.and_then(|line| decode(line, &settings.validation)),
        ));
        if batch.len() == DECODED_BATCH_LINES {
            let next = match given_back.try_recv() {
                Ok(mut applied) => {
                    applied.clear();
                    applied
                }
                Err(_) => Vec::with_capacity(DECODED_BATCH_LINES),
            };
            let full = std::mem::replace(&mut batch, next);
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

/// The engine's thread: applies the batches in order, gives each back to the decoding thread,
/// reports each rejected line and returns the newest `occurred_at` of a decoded line.
fn apply_decoded(
    engine: &mut Engine,
    batches: Receiver<Vec<Decoded>>,
    give_back: Sender<Vec<Decoded>>,
    rejections: &mut impl Write,
) -> anyhow::Result<Option<Timestamp>> {
    let mut newest = None;
    for batch in batches {
        for (line_number, decoded) in &batch {
            if let Ok(event) = decoded {
                newest = newest.max(Some(event.occurred_at));
            }
            if let IngestOutcome::Rejected(rejection) =
                engine.ingest_decoded_at(decoded, engine.as_of())
            {
                writeln!(rejections, "line {line_number}: rejected: {rejection}")
                    .context("reporting a rejected line")?;
            }
        }
        // Once reading is over, the decoding thread is gone and the batch is freed here.
        let _ = give_back.send(batch);
    }
    Ok(newest)
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
    let limit = max_bytes.saturating_add(2);
    let mut read_any = false;
    loop {
        let buffered = reader.fill_buf()?;
        if buffered.is_empty() {
            if !read_any {
                return Ok(None);
            }
            break;
        }
        read_any = true;
        // Lines are found with the `memchr` crate's vectorised search, which measured much faster
        // here than `BufRead::read_until`'s.
        let room = &buffered[..buffered.len().min(limit - line.len())];
        if let Some(end) = memchr::memchr(b'\n', room) {
            line.extend_from_slice(&room[..end]);
            reader.consume(end + 1);
            break;
        }
        line.extend_from_slice(room);
        let taken = room.len();
        reader.consume(taken);
        if line.len() == limit {
            let (skipped, last) = skip_rest_of_line(reader)?;
            let ends_in_cr = last.or(line.last().copied()) == Some(b'\r');
            return Ok(Some(
                line.len().saturating_add(skipped) - usize::from(ends_in_cr),
            ));
        }
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
        // The glimpses find it too: the later lines' are on invalid ones.
        assert_eq!(
            newest_by_glimpse(input.as_bytes(), &settings).expect("reads"),
            Some(instant("2026-11-25T09:30:00Z"))
        );
        assert_eq!(
            latest_occurred_at(&b"\n{}\n"[..], &settings).expect("reads"),
            None
        );
        assert_eq!(
            newest_by_glimpse(&b"\n{}\n"[..], &settings).expect("reads"),
            Some(None)
        );
    }

    fn glimpse_of(line: &str) -> Option<Timestamp> {
        glimpse(line.as_bytes(), &memmem::Finder::new(OCCURRED_AT_KEY))
    }

    #[test]
    fn a_glimpse_is_the_string_after_the_first_occurred_at_key() {
        let nov_25 = instant("2026-11-25T10:00:00Z");
        assert_eq!(
            glimpse_of(r#"{"occurred_at":"2026-11-25T10:00:00Z"}"#),
            nov_25
        );
        assert_eq!(
            glimpse_of("{\"occurred_at\" \t: \"2026-11-25T10:00:00Z\",\"x\":1}"),
            nov_25
        );
        // A value that reads "occurred_at" is not the key; an offset is honoured.
        assert_eq!(
            glimpse_of(r#"{"note":"occurred_at","occurred_at":"2026-11-25T05:00:00-05:00"}"#),
            nov_25
        );
        // A nested key first: the glimpse is wrong, which `Candidates::settle` notices.
        assert_eq!(
            glimpse_of(
                r#"{"crm":{"occurred_at":"2030-01-01T00:00:00Z"},"occurred_at":"2026-11-25T10:00:00Z"}"#
            ),
            instant("2030-01-01T00:00:00Z")
        );
        for no_glimpse in [
            r#"{"occurred\u005fat":"2026-11-25T10:00:00Z"}"#,
            r#"{"occurred_at":1795600800}"#,
            r#"{"occurred_at":"yesterday"}"#,
            r#"{"occurred_at":"2026-11-25T10:00:00Z"#,
            r#"{"event_id":"e-1"}"#,
        ] {
            assert_eq!(glimpse_of(no_glimpse), None, "{no_glimpse}");
        }
    }

    /// Candidates offered activities on these November days, in this order.
    fn candidates_of(days: &[u32]) -> Candidates {
        let mut candidates = Candidates::default();
        for (index, day) in days.iter().enumerate() {
            let line = activity(&format!("e{index}"), &november(*day));
            let at = instant(&november(*day)).expect("a timestamp");
            candidates.offer(at, line.as_bytes());
        }
        candidates
    }

    fn days_of(candidates: &Candidates) -> Vec<String> {
        candidates
            .newest_first
            .iter()
            .map(|(at, _)| at.format("%d").to_string())
            .collect()
    }

    #[test]
    fn candidates_are_the_newest_lines_newest_first() {
        let in_order: Vec<u32> = (1..=20).collect();
        let kept = candidates_of(&in_order);
        let newest: Vec<String> = (5..=20).rev().map(|day| format!("{day:02}")).collect();
        assert_eq!(days_of(&kept), newest);
        assert!(kept.left_out);
        let shuffled = [
            7, 20, 1, 13, 5, 19, 2, 11, 17, 3, 9, 15, 4, 18, 6, 12, 8, 16, 10, 14,
        ];
        assert_eq!(days_of(&candidates_of(&shuffled)), newest);
        // Each line keeps its own bytes through the reuse of pushed-out buffers.
        let kept = candidates_of(&shuffled);
        let (at, line) = &kept.newest_first[3];
        assert_eq!(at.format("%d").to_string(), "17");
        assert_eq!(line, activity("e8", &november(17)).as_bytes());
        let few = candidates_of(&[3, 9, 3, 1]);
        assert_eq!(days_of(&few), ["09", "03", "03", "01"]);
        assert!(!few.left_out);
    }

    /// An activity without a `contact_id`: a glimpse, but rejected by the decoder.
    fn invalid(day: u32) -> String {
        format!(
            r#"{{"event_id":"bad","type":"activity","occurred_at":"{}","rep_id":"r-ana","channel":"call","established":true}}"#,
            november(day)
        )
    }

    fn settled(lines: &[String]) -> Option<Option<Timestamp>> {
        let input = lines.join("\n");
        newest_by_glimpse(input.as_bytes(), &Settings::default()).expect("reads")
    }

    #[test]
    fn the_newest_valid_candidate_settles_the_instant() {
        let mut lines = vec![activity("a", &november(2)), activity("b", &november(5))];
        lines.extend((10..25).map(invalid));
        // 15 invalid lines newer than the valid one: it is still a candidate.
        assert_eq!(settled(&lines), Some(instant(&november(5))));
        // 16: it is pushed out, and the glimpses cannot tell.
        lines.push(invalid(25));
        assert_eq!(settled(&lines), None);
        // Only invalid lines, all of them candidates: no valid line has a glimpse.
        assert_eq!(settled(&[invalid(3), invalid(4)]), Some(None));
        // The newest glimpse is of a nested key: the line decodes to another instant.
        let nested = activity("c", &november(6)).replacen(
            '{',
            r#"{"crm":{"occurred_at":"2026-11-28T09:00:00Z"},"#,
            1,
        );
        assert_eq!(settled(&[activity("a", &november(2)), nested]), None);
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
