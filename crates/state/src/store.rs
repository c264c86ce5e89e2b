//! Checkpoint stores: one code path over [`object_store`] for a local directory
//! ([`LocalFileSystem`]) and object storage (`s3://bucket/prefix`, S3-compatible servers).
//!
//! A store holds checkpoints as objects named `checkpoint-<ms>-<suffix>.spck` directly under its
//! prefix ([`CheckpointName`]); it ignores every other object there. Names sort by time, and
//! [`CheckpointStore::write`] always names a new checkpoint later than every one already there,
//! so the newest name is the last checkpoint written even if the clock went back. One writer per
//! prefix: replicas each need their own directory or prefix.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use url::Url;
use xxhash_rust::xxh3::xxh3_64;

use crate::format::{Checkpoint, CheckpointError, decode, read_header};

/// The name of a checkpoint object: `checkpoint-<ms>-<suffix>.spck`, with `<ms>` the Unix
/// milliseconds of its creation, zero-padded to 16 digits, and `<suffix>` 8 lowercase hex digits
/// that tell apart checkpoints of the same millisecond. Ordered by time, then suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckpointName {
    /// Unix milliseconds; at least the checkpoint's creation time (later if the clock went back
    /// since the previous checkpoint).
    pub unix_ms: u64,
    /// Tells apart checkpoints of the same millisecond.
    pub suffix: u32,
}

const NAME_PREFIX: &str = "checkpoint-";
const NAME_EXTENSION: &str = ".spck";

impl fmt::Display for CheckpointName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{NAME_PREFIX}{:016}-{:08x}{NAME_EXTENSION}",
            self.unix_ms, self.suffix
        )
    }
}

impl FromStr for CheckpointName {
    type Err = ();

    /// Parses exactly what [`Display`](fmt::Display) writes (any number of digits for the time).
    fn from_str(name: &str) -> Result<Self, ()> {
        let inner = name
            .strip_prefix(NAME_PREFIX)
            .and_then(|n| n.strip_suffix(NAME_EXTENSION))
            .ok_or(())?;
        let (ms, suffix) = inner.split_once('-').ok_or(())?;
        let digits = |s: &str, hex: bool| {
            !s.is_empty()
                && s.bytes().all(|b| {
                    b.is_ascii_digit() || (hex && b.is_ascii_hexdigit() && b.is_ascii_lowercase())
                })
        };
        if !digits(ms, false) || suffix.len() != 8 || !digits(suffix, true) {
            return Err(());
        }
        Ok(CheckpointName {
            unix_ms: ms.parse().map_err(|_| ())?,
            suffix: u32::from_str_radix(suffix, 16).map_err(|_| ())?,
        })
    }
}

/// What failed in a store, naming the location (directory, bucket and prefix, object).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Neither `[state] dir` nor `[state] url`.
    #[error("no checkpoint location: set a directory or a URL")]
    NoLocation,
    /// Both `[state] dir` and `[state] url`.
    #[error("both a checkpoint directory ({dir}) and a URL ({url}) are set: choose one")]
    BothLocations {
        /// The directory.
        dir: String,
        /// The URL.
        url: String,
    },
    /// The directory could not be created or opened.
    #[error("checkpoint directory {path}: {source}")]
    Directory {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The URL is not one this build can open.
    #[error("checkpoint URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The object store could not be set up for the URL (e.g. a missing bucket name).
    #[error("checkpoint store {url}: {source}")]
    Open {
        /// The URL as given.
        url: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
    /// [`CheckpointStore::write`] was given bytes that are not a valid checkpoint.
    #[error("refusing to write an invalid checkpoint to {location}: {source}")]
    InvalidCheckpoint {
        /// The store.
        location: String,
        /// Why.
        #[source]
        source: CheckpointError,
    },
    /// Listing the checkpoints failed.
    #[error("listing checkpoints in {location}: {source}")]
    List {
        /// The store.
        location: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
    /// Writing a checkpoint failed: nothing was written that could be read as valid.
    #[error("writing checkpoint {location}: {source}")]
    Write {
        /// The object.
        location: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
    /// Reading a listed checkpoint failed (other than it having been deleted since).
    #[error("reading checkpoint {location}: {source}")]
    Read {
        /// The object.
        location: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
    /// Deleting an old checkpoint failed.
    #[error("deleting old checkpoint {location}: {source}")]
    Delete {
        /// The object.
        location: String,
        /// Why.
        #[source]
        source: object_store::Error,
    },
}

/// The outcome of [`CheckpointStore::write`]: the checkpoint is written and durable.
#[derive(Debug)]
pub struct Written {
    /// Its name.
    pub name: CheckpointName,
    /// Its size in bytes.
    pub size: u64,
    /// The older checkpoints deleted to keep the newest `keep`.
    pub pruned: Vec<CheckpointName>,
    /// Deleting an old checkpoint failed (the new one is written all the same; the next write
    /// tries again): worth a warning.
    pub prune_error: Option<StoreError>,
}

/// Why [`CheckpointStore::load_newest_valid`] passed over a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Not loadable: corrupt, truncated, of an unknown format version, not a checkpoint at all.
    Invalid(CheckpointError),
    /// Intact, but made with settings that change results.
    DifferentConfiguration {
        /// The fingerprint of the current settings.
        expected: u64,
        /// The checkpoint's.
        found: u64,
    },
    /// Listed, then gone when read (deleted in between).
    Vanished,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Invalid(error) => error.fmt(f),
            SkipReason::DifferentConfiguration { expected, found } => write!(
                f,
                "made with a different configuration (settings fingerprint {found:#018x}, current {expected:#018x})"
            ),
            SkipReason::Vanished => f.write_str("deleted while being read"),
        }
    }
}

/// A checkpoint newer than the one restored (or, with none restored, any checkpoint) and why it
/// was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its name.
    pub name: CheckpointName,
    /// Why.
    pub reason: SkipReason,
}

