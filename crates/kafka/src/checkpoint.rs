//! Checkpoint coordination: restoring the newest valid checkpoint on start, and deciding when
//! to take one (every `interval`, after `every_messages` input messages, after a revocation and
//! at shutdown). The engine state and the offsets it covers are captured together on the
//! ingestion thread; only the upload runs elsewhere.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use salespulse_engine::{Engine, Settings};
use salespulse_events::Timestamp;
use salespulse_state::{
    Checkpoint, CheckpointStore, Offsets, Restored, StoreError, Written, encode,
};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::errors::Stage;
use crate::status::Status;

/// Where checkpoints go and how often (`[state]`).
#[derive(Debug, Clone)]
pub struct CheckpointSettings {
    /// The local directory, used unless `url` is set.
    pub dir: PathBuf,
    /// Object storage instead (`s3://bucket/prefix`).
    pub url: Option<String>,
    pub interval: Duration,
    pub every_messages: u64,
    pub keep: usize,
}

impl CheckpointSettings {
    /// Opens the configured store.
    pub fn open(&self) -> Result<CheckpointStore, StoreError> {
        match &self.url {
            Some(url) => CheckpointStore::open(None, Some(url), self.keep),
            None => CheckpointStore::open(Some(&self.dir), None, self.keep),
        }
    }
}

/// What a start begins from: a restored engine and the offsets it covers, or a fresh engine
/// that rebuilds from the earliest offsets.
pub(crate) struct Start {
    pub(crate) engine: Engine,
    pub(crate) covered: Offsets,
}

impl Start {
    /// Nothing restored: rebuild from the earliest offsets.
    pub(crate) fn fresh(settings: &Settings, now: Timestamp) -> Start {
        Start {
            engine: Engine::new(settings.clone(), now),
            covered: Offsets::new(),
        }
    }
}

/// Restores the newest checkpoint that is intact and was made under the same configuration
/// (`fingerprint`: the engine settings, the group and the topics); logs why each newer one was
/// passed over. Any failure falls back to a fresh engine: a checkpoint is an optimisation of
/// the rebuild, never a reason not to start.
pub(crate) fn restore(
    store: &CheckpointStore,
    runtime: &Handle,
    settings: &Settings,
    fingerprint: u64,
    now: Timestamp,
    status: &Status,
) -> Start {
    let fresh = |settings: &Settings| Start::fresh(settings, now);
    let started = Instant::now();
    let restored = match runtime.block_on(store.load_newest_valid(fingerprint)) {
        Ok(restored) => restored,
        Err(error) => {
            error!(store = store.location(), %error, "cannot read the checkpoints; rebuilding from the earliest offsets");
            return fresh(settings);
        }
    };
    for skipped in restored.skipped() {
        warn!(checkpoint = %skipped.name, reason = %skipped.reason, "checkpoint not used");
    }
    let Restored::Found {
        name, checkpoint, ..
    } = restored
    else {
        info!(
            store = store.location(),
            "no usable checkpoint; rebuilding from the earliest offsets"
        );
        return fresh(settings);
    };
    match Engine::restore_state(settings.clone(), &checkpoint.engine_state) {
        Ok(mut engine) => {
            engine.advance_clock(now);
            status.record_restored_checkpoint(checkpoint.created_at_unix_ms);
            info!(
                checkpoint = %name,
                partitions = checkpoint.offsets.values().map(|p| p.len()).sum::<usize>(),
                bytes = checkpoint.engine_state.len(),
                seconds = started.elapsed().as_secs_f64(),
                "restored the state from a checkpoint"
            );
            Start {
                engine,
                covered: checkpoint.offsets,
            }
        }
        Err(error) => {
            warn!(checkpoint = %name, %error, "checkpoint not used: its engine state does not load; rebuilding from the earliest offsets");
            fresh(settings)
        }
    }
}

/// A checkpoint for the message count waits at least this many times what the last capture took
/// since that capture, so captures take at most about a tenth of the applying thread. During a
/// backfill the state, and with it each capture, grows with every checkpoint: without this, the
/// captures of `n` checkpoints cost in proportion to `n²` (5 M events at 1 M each: about a
/// sixth of the time), with it in proportion to the events.
const CAPTURE_SHARE: u32 = 10;

/// Whether a checkpoint is due, `since_last` the last capture, which took `capture_cost`, and
/// `messages` input messages after it: the interval passed, or enough messages arrived and the
/// capture's share allows it. Never without a message.
fn checkpoint_due(
    messages: u64,
    every_messages: u64,
    since_last: Duration,
    interval: Duration,
    capture_cost: Duration,
) -> bool {
    messages > 0
        && (since_last >= interval
            || (messages >= every_messages && since_last >= capture_cost * CAPTURE_SHARE))
}

/// An upload in progress.
struct InFlight {
    started: Instant,
    task: JoinHandle<Result<Written, StoreError>>,
}

