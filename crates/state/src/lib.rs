//! Durable state for salespulse: the checkpoint file format ([`encode`], [`decode`]) and the
//! stores that keep checkpoints ([`CheckpointStore`]: a local directory or object storage).
//!
//! A checkpoint is the engine's serialized state (opaque bytes here), the input offsets it
//! covers, the fingerprint of the settings it was computed under and its creation time. The
//! service writes one periodically and on shutdown, and on start restores the newest one that
//! is intact and was made under the same settings:
//!
//! ```no_run
//! # async fn example(engine_state: Vec<u8>, fingerprint: u64) -> Result<(), Box<dyn std::error::Error>> {
//! use salespulse_state::{Checkpoint, CheckpointStore, Offsets, Restored, encode};
//!
//! let store = CheckpointStore::open(Some(std::path::Path::new("/var/lib/salespulse")), None, 3)?;
//! match store.load_newest_valid(fingerprint).await? {
//!     Restored::Found { name, checkpoint, skipped } => { /* log `skipped`, seek to checkpoint.offsets */ }
//!     Restored::None { skipped } => { /* log `skipped`, rebuild from the earliest offsets */ }
//! }
//! let checkpoint = Checkpoint::new(fingerprint, 1_764_500_000_000, Offsets::new(), engine_state);
//! let written = store.write(encode(&checkpoint)).await?;
//! # Ok(()) }
//! ```

mod format;
mod store;

pub use format::{
    Checkpoint, CheckpointError, CheckpointHeader, FORMAT_VERSION, MAGIC, Offsets, decode, encode,
    read_header,
};
pub use store::{
    CheckpointName, CheckpointStore, Restored, SkipReason, Skipped, StoreError, Written,
};
