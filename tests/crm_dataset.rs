//! Golden test on real public B2B pipeline data (../shared/datasets/crm-sales-opportunities):
//! the CSV is turned into events here, `salespulse replay` runs on them, and its won/lost counts
//! and win rates must equal what this test counts straight from the CSV.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;

use chrono::NaiveDate;
use salespulse_e2e::{Sample, parse_exposition, salespulse_binary, shared_dir, value_of};
use serde_json::json;

#[derive(Debug)]
struct Opportunity {
    id: String,
    agent: String,
    account: String,
    stage: String,
    engage_date: Option<NaiveDate>,
    close_date: Option<NaiveDate>,
    close_value: Option<i64>,
}

fn read_csv(name: &str) -> Vec<csv::StringRecord> {
    let path = shared_dir()
        .join("datasets/crm-sales-opportunities")
        .join(name);
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader
        .records()
        .map(|record| record.expect("csv record"))
        .collect()
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn noon(date: NaiveDate) -> String {
    format!("{date}T12:00:00Z")
}

struct Dataset {
    opportunities: Vec<Opportunity>,
    office_of: HashMap<String, String>,
    sector_of: HashMap<String, String>,
}

fn dataset() -> Dataset {
    let opportunities = read_csv("sales_pipeline.csv")
        .iter()
        .map(|r| Opportunity {
            id: r[0].to_owned(),
            agent: r[1].to_owned(),
            account: r[3].to_owned(),
            stage: r[4].to_owned(),
            engage_date: date(&r[5]),
            close_date: date(&r[6]),
            close_value: r[7].parse().ok(),
        })
        .collect();
    let office_of = read_csv("sales_teams.csv")
        .iter()
        .map(|r| (r[0].to_owned(), r[2].to_owned()))
        .collect();
    let sector_of = read_csv("accounts.csv")
        .iter()
        .map(|r| (r[0].to_owned(), r[1].to_owned()))
        .collect();
    Dataset {
        opportunities,
        office_of,
        sector_of,
    }
}

/// The mapping suggested by the data set's README: agents are AEs in their regional office,
/// `deal_opened` at the engage date, `deal_closed` with the close value at the close date.
fn events(data: &Dataset) -> String {
    let mut lines = Vec::new();
    for (index, (agent, office)) in data
        .office_of
        .iter()
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .enumerate()
    {
        lines.push(
            json!({"event_id": format!("rep-{index}"), "type": "rep_upserted",
            "occurred_at": "2016-10-01T00:00:00Z", "rep_id": agent, "team": office, "role": "ae"}),
        );
    }
    for opportunity in &data.opportunities {
        let industry = data
            .sector_of
            .get(&opportunity.account)
            .cloned()
            .unwrap_or_default();
        if let Some(engaged) = opportunity.engage_date {
            lines.push(json!({"event_id": format!("{}-open", opportunity.id), "type": "deal_opened",
                "occurred_at": noon(engaged), "deal_id": opportunity.id, "rep_id": opportunity.agent,
                "industry": industry}));
        }
        let outcome = match opportunity.stage.as_str() {
            "Won" => "won",
            "Lost" => "lost",
            _ => continue,
        };
        let closed = opportunity
            .close_date
            .expect("closed deals have a close date");
        lines.push(json!({"event_id": format!("{}-close", opportunity.id), "type": "deal_closed",
            "occurred_at": noon(closed), "deal_id": opportunity.id, "rep_id": opportunity.agent,
            "outcome": outcome, "amount": opportunity.close_value.expect("closed deals have a value")}));
    }
    lines.iter().map(|line| format!("{line}\n")).collect()
}

fn replay(events: &str) -> Vec<Sample> {
    let dir = std::env::temp_dir().join(format!("salespulse-crm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("events.jsonl");
    std::fs::write(&file, events).expect("write events");
    let output = Command::new(salespulse_binary())
        .args(["replay", "--events"])
        .arg(&file)
        .env_clear()
        .output()
        .expect("run salespulse replay");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        output.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "nothing is rejected: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_exposition(&String::from_utf8(output.stdout).expect("utf-8 exposition"))
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Tally {
    won: u64,
    lost: u64,
    won_amount: i64,
}

/// Counts closes from the CSV whose close date is in `[from, to]`, grouped by `key`.
fn tally(
    data: &Dataset,
    from: NaiveDate,
    to: NaiveDate,
    key: impl Fn(&Opportunity) -> String,
) -> BTreeMap<String, Tally> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for opportunity in &data.opportunities {
        let Some(closed) = opportunity.close_date else {
            continue;
        };
        if closed < from || closed > to {
            continue;
        }
        let entry = tallies.entry(key(opportunity)).or_default();
        match opportunity.stage.as_str() {
            "Won" => {
                entry.won += 1;
                entry.won_amount += opportunity.close_value.unwrap_or(0);
            }
            "Lost" => entry.lost += 1,
            _ => {}
        }
    }
    tallies
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

#[test]
fn won_and_lost_counts_and_win_rates_match_the_csv() {
    let data = dataset();
    assert_eq!(data.opportunities.len(), 8800);
    let samples = replay(&events(&data));
    // as_of is the latest event, 2017-12-31T12:00Z: the current quarter is Q4 2017.
    let windows = [
        ("quarter", "current", ymd(2017, 10, 1), ymd(2017, 12, 31)),
        ("quarter", "previous", ymd(2017, 7, 1), ymd(2017, 9, 30)),
        ("month", "current", ymd(2017, 12, 1), ymd(2017, 12, 31)),
        ("month", "previous", ymd(2017, 11, 1), ymd(2017, 11, 30)),
        // (2017-10-02T12:00Z, 2017-12-31T12:00Z]: closes at noon from 10-03 on.
        ("90d", "rolling", ymd(2017, 10, 3), ymd(2017, 12, 31)),
    ];
    let mut checked_reps = 0;
    for (period, window, from, to) in windows {
        let expected = tally(&data, from, to, |o| o.agent.clone());
        for (agent, office) in &data.office_of {
            let tally = expected.get(agent).copied().unwrap_or_default();
            let labels = [
                ("rep", agent.as_str()),
                ("team", office.as_str()),
                ("period", period),
                ("window", window),
            ];
            assert_eq!(
                value_of(&samples, "sales_deals_won", &labels),
                Some(tally.won as f64),
                "{agent} {period} {window}"
            );
            assert_eq!(
                value_of(&samples, "sales_deals_lost", &labels),
                Some(tally.lost as f64),
                "{agent} {period} {window}"
            );
            assert_eq!(
                value_of(&samples, "sales_deals_won_amount", &labels),
                Some(tally.won_amount as f64)
            );
            let closed = tally.won + tally.lost;
            let expected_ratio = (closed > 0).then(|| tally.won as f64 / closed as f64);
            assert_eq!(
                value_of(&samples, "sales_win_ratio", &labels),
                expected_ratio,
                "{agent} {period} {window}"
            );
            checked_reps += 1;
        }
        let by_sector = tally(&data, from, to, |o| {
            data.sector_of
                .get(&o.account)
                .cloned()
                .unwrap_or_else(|| "unknown".into())
        });
        for (sector, tally) in &by_sector {
            let labels = [
                ("dimension", "industry"),
                ("value", sector.as_str()),
                ("period", period),
                ("window", window),
            ];
            assert_eq!(
                value_of(&samples, "sales_dimension_deals_won", &labels),
                Some(tally.won as f64),
                "{sector}"
            );
            assert_eq!(
                value_of(&samples, "sales_dimension_deals_lost", &labels),
                Some(tally.lost as f64),
                "{sector}"
            );
            let ratio = tally.won as f64 / (tally.won + tally.lost) as f64;
            assert_eq!(
                value_of(&samples, "sales_dimension_win_ratio", &labels),
                Some(ratio),
                "{sector}"
            );
        }
    }
    assert_eq!(checked_reps, 35 * 5);
    // Lost deals close at 0, which is the `small` band (C18); sizes add up to all closes.
    let q4 = tally(&data, ymd(2017, 10, 1), ymd(2017, 12, 31), |_| {
        String::new()
    })[""];
    let size_total: f64 = ["small", "medium", "large"]
        .iter()
        .filter_map(|size| {
            let labels = [
                ("dimension", "size"),
                ("value", *size),
                ("period", "quarter"),
                ("window", "current"),
            ];
            Some(
                value_of(&samples, "sales_dimension_deals_won", &labels)?
                    + value_of(&samples, "sales_dimension_deals_lost", &labels)?,
            )
        })
        .sum();
    assert_eq!(size_total, (q4.won + q4.lost) as f64);
    assert_eq!((q4.won, q4.lost), (1196, 789));
}