/// Decides when to checkpoint and writes checkpoints without blocking ingestion.
pub(crate) struct Checkpointer {
    store: CheckpointStore,
    runtime: Handle,
    fingerprint: u64,
    interval: Duration,
    every_messages: u64,
    messages_since: u64,
    last_taken: Instant,
    /// What capturing the last checkpoint took, on the applying thread.
    capture_cost: Duration,
    in_flight: Option<InFlight>,
    status: Arc<Status>,
}

impl Checkpointer {
    pub(crate) fn new(
        store: CheckpointStore,
        runtime: Handle,
        settings: &CheckpointSettings,
        fingerprint: u64,
        status: Arc<Status>,
    ) -> Checkpointer {
        Checkpointer {
            store,
            runtime,
            fingerprint,
            interval: settings.interval,
            every_messages: settings.every_messages,
            messages_since: 0,
            last_taken: Instant::now(),
            capture_cost: Duration::ZERO,
            in_flight: None,
            status,
        }
    }

    /// One more input message is applied.
    pub(crate) fn count_message(&mut self) {
        self.messages_since += 1;
    }

    /// Whether a periodic checkpoint is due (see [`checkpoint_due`]). Never while the last
    /// upload still runs.
    pub(crate) fn due(&mut self) -> bool {
        self.reap();
        self.in_flight.is_none()
            && checkpoint_due(
                self.messages_since,
                self.every_messages,
                self.last_taken.elapsed(),
                self.interval,
                self.capture_cost,
            )
    }

    /// Captures `engine` and the offsets it covers and writes them: in the background, or,
    /// with `wait`, before returning (at shutdown). The capture happens here, on the ingestion
    /// thread, so state and offsets always agree; framing and checksumming the bytes (a copy of
    /// them all) happen with the upload, off it.
    pub(crate) fn take(&mut self, engine: &Engine, covered: &Offsets, wait: bool) {
        if let Some(in_flight) = self.in_flight.take() {
            // A newer checkpoint supersedes it, but the store must see them in order.
            self.wait_for(in_flight);
        }
        let started = Instant::now();
        let checkpoint = Checkpoint::new(
            self.fingerprint,
            chrono::Utc::now().timestamp_millis(),
            covered.clone(),
            engine.save_state(),
        );
        self.messages_since = 0;
        self.last_taken = Instant::now();
        self.capture_cost = started.elapsed();
        let store = self.store.clone();
        let task = self.runtime.spawn_blocking(move || {
            let bytes = encode(&checkpoint);
            drop(checkpoint);
            Handle::current().block_on(store.write(bytes))
        });
        let in_flight = InFlight { started, task };
        if wait {
            self.wait_for(in_flight);
        } else {
            self.in_flight = Some(in_flight);
        }
    }

    /// Records a finished upload, if any.
    fn reap(&mut self) {
        if self
            .in_flight
            .as_ref()
            .is_some_and(|in_flight| in_flight.task.is_finished())
            && let Some(in_flight) = self.in_flight.take()
        {
            self.wait_for(in_flight);
        }
    }

    /// Waits for an upload to end and records how it went.
    fn wait_for(&self, in_flight: InFlight) {
        // The upload in flight is always of the last capture.
        let InFlight { started, task } = in_flight;
        let result = self.runtime.block_on(task);
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(Ok(written)) => {
                self.status.record_checkpoint(seconds);
                info!(
                    checkpoint = %written.name,
                    bytes = written.size,
                    seconds,
                    capture_seconds = self.capture_cost.as_secs_f64(),
                    "checkpoint written (ingestion paused for the capture)"
                );
                if let Some(error) = written.prune_error {
                    warn!(%error, "could not delete an old checkpoint");
                }
            }
            Ok(Err(error)) => {
                self.status.errors.record(Stage::Checkpoint);
                error!(store = self.store.location(), %error, "checkpoint failed; the next one is tried at the next interval");
            }
            Err(error) => {
                self.status.errors.record(Stage::Checkpoint);
                error!(%error, "the checkpoint upload panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY: u64 = 1_000_000;
    const INTERVAL: Duration = Duration::from_secs(60);

    fn due(messages: u64, since_last_ms: u64, capture_ms: u64) -> bool {
        let ms = Duration::from_millis;
        checkpoint_due(messages, EVERY, ms(since_last_ms), INTERVAL, ms(capture_ms))
    }

    #[test]
    fn enough_messages_make_a_checkpoint_due_once_ten_captures_long_passed() {
        assert!(due(EVERY, 1_000, 100));
        assert!(!due(EVERY - 1, 1_000, 100));
        // A capture of 0.6 s: not before 6 s after it, however many messages came.
        assert!(!due(3 * EVERY, 5_999, 600));
        assert!(due(3 * EVERY, 6_000, 600));
    }

    #[test]
    fn the_interval_makes_a_checkpoint_due_whatever_the_capture_took() {
        assert!(due(1, 60_000, 0));
        assert!(due(1, 60_000, 30_000));
        assert!(!due(1, 59_999, 0));
    }

    #[test]
    fn nothing_is_due_without_a_message() {
        assert!(!due(0, 600_000, 0));
    }
}
