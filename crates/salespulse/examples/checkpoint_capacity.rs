//! Checkpoint write and restore time, state size and memory for N simulated events (issue 6).
//! The figures are in BENCHMARKS.md ("Durable state") and docs/capacity.md.
//!
//! ```sh
//! cargo run --release -p salespulse --example checkpoint_capacity -- --teams 10 --events 1000000
//! cargo run --release -p salespulse --example checkpoint_capacity -- --teams 200 --events 10000000
//! ```
//!
//! What it does, in one process plus one child process:
//!
//! 1. Generates `--events` simulator events (the roster first) for a floor of `--teams` teams
//!    (6 reps each) at the pace of `salespulse demo`'s sales floor (4 leads per BDR an hour),
//!    starting so that the last event lands near `--as-of` (up to three passes of the generator
//!    alone, untimed, find that start).
//! 2. Ingests them (JSON decode included) into an `Engine` with default settings, advancing the
//!    clock to each event's time before it, as the service's clock follows the wall clock. Only
//!    the engine calls are timed (the generator runs between batches).
//! 3. Advances the clock to `--as-of`, then times `Engine::save_state`, `salespulse_state::encode`
//!    (with an offsets map of 5 topics × 6 partitions) and `CheckpointStore::write` to a local
//!    directory (staged file, fsync, rename, prune: the service's path).
//! 4. Drops the engine, evicts the checkpoint file from the page cache (`dd iflag=nocache`), and
//!    starts itself again as a child that times `load_newest_valid` (read, checksum, decode) and
//!    `Engine::restore_state`, and reports its own peak RSS: a restarting service's cost.
//! 5. Restores again in this process (warm page cache) and asserts that the restored snapshot
//!    equals the original one, and that the child's snapshot and re-saved state are identical.
//!
//! Peak RSS is `VmHWM` of `/proc/self/status`; between phases it is reset through
//! `/proc/self/clear_refs`, so each phase reports its own peak.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, TimeDelta, Utc};
use salespulse_engine::{Engine, IngestOutcome, Settings, Snapshot};
use salespulse_sim::{SimConfig, SimEvent, Simulator};
use salespulse_state::{Checkpoint, CheckpointStore, Offsets, Restored, encode};

/// The service's allocator, so that memory figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events generated per batch: generation runs between batches, ingestion is timed per batch.
const BATCH: usize = 8_192;
/// Partitions per topic in the offsets map of the checkpoint.
const PARTITIONS: i32 = 6;
/// Checkpoints kept by the store (the service's default).
const KEEP: usize = 3;
const CHILD_FLAG: &str = "--restore-child";
/// Generation passes at most to find the start (the last one's result is used as it is).
const SPAN_PASSES: usize = 3;

#[derive(Debug)]
struct Args {
    teams: usize,
    events: u64,
    seed: u64,
    as_of: DateTime<Utc>,
    dir: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<(Args, bool)> {
    let mut args = Args {
        teams: 10,
        events: 1_000_000,
        seed: 7,
        // Two days before a quarter ends: the per-rep windows reach back to the start of the
        // previous quarter, so the kept state is near its largest in the quarterly cycle.
        as_of: "2026-12-30T12:00:00Z".parse()?,
        dir: None,
    };
    let mut child = false;
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let mut value = || iter.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--teams" => args.teams = value()?.parse()?,
            "--events" => args.events = value()?.replace('_', "").parse()?,
            "--seed" => args.seed = value()?.parse()?,
            "--as-of" => args.as_of = value()?.parse()?,
            "--dir" => args.dir = Some(PathBuf::from(value()?)),
            CHILD_FLAG => child = true,
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            other => bail!(
                "unknown argument {other}; use --teams N --events N [--seed S] [--as-of T] [--dir D]"
            ),
        }
    }
    Ok((args, child))
}

/// The demo's sales floor (`sales_floor` in `src/simulate.rs`) with `teams` teams.
fn floor(seed: u64, start: DateTime<Utc>, teams: usize) -> SimConfig {
    SimConfig {
        seed,
        start,
        teams,
        leads_per_hour: 4.0,
        ..SimConfig::default()
    }
}

