//! `salespulse replay`: the engine over a JSON-lines file, printed as one exposition.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use anyhow::Context;
use salespulse_config::Config;
use salespulse_engine::{Engine, IngestOutcome, Settings};
use salespulse_events::{Event, Rejection, Timestamp, check_size, decode};

/// How much of an oversized line is read at a time while skipping it.
const SKIP_CHUNK_BYTES: u64 = 64 * 1024;

/// Reads every line, decides "as of" (C28), feeds the engine in file order and prints the
/// exposition to stdout; rejected lines are reported on stderr.
pub fn run(events: &Path, config: &Config, as_of: Option<Timestamp>) -> anyhow::Result<()> {
    let settings = config.engine_settings();
    // Decode once; the clock check and de-duplication happen in the engine, in file order.
    let decoded = read_decoded(events, &settings)?;
    let as_of = as_of
        .or_else(|| {
            decoded
                .iter()
                .filter_map(|(_, result)| result.as_ref().ok())
                .map(|event| event.occurred_at)
                .max()
        })
        .unwrap_or_else(chrono::Utc::now);

    let mut engine = Engine::new(settings, as_of);
    let mut stderr = std::io::stderr().lock();
    for (line_number, result) in decoded {
        let outcome = match result {
            Ok(event) => engine.ingest_event(event),
            Err(rejection) => engine.record_rejection(rejection),
        };
        if let IngestOutcome::Rejected(rejection) = outcome {
            writeln!(stderr, "line {line_number}: rejected: {rejection}")?;
        }
    }
    let exposition =
        salespulse_exporter::encode_text(&engine.snapshot(), &config.export, Vec::new());
    std::io::stdout()
        .lock()
        .write_all(exposition.as_bytes())
        .context("writing the exposition to stdout")?;
    Ok(())
}

/// C2: empty or whitespace-only lines are skipped, not rejected.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Every line but the blank ones, with its 1-based number, decoded as it is read. The size limit
/// comes first (`too_large`, even for a line of spaces), as for a Kafka message; a line that is
/// not UTF-8 is rejected by the decoder, not here.
fn read_decoded(
    path: &Path,
    settings: &Settings,
) -> anyhow::Result<Vec<(usize, Result<Event, Rejection>)>> {
    let reader: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )
    };
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    let mut decoded = Vec::new();
    let mut line_number = 0;
    while let Some(len) = read_line(&mut reader, &mut line, settings.max_event_bytes)? {
        line_number += 1;
        let result = match check_size(len, settings.max_event_bytes) {
            Err(rejection) => Err(rejection),
            Ok(()) if is_blank(&line) => continue,
            Ok(()) => decode(&line, &settings.validation),
        };
        decoded.push((line_number, result));
    }
    Ok(decoded)
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
}