/// The result of [`CheckpointStore::load_newest_valid`].
#[derive(Debug)]
pub enum Restored {
    /// The newest checkpoint that decodes and was made with the current settings.
    Found {
        /// Its name.
        name: CheckpointName,
        /// The checkpoint.
        checkpoint: Checkpoint,
        /// Every newer checkpoint, newest first, and why it was not used.
        skipped: Vec<Skipped>,
    },
    /// No usable checkpoint: start from scratch.
    None {
        /// Every checkpoint there is, newest first, and why it was not used (empty for an empty
        /// store).
        skipped: Vec<Skipped>,
    },
}

impl Restored {
    /// The checkpoints passed over, newest first.
    pub fn skipped(&self) -> &[Skipped] {
        match self {
            Restored::Found { skipped, .. } | Restored::None { skipped } => skipped,
        }
    }
}

/// Checkpoints under one prefix of an object store, keeping the newest `keep`.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    keep: usize,
    location: String,
}

impl CheckpointStore {
    /// Opens the store of `[state] dir` or `[state] url` (exactly one of them).
    ///
    /// - `dir`: a local directory, created if missing. Writes are staged in a temporary file,
    ///   fsynced and renamed into place.
    /// - `url`: `s3://bucket/prefix` (also `s3a://`, and the `https://` forms of S3 and R2), with
    ///   the settings of the `AWS_*` environment variables: `AWS_ACCESS_KEY_ID`,
    ///   `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` / `AWS_DEFAULT_REGION`,
    ///   `AWS_ENDPOINT_URL` (S3-compatible servers), `AWS_ALLOW_HTTP=true` (plain HTTP
    ///   endpoints), and the rest that [`object_store::aws::AmazonS3Builder::from_env`] reads
    ///   (without explicit keys, the instance, container or web-identity credentials);
    ///   `file:///path` is the same as `dir`; `memory:///` is an in-process store (tests).
    ///
    /// `keep` is how many checkpoints to keep after each write; at least 1.
    pub fn open(
        dir: Option<&FsPath>,
        url: Option<&str>,
        keep: usize,
    ) -> Result<CheckpointStore, StoreError> {
        match (dir, url) {
            (Some(dir), None) => CheckpointStore::open_dir(dir, keep),
            (None, Some(url)) => {
                let env = std::env::vars_os().filter_map(|(key, value)| {
                    let key = key.into_string().ok()?;
                    let value = value.into_string().ok()?;
                    key.starts_with("AWS_").then_some((key, value))
                });
                CheckpointStore::open_url(url, env, keep)
            }
            (Some(dir), Some(url)) => Err(StoreError::BothLocations {
                dir: dir.display().to_string(),
                url: url.to_owned(),
            }),
            (None, None) => Err(StoreError::NoLocation),
        }
    }

