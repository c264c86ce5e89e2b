//! Reading the service's `/metrics`: how many input events it has counted.

use anyhow::bail;

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

/// `GET /metrics` at `address`: the exposition, or why there is none.
pub fn scrape(address: &str) -> anyhow::Result<String> {
    match salespulse_e2e::http_get(address, "/metrics") {
        Some((200, body)) => Ok(body),
        Some((status, _)) => bail!("GET /metrics at {address}: status {status}"),
        None => bail!("GET /metrics at {address}: no answer"),
    }
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