fn all_events(simulator: Simulator) -> impl Iterator<Item = SimEvent> {
    simulator.roster_events().into_iter().chain(simulator)
}

/// `VmHWM` or `VmRSS` of this process, in bytes.
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn peak_rss() -> u64 {
    proc_status("VmHWM")
}

fn rss() -> u64 {
    proc_status("VmRSS")
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0); false when the kernel refuses.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

fn snapshot_hash(snapshot: &Snapshot) -> u64 {
    let mut hasher = DefaultHasher::new();
    format!("{snapshot:?}").hash(&mut hasher);
    hasher.finish()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// What a restore costs, measured in the process that does it.
#[derive(Debug)]
struct RestoreFigures {
    load: Duration,
    restore: Duration,
    peak_rss: u64,
    rss_after: u64,
    snapshot_hash: u64,
    same_state: bool,
}

/// Loads the newest valid checkpoint of `dir` and restores the engine from it.
fn restore(dir: &Path) -> anyhow::Result<(Engine, Checkpoint, Duration, Duration)> {
    let runtime = runtime()?;
    let store = CheckpointStore::open_dir(dir, KEEP)?;
    let settings = Settings::default();
    let started = Instant::now();
    let restored = runtime.block_on(store.load_newest_valid(settings.fingerprint()))?;
    let Restored::Found { checkpoint, .. } = restored else {
        bail!("no valid checkpoint in {}", dir.display());
    };
    let load = started.elapsed();
    let started = Instant::now();
    let engine = Engine::restore_state(settings, &checkpoint.engine_state)?;
    let restore = started.elapsed();
    Ok((engine, checkpoint, load, restore))
}

/// The child: restore, report, and check that the state saves to the same bytes again.
fn child(dir: &Path) -> anyhow::Result<()> {
    let (engine, checkpoint, load, restore) = restore(dir)?;
    let peak_rss = peak_rss();
    let same_state = engine.save_state() == checkpoint.engine_state;
    let snapshot_hash = snapshot_hash(&engine.snapshot());
    drop(checkpoint);
    let rss_after = rss();
    println!(
        "CHILD {} {} {peak_rss} {rss_after} {snapshot_hash} {same_state}",
        load.as_nanos(),
        restore.as_nanos()
    );
    Ok(())
}

fn run_child(dir: &Path) -> anyhow::Result<RestoreFigures> {
    let output = Command::new(std::env::current_exe()?)
        .arg(CHILD_FLAG)
        .arg("--dir")
        .arg(dir)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "the restoring child failed: {}{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("CHILD "))
        .context("no CHILD line from the child")?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    ensure!(fields.len() == 6, "bad CHILD line: {line}");
    let nanos = |s: &str| -> anyhow::Result<Duration> { Ok(Duration::from_nanos(s.parse()?)) };
    Ok(RestoreFigures {
        load: nanos(fields[0])?,
        restore: nanos(fields[1])?,
        peak_rss: fields[2].parse()?,
        rss_after: fields[3].parse()?,
        snapshot_hash: fields[4].parse()?,
        same_state: fields[5].parse()?,
    })
}

/// Asks the kernel to drop the file from the page cache, so the child reads it from disk;
/// returns how much of it is still cached (from `fincore`), when that can be told.
fn evict_from_page_cache(path: &Path) -> Option<String> {
    let mut if_arg = std::ffi::OsString::from("if=");
    if_arg.push(path);
    let evicted = Command::new("dd")
        .arg(if_arg)
        .args(["iflag=nocache", "count=0", "status=none"])
        .status()
        .is_ok_and(|status| status.success());
    if !evicted {
        return None;
    }
    let output = Command::new("fincore")
        .args(["--noheadings", "--bytes", "--output", "RES"])
        .arg(path)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn main() -> anyhow::Result<()> {
    let (args, is_child) = parse_args()?;
    if is_child {
        let dir = args.dir.context("the child needs --dir")?;
        return child(&dir);
    }
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "salespulse-checkpoint-bench-{}",
            std::process::id()
        ))
    });
    let count = usize::try_from(args.events)?;

    // 1. The start from which `count` events end at as-of: a pass measures where they end, the
    // start moves by the overshoot (the stream is not quite invariant under a shift: monthly
    // spend, month lengths, a growing customer base), until the end is within an hour.
    let started = Instant::now();
    let mut start = args.as_of - TimeDelta::days(365);
    for _ in 0..SPAN_PASSES {
        let last = all_events(Simulator::new(floor(args.seed, start, args.teams)))
            .take(count)
            .map(|event| event.occurred_at)
            .max()
            .context("no events")?;
        let overshoot = last - args.as_of;
        if overshoot.abs() <= TimeDelta::hours(1) {
            break;
        }
        start -= overshoot;
    }
    let span_pass = started.elapsed();

    // 2. Generate and ingest.
    let simulator = Simulator::new(floor(args.seed, start, args.teams));
    let reps_on_roster = simulator.roster_events().len();
    let mut events = all_events(simulator).take(count);
    let settings = Settings::default();
    let fingerprint = settings.fingerprint();
    let mut engine = Engine::new(settings, start);
    let mut per_topic: BTreeMap<&'static str, i64> = BTreeMap::new();
    let (mut accepted, mut duplicates, mut rejected) = (0u64, 0u64, 0u64);
    let mut last_event = start;
    let recent_from = args.as_of - TimeDelta::days(30);
    let mut recent = 0u64;
    let mut ingest = Duration::ZERO;
    let mut batch = Vec::with_capacity(BATCH);
    let whole = Instant::now();
    loop {
        batch.clear();
        batch.extend(events.by_ref().take(BATCH));
        if batch.is_empty() {
            break;
        }
        let started = Instant::now();
        for event in &batch {
            engine.advance_clock(event.occurred_at);
            match engine.ingest(&event.payload) {
                IngestOutcome::Accepted(_) => accepted += 1,
                IngestOutcome::Duplicate => duplicates += 1,
                IngestOutcome::Rejected(_) => rejected += 1,
            }
        }
        ingest += started.elapsed();
        for event in &batch {
            *per_topic.entry(event.topic).or_default() += 1;
            last_event = last_event.max(event.occurred_at);
            recent += u64::from(event.occurred_at >= recent_from);
        }
    }
    let generate_and_ingest = whole.elapsed();
    let ingest_peak_rss = peak_rss();
    engine.advance_clock(args.as_of);
    let ingested_rss = rss();
    let sizes = engine.state_sizes();
    let started = Instant::now();
    let original = engine.snapshot();
    let snapshot_time = started.elapsed();
    let span_days = (last_event - start).num_seconds() as f64 / 86_400.0;
    // Events per day of the last 30 days (all of them when the run is shorter).
    let recent_per_day = recent as f64 / span_days.min(30.0);

    // 3. Checkpoint: save, encode, write.
    let peak_reset = reset_peak_rss();
    let started = Instant::now();
    let state = engine.save_state();
    let save_time = started.elapsed();
    let state_bytes = state.len() as u64;
    let offsets: Offsets = per_topic
        .iter()
        .map(|(topic, messages)| {
            let partitions = (0..PARTITIONS)
                .map(|partition| {
                    let share = messages / i64::from(PARTITIONS)
                        + i64::from(i64::from(partition) < messages % i64::from(PARTITIONS));
                    (partition, share)
                })
                .collect();
            ((*topic).to_owned(), partitions)
        })
        .collect();
    let checkpoint = Checkpoint::new(fingerprint, Utc::now().timestamp_millis(), offsets, state);
    let started = Instant::now();
    let bytes = encode(&checkpoint);
    let encode_time = started.elapsed();
    drop(checkpoint);
    let runtime = runtime()?;
    let store = CheckpointStore::open_dir(&dir, KEEP)?;
    let started = Instant::now();
    let written = runtime.block_on(store.write(bytes))?;
    let write_time = started.elapsed();
    let checkpoint_peak_rss = peak_rss();
    let file = dir.join(written.name.to_string());
    drop(engine);
    drop(runtime);

    // 4. Restore in a fresh process, from disk.
    let cached_after_eviction = evict_from_page_cache(&file);
    let cold = run_child(&dir)?;

    // 5. Restore here (warm page cache) and compare.
    let (restored, checkpoint, warm_load, warm_restore) = restore(&dir)?;
    let restored_snapshot = restored.snapshot();
    assert!(
        restored_snapshot == original,
        "the restored snapshot differs from the original"
    );
    assert_eq!(
        cold.snapshot_hash,
        snapshot_hash(&original),
        "the child's restored snapshot differs from the original"
    );
    assert!(
        cold.same_state,
        "the child's restored engine saves to other bytes"
    );
    assert_eq!(
        restored.save_state(),
        checkpoint.engine_state,
        "the restored engine saves to other bytes"
    );
    drop((restored, checkpoint));
    if args.dir.is_none() {
        std::fs::remove_dir_all(&dir)?;
    }

    let reps = original.reps.len();
    println!(
        "checkpoint_capacity: {} teams, {} events, seed {}, as-of {}",
        args.teams, count, args.seed, args.as_of
    );
    println!("  roster                    {reps_on_roster} reps; {reps} reps in the snapshot");
    println!(
        "  event time                {} .. {} = {span_days:.1} days, {:.0} events/day on average, {recent_per_day:.0} in the last 30 days",
        start.format("%Y-%m-%d %H:%M"),
        last_event.format("%Y-%m-%d %H:%M"),
        count as f64 / span_days
    );
    println!(
        "  outcomes                  {accepted} accepted, {duplicates} duplicates, {rejected} rejected"
    );
    println!(
        "  state sizes               reps {} contacts {} activity_facts {} leads {} deals {} customers {} event_ids {} pending {}",
        sizes.reps,
        sizes.contacts,
        sizes.activity_facts,
        sizes.leads,
        sizes.deals,
        sizes.customers,
        sizes.event_ids,
        sizes.pending
    );
    println!(
        "  span passes               {:.1} s (generation only, not counted)",
        secs(span_pass)
    );
    println!(
        "  ingest (decode + apply)   {:.2} s = {:.0} events/s (generation and ingestion together {:.1} s)",
        secs(ingest),
        count as f64 / secs(ingest),
        secs(generate_and_ingest)
    );
    println!("  snapshot                  {:.3} s", secs(snapshot_time));
    println!(
        "  RSS                       peak while ingesting {:.0} MB; after ingesting {:.0} MB; peak while checkpointing {:.0} MB{}",
        mb(ingest_peak_rss),
        mb(ingested_rss),
        mb(checkpoint_peak_rss),
        if peak_reset {
            ""
        } else {
            " (peak not reset: includes ingestion)"
        }
    );
    println!(
        "  engine state              {:.1} MB ({:.1} bytes/event); checkpoint file {:.1} MB",
        mb(state_bytes),
        state_bytes as f64 / count as f64,
        mb(written.size)
    );
    println!(
        "  checkpoint                save_state {:.3} s + encode {:.3} s + write (fsync, rename) {:.3} s = {:.3} s",
        secs(save_time),
        secs(encode_time),
        secs(write_time),
        secs(save_time + encode_time + write_time)
    );
    println!(
        "  restore, fresh process    load (read, checksum, decode) {:.3} s + restore_state {:.3} s = {:.3} s; peak RSS {:.0} MB, RSS after {:.0} MB; page cache after eviction: {}",
        secs(cold.load),
        secs(cold.restore),
        secs(cold.load + cold.restore),
        mb(cold.peak_rss),
        mb(cold.rss_after),
        cached_after_eviction.as_deref().unwrap_or("unknown")
    );
    println!(
        "  restore, warm, in-process load {:.3} s + restore_state {:.3} s = {:.3} s",
        secs(warm_load),
        secs(warm_restore),
        secs(warm_load + warm_restore)
    );
    println!(
        "  check                     restored snapshot == original (in-process and child); re-saved state identical"
    );
    println!(
        "| {} | {reps} | {count} | {:.0} | {recent_per_day:.0} | {:.1} | {} | {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.0} |",
        args.teams,
        count as f64 / span_days,
        span_days,
        sizes.contacts,
        sizes.leads,
        sizes.deals,
        sizes.customers,
        secs(ingest),
        mb(ingest_peak_rss),
        mb(state_bytes),
        secs(save_time),
        secs(encode_time),
        secs(write_time),
        secs(cold.load),
        secs(cold.restore),
        mb(cold.peak_rss),
        mb(cold.rss_after),
    );
    Ok(())
}