    /// A local directory, created if missing.
    pub fn open_dir(dir: &FsPath, keep: usize) -> Result<CheckpointStore, StoreError> {
        let directory_error = |source| StoreError::Directory {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(directory_error)?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| directory_error(std::io::Error::other(e)))?
            .with_fsync(true);
        Ok(CheckpointStore::new(
            Arc::new(store),
            Path::default(),
            keep,
            dir.display().to_string(),
        ))
    }

    /// The store of a URL (see [`CheckpointStore::open`]), configured by `options` alone: keys
    /// as the `AWS_*` variables (`AWS_ENDPOINT_URL`, `aws_allow_http`...) or their short forms
    /// (`endpoint`, `allow_http`...), case-insensitive; unknown keys are ignored.
    pub fn open_url<K, V>(
        url: &str,
        options: impl IntoIterator<Item = (K, V)>,
        keep: usize,
    ) -> Result<CheckpointStore, StoreError>
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        let invalid = |reason: String| StoreError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        if parsed.scheme() == "file" {
            let dir: PathBuf = parsed
                .to_file_path()
                .map_err(|()| invalid("not a local absolute path".to_owned()))?;
            return CheckpointStore::open_dir(&dir, keep);
        }
        let options: Vec<(String, String)> = options
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_ascii_lowercase(), v.into()))
            .collect();
        let (store, prefix) =
            object_store::parse_url_opts(&parsed, options).map_err(|source| match source {
                object_store::Error::Generic { source, .. }
                    if source.to_string().starts_with("feature for") =>
                {
                    invalid(
                        "unsupported scheme: this build opens s3://, file:// and memory:// URLs"
                            .to_owned(),
                    )
                }
                source => StoreError::Open {
                    url: url.to_owned(),
                    source,
                },
            })?;
        Ok(CheckpointStore::new(
            Arc::from(store),
            prefix,
            keep,
            url.trim_end_matches('/').to_owned(),
        ))
    }

    /// Any object store: checkpoints go directly under `prefix`. `location` names the store in
    /// errors (e.g. `s3://bucket/prefix`).
    pub fn new(
        store: Arc<dyn ObjectStore>,
        prefix: Path,
        keep: usize,
        location: impl Into<String>,
    ) -> CheckpointStore {
        CheckpointStore {
            store,
            prefix,
            keep: keep.max(1),
            location: location.into(),
        }
    }

    /// The store, as named in errors: the directory or the URL.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// How many checkpoints a write keeps.
    pub fn keep(&self) -> usize {
        self.keep
    }

    /// The underlying object store (tests, tools).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Where a checkpoint of that name is, in [`Self::object_store`].
    pub fn path_of(&self, name: &CheckpointName) -> Path {
        self.prefix.clone().join(name.to_string())
    }

    fn describe(&self, name: &CheckpointName) -> String {
        format!("{}/{name}", self.location)
    }

    /// The checkpoints in the store, newest first.
    pub async fn list(&self) -> Result<Vec<CheckpointName>, StoreError> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let listing = self
            .store
            .list_with_delimiter(prefix)
            .await
            .map_err(|source| StoreError::List {
                location: self.location.clone(),
                source,
            })?;
        let mut names: Vec<CheckpointName> = listing
            .objects
            .iter()
            .filter_map(|object| object.location.filename()?.parse().ok())
            .collect();
        names.sort_unstable_by(|a, b| b.cmp(a));
        Ok(names)
    }

    /// Writes an encoded checkpoint ([`crate::encode`]) as a new object, atomically: a reader
    /// sees all of it or nothing (the local directory stages and renames, an object store's PUT
    /// is atomic). Then deletes the oldest checkpoints beyond `keep`. Refuses bytes that do not
    /// verify as a checkpoint ([`crate::read_header`]). Objects in S3 are limited to 5 GiB.
    pub async fn write(&self, bytes: Vec<u8>) -> Result<Written, StoreError> {
        let header = read_header(&bytes).map_err(|source| StoreError::InvalidCheckpoint {
            location: self.location.clone(),
            source,
        })?;
        let existing = self.list().await?;
        let mut unix_ms = u64::try_from(header.created_at_unix_ms).unwrap_or(0);
        if let Some(newest) = existing.first() {
            unix_ms = unix_ms.max(newest.unix_ms.saturating_add(1));
        }
        let name = CheckpointName {
            unix_ms,
            suffix: name_suffix(),
        };
        let path = self.path_of(&name);
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|source| StoreError::Write {
                location: self.describe(&name),
                source,
            })?;

        // `existing` is older than `name`: keep `keep - 1` of it.
        let mut pruned = Vec::new();
        let mut prune_error = None;
        for old in existing.iter().skip(self.keep - 1) {
            match self.store.delete(&self.path_of(old)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => pruned.push(*old),
                Err(source) => {
                    prune_error = Some(StoreError::Delete {
                        location: self.describe(old),
                        source,
                    });
                    break;
                }
            }
        }
        Ok(Written {
            name,
            size: header.total_len,
            pruned,
            prune_error,
        })
    }

    /// Reads a checkpoint's bytes.
    pub async fn read(&self, name: &CheckpointName) -> Result<Vec<u8>, StoreError> {
        Ok(self.fetch(name).await?.to_vec())
    }

    /// Reads a checkpoint's bytes without copying them.
    async fn fetch(&self, name: &CheckpointName) -> Result<Bytes, StoreError> {
        let read_error = |source| StoreError::Read {
            location: self.describe(name),
            source,
        };
        let result = self
            .store
            .get(&self.path_of(name))
            .await
            .map_err(read_error)?;
        result.bytes().await.map_err(read_error)
    }

    /// The newest checkpoint that decodes and whose settings fingerprint is
    /// `expected_fingerprint`, with every newer one and why it was passed over (corrupt,
    /// truncated, unknown format version, different configuration, deleted meanwhile), so the
    /// caller can log why. An error reading a listed checkpoint (other than its absence) is an
    /// error rather than a reason to fall back to an older one.
    pub async fn load_newest_valid(
        &self,
        expected_fingerprint: u64,
    ) -> Result<Restored, StoreError> {
        let mut skipped = Vec::new();
        for name in self.list().await? {
            let bytes = match self.fetch(&name).await {
                Ok(bytes) => bytes,
                Err(StoreError::Read {
                    source: object_store::Error::NotFound { .. },
                    ..
                }) => {
                    skipped.push(Skipped {
                        name,
                        reason: SkipReason::Vanished,
                    });
                    continue;
                }
                Err(error) => return Err(error),
            };
            let reason = match decode(&bytes) {
                Ok(checkpoint) if checkpoint.settings_fingerprint == expected_fingerprint => {
                    return Ok(Restored::Found {
                        name,
                        checkpoint,
                        skipped,
                    });
                }
                Ok(checkpoint) => SkipReason::DifferentConfiguration {
                    expected: expected_fingerprint,
                    found: checkpoint.settings_fingerprint,
                },
                Err(error) => SkipReason::Invalid(error),
            };
            skipped.push(Skipped { name, reason });
        }
        Ok(Restored::None { skipped })
    }
}

