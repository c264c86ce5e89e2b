//! Reading the service's `/metrics`: how many input events it has counted.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, bail};

/// The counters that together count every input message once: accepted, duplicate, rejected
/// and ignored (docs/metrics.md, "Pipeline").
const COUNTED_FAMILIES: [&str; 4] = [
    "salespulse_events_total",
    "salespulse_events_duplicate_total",
    "salespulse_events_rejected_total",
    "salespulse_events_ignored_total",
];

/// The sum of every sample of the counted families in an exposition.
pub fn events_counted(exposition: &str) -> u64 {
    exposition
        .lines()
        .filter_map(|line| {
            let name_end = line.find(['{', ' '])?;
            if !COUNTED_FAMILIES.contains(&&line[..name_end]) {
                return None;
            }
            let value: f64 = line.rsplit_once(' ')?.1.parse().ok()?;
            Some(value as u64)
        })
        .sum()
}

/// `GET /metrics` from `address` (host:port) over HTTP/1.0: the body of a 200 answer.
pub fn scrape(address: &str) -> anyhow::Result<String> {
    let mut stream =
        TcpStream::connect(address).with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("an HTTP answer without a body")?;
    if head.split(' ').nth(1) != Some("200") {
        bail!("GET /metrics: {}", head.lines().next().unwrap_or_default());
    }
    Ok(body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_accepted_duplicate_rejected_and_ignored_events() {
        let exposition = "\
# HELP salespulse_events_total Events accepted.
# TYPE salespulse_events_total counter
salespulse_events_total{type=\"activity_logged\"} 1200
salespulse_events_total{type=\"lead_created\"} 300
salespulse_events_total_other 5
salespulse_events_duplicate_total 12
salespulse_events_rejected_total{reason=\"invalid_json\"} 3
salespulse_events_rejected_total{reason=\"too_large\"} 0
salespulse_events_ignored_total{reason=\"tombstone\"} 1
salespulse_events_late_total 40
sales_leads_total{team=\"a\"} 99
";
        // 1200 + 300 + 12 + 3 + 0 + 1; the late counter and look-alike names are not added.
        assert_eq!(events_counted(exposition), 1516);
    }

    #[test]
    fn nothing_counted_in_an_empty_exposition() {
        assert_eq!(events_counted(""), 0);
        assert_eq!(events_counted("# HELP x y\n"), 0);
    }
}
