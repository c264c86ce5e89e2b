//! `salespulse replay`: the engine over a JSON-lines file, printed as one exposition.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use anyhow::Context;
use salespulse_config::Config;
use salespulse_engine::{Engine, IngestOutcome};
use salespulse_events::{Event, Rejection, Timestamp, decode};

/// Reads every line, decides "as of" (C28), feeds the engine in file order and prints the
/// exposition to stdout; rejected lines are reported on stderr.
pub fn run(events: &Path, config: &Config, as_of: Option<Timestamp>) -> anyhow::Result<()> {
    let settings = config.engine_settings();
    let lines = read_lines(events)?;
    // Decode once; the clock check and de-duplication happen in the engine, in file order.
    let decoded: Vec<(usize, Result<Event, Rejection>)> = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| !is_blank(line))
        .map(|(index, line)| (index + 1, decode(line, &settings.validation)))
        .collect();
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

/// The file's lines as raw bytes (a line that is not UTF-8 is rejected later, not here).
fn read_lines(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let reader: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )
    };
    let mut reader = BufReader::new(reader);
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(lines);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        lines.push(line);
    }
}