/// 32 bits that differ between processes and between calls.
fn name_suffix() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(&nanos.to_le_bytes());
    seed[16..20].copy_from_slice(&std::process::id().to_le_bytes());
    seed[20..28].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    xxh3_64(&seed) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Offsets, encode};
    use std::collections::BTreeMap;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(test: &str) -> TempDir {
            let path = std::env::temp_dir().join(format!(
                "salespulse-state-{test}-{}-{:08x}",
                std::process::id(),
                name_suffix()
            ));
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const FINGERPRINT: u64 = 0xF00D;
    const NO_OPTIONS: [(&str, &str); 0] = [];

    fn checkpoint(created_at: i64, offset: i64, fingerprint: u64) -> Checkpoint {
        let offsets = Offsets::from([("t".to_owned(), BTreeMap::from([(0, offset)]))]);
        Checkpoint::new(
            fingerprint,
            created_at,
            offsets,
            format!("state {offset}").into_bytes(),
        )
    }

    fn found(restored: &Restored) -> (&CheckpointName, &Checkpoint) {
        match restored {
            Restored::Found {
                name, checkpoint, ..
            } => (name, checkpoint),
            Restored::None { skipped } => panic!("nothing restored; skipped {skipped:?}"),
        }
    }

    #[test]
    fn names_format_parse_and_sort() {
        let name = CheckpointName {
            unix_ms: 1_764_500_000_123,
            suffix: 0x00ab_cdef,
        };
        assert_eq!(
            name.to_string(),
            "checkpoint-0001764500000123-00abcdef.spck"
        );
        assert_eq!(name.to_string().parse(), Ok(name));
        assert_eq!(
            "checkpoint-5-0000000a.spck"
                .parse::<CheckpointName>()
                .map(|n| n.unix_ms),
            Ok(5)
        );
        for bad in [
            "checkpoint-0001764500000123-00abcdef.spck#1",
            "checkpoint-0001764500000123-00ABCDEF.spck",
            "checkpoint-0001764500000123-abcdef.spck",
            "checkpoint--00abcdef.spck",
            "checkpoint-+12-00abcdef.spck",
            "checkpoint-99999999999999999999999-00abcdef.spck",
            "checkpoint-12-00abcdef.spck.tmp",
            "notes.txt",
            "",
        ] {
            assert_eq!(bad.parse::<CheckpointName>(), Err(()), "{bad}");
        }
        let older = CheckpointName {
            unix_ms: 999,
            suffix: u32::MAX,
        };
        assert!(older < name);
        assert!(older.to_string() < name.to_string());
    }

    #[test]
    fn empty_store_restores_nothing() {
        let dir = TempDir::new("empty");
        let store = CheckpointStore::open(Some(&dir.0.join("a/b")), None, 3).expect("open");
        assert!(dir.0.join("a/b").is_dir(), "the directory is created");
        runtime().block_on(async {
            assert!(store.list().await.expect("list").is_empty());
            let restored = store.load_newest_valid(FINGERPRINT).await.expect("load");
            assert!(matches!(&restored, Restored::None { skipped } if skipped.is_empty()));
        });
    }

    #[test]
    fn writes_restores_the_newest_and_keeps_the_last_n() {
        let dir = TempDir::new("keep");
        let store = CheckpointStore::open(Some(&dir.0), None, 3).expect("open");
        runtime().block_on(async {
            let mut names = Vec::new();
            for i in 0..5 {
                let written = store
                    .write(encode(&checkpoint(1_000 + i, i, FINGERPRINT)))
                    .await
                    .expect("write");
                assert!(written.prune_error.is_none());
                assert_eq!(written.name.unix_ms, 1_000 + i as u64);
                match i {
                    0..3 => assert!(written.pruned.is_empty()),
                    _ => assert_eq!(written.pruned, [names[i as usize - 3]]),
                }
                names.push(written.name);
            }
            let listed = store.list().await.expect("list");
            assert_eq!(listed, [names[4], names[3], names[2]]);
            let restored = store.load_newest_valid(FINGERPRINT).await.expect("load");
            let (name, restored_checkpoint) = found(&restored);
            assert_eq!(*name, names[4]);
            assert_eq!(*restored_checkpoint, checkpoint(1_004, 4, FINGERPRINT));
            assert!(restored.skipped().is_empty());
        });
        // On disk: exactly the kept files, no staging leftovers.
        let mut files: Vec<String> = std::fs::read_dir(&dir.0)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files.len(), 3, "{files:?}");
        assert!(files.iter().all(|f| f.ends_with(".spck")), "{files:?}");
    }

    #[test]
    fn names_stay_ordered_when_the_clock_goes_back() {
        let dir = TempDir::new("clock");
        let store = CheckpointStore::open(Some(&dir.0), None, 5).expect("open");
        runtime().block_on(async {
            let first = store
                .write(encode(&checkpoint(50_000, 1, FINGERPRINT)))
                .await
                .expect("write");
            let second = store
                .write(encode(&checkpoint(10_000, 2, FINGERPRINT)))
                .await
                .expect("write");
            let third = store
                .write(encode(&checkpoint(-1, 3, FINGERPRINT)))
                .await
                .expect("write");
            assert_eq!(first.name.unix_ms, 50_000);
            assert_eq!(second.name.unix_ms, 50_001);
            assert_eq!(third.name.unix_ms, 50_002);
            let restored = store.load_newest_valid(FINGERPRINT).await.expect("load");
            let (_, newest) = found(&restored);
            assert_eq!(newest.offsets["t"][&0], 3);
            assert_eq!(
                newest.created_at_unix_ms, -1,
                "the checkpoint keeps its own time"
            );
        });
    }

    #[test]
    fn skips_corrupt_and_truncated_newest_with_reasons() {
        let dir = TempDir::new("corrupt");
        let store = CheckpointStore::open(Some(&dir.0), None, 5).expect("open");
        runtime().block_on(async {
            let mut names = Vec::new();
            for i in 0..4 {
                let written = store
                    .write(encode(&checkpoint(2_000 + i, i, FINGERPRINT)))
                    .await
                    .expect("write");
                names.push(written.name);
            }
            // Newest: truncated. Second newest: one byte changed. Third: emptied.
            let path = |name: &CheckpointName| dir.0.join(name.to_string());
            let bytes = std::fs::read(path(&names[3])).expect("read");
            std::fs::write(path(&names[3]), &bytes[..bytes.len() / 2]).expect("truncate");
            let mut bytes = std::fs::read(path(&names[2])).expect("read");
            bytes[40] ^= 0x10;
            std::fs::write(path(&names[2]), &bytes).expect("corrupt");
            std::fs::write(path(&names[1]), b"").expect("empty");
            // Not checkpoints by name: ignored. A staging file of an interrupted write too.
            std::fs::write(dir.0.join("notes.txt"), b"hello").expect("write");
            std::fs::write(dir.0.join(format!("{}#7", names[3])), b"partial").expect("write");
            std::fs::create_dir(dir.0.join("checkpoint-9999999999999999-00000000.spck.d"))
                .expect("mkdir");

            let restored = store.load_newest_valid(FINGERPRINT).await.expect("load");
            let (name, newest) = found(&restored);
            assert_eq!(*name, names[0]);
            assert_eq!(*newest, checkpoint(2_000, 0, FINGERPRINT));
            let skipped = restored.skipped();
            assert_eq!(skipped.len(), 3, "{skipped:?}");
            assert_eq!(skipped[0].name, names[3]);
            assert!(matches!(
                skipped[0].reason,
                SkipReason::Invalid(CheckpointError::Truncated { .. })
            ));
            assert_eq!(skipped[1].name, names[2]);
            assert!(matches!(
                skipped[1].reason,
                SkipReason::Invalid(CheckpointError::ChecksumMismatch { .. })
            ));
            assert_eq!(skipped[2].name, names[1]);
            assert_eq!(
                skipped[2].reason.to_string(),
                "truncated: 0 bytes, too short for a checkpoint header"
            );
            assert!(
                skipped[0].reason.to_string().starts_with("truncated: "),
                "{}",
                skipped[0].reason
            );
            assert!(
                skipped[1]
                    .reason
                    .to_string()
                    .starts_with("corrupt: checksum mismatch")
            );
        });
    }

    #[test]
    fn skips_other_configurations_and_unknown_versions() {
        let dir = TempDir::new("config");
        let store = CheckpointStore::open(Some(&dir.0), None, 5).expect("open");
        runtime().block_on(async {
            let old = store
                .write(encode(&checkpoint(1, 1, FINGERPRINT)))
                .await
                .expect("write");
            let other = store
                .write(encode(&checkpoint(2, 2, 0xBAD)))
                .await
                .expect("write");
            // An intact checkpoint of a future format version, written past `write`'s check.
            let mut future = encode(&checkpoint(3, 3, FINGERPRINT));
            future[8] = 2;
            let checked = future.len() - 8;
            let checksum = xxh3_64(&future[..checked]);
            future[checked..].copy_from_slice(&checksum.to_le_bytes());
            let future_name = CheckpointName {
                unix_ms: 3,
                suffix: 0,
            };
            store
                .object_store()
                .put(&store.path_of(&future_name), PutPayload::from(future))
                .await
                .expect("put");

            let restored = store.load_newest_valid(FINGERPRINT).await.expect("load");
            let (name, _) = found(&restored);
            assert_eq!(*name, old.name);
            let reasons: Vec<(CheckpointName, String)> = restored
                .skipped()
                .iter()
                .map(|s| (s.name, s.reason.to_string()))
                .collect();
            assert_eq!(
                reasons,
                [
                    (
                        future_name,
                        "unknown checkpoint format version 2 (this build reads version 1)"
                            .to_owned()
                    ),
                    (
                        other.name,
                        "made with a different configuration (settings fingerprint 0x0000000000000bad, current 0x000000000000f00d)".to_owned()
                    ),
                ]
            );

            // Under other settings, nothing applies.
            let restored = store.load_newest_valid(0x1234).await.expect("load");
            assert!(matches!(&restored, Restored::None { skipped } if skipped.len() == 3));
        });
    }

    #[test]
    fn refuses_to_write_invalid_bytes() {
        let dir = TempDir::new("invalid");
        let store = CheckpointStore::open(Some(&dir.0), None, 2).expect("open");
        runtime().block_on(async {
            let mut bytes = encode(&checkpoint(1, 1, FINGERPRINT));
            bytes.pop();
            let error = store.write(bytes).await.expect_err("refused");
            assert!(
                matches!(error, StoreError::InvalidCheckpoint { .. }),
                "{error}"
            );
            assert!(error.to_string().contains(&dir.0.display().to_string()));
            assert!(store.list().await.expect("list").is_empty());
        });
    }

    #[test]
    fn futures_are_send() {
        let dir = TempDir::new("send");
        let store = CheckpointStore::open(Some(&dir.0), None, 1).expect("open");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let writer = store.clone();
            tokio::spawn(async move { writer.write(encode(&checkpoint(5, 5, 1))).await })
                .await
                .expect("join")
                .expect("write");
            let restored = tokio::spawn(async move { store.load_newest_valid(1).await })
                .await
                .expect("join")
                .expect("load");
            assert_eq!(found(&restored).1.offsets["t"][&0], 5);
        });
    }

    #[test]
    fn opening_errors_name_what_failed() {
        let no_location = CheckpointStore::open(None, None, 1).expect_err("none");
        assert!(matches!(no_location, StoreError::NoLocation));
        let both = CheckpointStore::open(Some(FsPath::new("/tmp/x")), Some("s3://b/p"), 1)
            .expect_err("both");
        assert!(both.to_string().contains("/tmp/x") && both.to_string().contains("s3://b/p"));

        let dir = TempDir::new("file");
        std::fs::write(&dir.0, b"a file, not a directory").expect("write");
        let not_a_dir = CheckpointStore::open(Some(&dir.0.join("sub")), None, 1).expect_err("file");
        assert!(
            not_a_dir.to_string().starts_with(&format!(
                "checkpoint directory {}",
                dir.0.join("sub").display()
            )),
            "{not_a_dir}"
        );

        let unsupported =
            CheckpointStore::open_url("gs://bucket/p", NO_OPTIONS, 1).expect_err("gcs not built");
        assert_eq!(
            unsupported.to_string(),
            "checkpoint URL \"gs://bucket/p\": unsupported scheme: this build opens s3://, file:// and memory:// URLs"
        );
        let garbage = CheckpointStore::open_url("not a url", NO_OPTIONS, 1).expect_err("garbage");
        assert!(
            matches!(garbage, StoreError::InvalidUrl { .. }),
            "{garbage}"
        );
    }

    #[test]
    fn file_and_memory_urls_open() {
        let dir = TempDir::new("fileurl");
        let url = format!("file://{}", dir.0.join("state").display());
        let store = CheckpointStore::open_url(&url, NO_OPTIONS, 2).expect("file url");
        assert!(dir.0.join("state").is_dir());
        let memory =
            CheckpointStore::open_url("memory:///some/prefix", NO_OPTIONS, 2).expect("memory");
        runtime().block_on(async {
            for store in [store, memory] {
                store
                    .write(encode(&checkpoint(7, 7, FINGERPRINT)))
                    .await
                    .expect("write");
                let restored = store.load_newest_valid(FINGERPRINT).await.expect("load");
                assert_eq!(found(&restored).1.created_at_unix_ms, 7);
            }
        });
    }

    #[test]
    fn s3_urls_open_without_network() {
        let store = CheckpointStore::open_url(
            "s3://bucket/some/prefix/",
            [
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
                ("aws_allow_http", "true"),
                ("AWS_ACCESS_KEY_ID", "k"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
            ],
            3,
        )
        .expect("s3 url");
        assert_eq!(store.location(), "s3://bucket/some/prefix");
        let name = CheckpointName {
            unix_ms: 1,
            suffix: 2,
        };
        assert_eq!(
            store.path_of(&name).as_ref(),
            "some/prefix/checkpoint-0000000000000001-00000002.spck"
        );
        let no_bucket =
            CheckpointStore::open_url("s3:///prefix", NO_OPTIONS, 1).expect_err("no bucket");
        assert!(
            no_bucket.to_string().contains("s3:///prefix"),
            "{no_bucket}"
        );
    }
}
