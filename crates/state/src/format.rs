//! The checkpoint file format: one self-checking byte string per checkpoint.
//!
//! All integers are little-endian. A checkpoint is an *envelope*, the same for every format
//! version, around a *body* whose layout the format version names:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic bytes [`MAGIC`], `b"SPCKPT\r\n"` |
//! | 8 | 4 | format version, `u32` ([`FORMAT_VERSION`] = 1) |
//! | 12 | 8 | total length of the checkpoint in bytes, this header and the checksum included, `u64` |
//! | 20 | n | body |
//! | 20 + n | 8 | xxh3-64 (seed 0) of every byte before it, `u64` |
//!
//! Body of format version 1:
//!
//! | field | encoding |
//! |---|---|
//! | settings fingerprint | `u64` |
//! | created at, Unix milliseconds | `i64` |
//! | topic count | `u64`, then per topic in ascending byte order of the name: |
//! | &nbsp;&nbsp;topic name | `u64` length, then that many bytes of UTF-8 |
//! | &nbsp;&nbsp;partition count | `u64`, then per partition in ascending order: `i32` partition, `i64` next offset to read |
//! | engine state | `u64` length, then that many opaque bytes |
//!
//! The body must end exactly where the checksum starts. [`decode`] checks, in this order: the
//! magic ([`CheckpointError::NotACheckpoint`]; a short input that is a prefix of the magic is
//! [`CheckpointError::Truncated`]), the minimum length, the checksum (a failed checksum is
//! [`CheckpointError::Truncated`] when the declared total length is larger than the input,
//! [`CheckpointError::ChecksumMismatch`] otherwise), the format version
//! ([`CheckpointError::UnknownVersion`]), then the body ([`CheckpointError::Malformed`]). Every
//! count and length read from the input is checked against the bytes that remain before anything
//! is allocated, so no input makes it allocate more than about the input's size, and no input
//! makes it panic.
//!
//! A future format version keeps the envelope and changes only the body, so that older builds
//! report "unknown format version N" for it rather than a corrupt file.

use std::collections::BTreeMap;
use std::fmt;

use xxhash_rust::xxh3::xxh3_64;

/// The first eight bytes of every checkpoint.
pub const MAGIC: [u8; 8] = *b"SPCKPT\r\n";

/// The format version [`encode`] writes and the only one [`decode`] reads.
pub const FORMAT_VERSION: u32 = 1;

/// Magic, format version and total length.
const HEADER_LEN: usize = 8 + 4 + 8;
/// The trailing checksum.
const CHECKSUM_LEN: usize = 8;
/// The shortest input that can hold an envelope (with an empty body).
const MIN_LEN: usize = HEADER_LEN + CHECKSUM_LEN;

/// Input offsets: topic → partition → the next offset to read in that partition.
pub type Offsets = BTreeMap<String, BTreeMap<i32, i64>>;

/// The engine's state and the input offsets it covers, as written to and read from a store.
#[derive(Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The format version this checkpoint was read in. [`encode`] always writes
    /// [`FORMAT_VERSION`], whatever this says; [`Checkpoint::new`] sets it to that.
    pub format_version: u32,
    /// A hash of the settings that change results (time zone, week start, fiscal year, SLA...):
    /// a checkpoint made under other settings must not be loaded.
    pub settings_fingerprint: u64,
    /// When the checkpoint was taken, Unix milliseconds.
    pub created_at_unix_ms: i64,
    /// Topic → partition → next offset to read: what the engine state covers.
    pub offsets: Offsets,
    /// The engine's serialized state, opaque to this crate.
    pub engine_state: Vec<u8>,
}

impl Checkpoint {
    /// A checkpoint in the current [`FORMAT_VERSION`].
    pub fn new(
        settings_fingerprint: u64,
        created_at_unix_ms: i64,
        offsets: Offsets,
        engine_state: Vec<u8>,
    ) -> Checkpoint {
        Checkpoint {
            format_version: FORMAT_VERSION,
            settings_fingerprint,
            created_at_unix_ms,
            offsets,
            engine_state,
        }
    }
}

/// Shows the size of the engine state, not its bytes (it can be hundreds of megabytes).
impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("format_version", &self.format_version)
            .field(
                "settings_fingerprint",
                &format_args!("{:#018x}", self.settings_fingerprint),
            )
            .field("created_at_unix_ms", &self.created_at_unix_ms)
            .field("offsets", &self.offsets)
            .field(
                "engine_state",
                &format_args!("<{} bytes>", self.engine_state.len()),
            )
            .finish()
    }
}

/// The fields before the offsets, readable without decoding the whole body
/// ([`read_header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointHeader {
    /// The checkpoint's format version.
    pub format_version: u32,
    /// [`Checkpoint::settings_fingerprint`].
    pub settings_fingerprint: u64,
    /// [`Checkpoint::created_at_unix_ms`].
    pub created_at_unix_ms: i64,
    /// The checkpoint's size in bytes.
    pub total_len: u64,
}

/// Why bytes are not a checkpoint this build can load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The input does not start with [`MAGIC`].
    #[error("not a salespulse checkpoint (bad magic bytes)")]
    NotACheckpoint,
    /// Intact, but written in a format version this build cannot read.
    #[error("unknown checkpoint format version {found} (this build reads version {supported})")]
    UnknownVersion {
        /// The version in the checkpoint.
        found: u32,
        /// The version this build reads ([`FORMAT_VERSION`]).
        supported: u32,
    },
    /// Shorter than its header says (or too short to have a header): an interrupted write or copy.
    #[error("truncated: {}", truncated_detail(*.actual, *.declared))]
    Truncated {
        /// Bytes present.
        actual: u64,
        /// Bytes the header declares, when the header is complete.
        declared: Option<u64>,
    },
    /// The checksum does not match the content: the bytes were changed after they were written.
    #[error("corrupt: checksum mismatch (stored {stored:#018x}, computed {computed:#018x})")]
    ChecksumMismatch {
        /// The checksum in the checkpoint.
        stored: u64,
        /// The checksum of the bytes before it.
        computed: u64,
    },
    /// The checksum matches but the body does not follow the layout of its version.
    #[error("malformed body: {0}")]
    Malformed(String),
}

fn truncated_detail(actual: u64, declared: Option<u64>) -> String {
    match declared {
        Some(declared) => format!("{actual} of {declared} bytes"),
        None => format!("{actual} bytes, too short for a checkpoint header"),
    }
}

/// The checkpoint as bytes in the current [`FORMAT_VERSION`] (layout in the module docs).
pub fn encode(checkpoint: &Checkpoint) -> Vec<u8> {
    let offsets_len: usize = checkpoint
        .offsets
        .iter()
        .map(|(topic, partitions)| 8 + topic.len() + 8 + partitions.len() * (4 + 8))
        .sum();
    let body_len = 8 + 8 + 8 + offsets_len + 8 + checkpoint.engine_state.len();
    let total_len = HEADER_LEN + body_len + CHECKSUM_LEN;

    let mut out = Vec::with_capacity(total_len);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(total_len as u64).to_le_bytes());
    out.extend_from_slice(&checkpoint.settings_fingerprint.to_le_bytes());
    out.extend_from_slice(&checkpoint.created_at_unix_ms.to_le_bytes());
    out.extend_from_slice(&(checkpoint.offsets.len() as u64).to_le_bytes());
    for (topic, partitions) in &checkpoint.offsets {
        out.extend_from_slice(&(topic.len() as u64).to_le_bytes());
        out.extend_from_slice(topic.as_bytes());
        out.extend_from_slice(&(partitions.len() as u64).to_le_bytes());
        for (partition, offset) in partitions {
            out.extend_from_slice(&partition.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
        }
    }
    out.extend_from_slice(&(checkpoint.engine_state.len() as u64).to_le_bytes());
    out.extend_from_slice(&checkpoint.engine_state);
    let checksum = xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    debug_assert_eq!(out.len(), total_len);
    out
}

/// Decodes and verifies a checkpoint. Never panics; see the module docs for the checks.
pub fn decode(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
    let (format_version, body) = open_envelope(bytes)?;
    let mut reader = Reader { rest: body };
    let settings_fingerprint = reader.u64("settings fingerprint")?;
    let created_at_unix_ms = reader.i64("creation time")?;

    let topic_count = reader.u64("topic count")?;
    // A topic takes at least 16 bytes (name length, partition count).
    reader.check_count(topic_count, 16, "topics")?;
    let mut offsets = Offsets::new();
    for _ in 0..topic_count {
        let name_len = reader.u64("topic name length")?;
        let name = reader.bytes(name_len, "topic name")?;
        let topic = std::str::from_utf8(name)
            .map_err(|_| malformed("a topic name is not valid UTF-8"))?
            .to_owned();
        let partition_count = reader.u64("partition count")?;
        reader.check_count(partition_count, 12, "partitions")?;
        let mut partitions = BTreeMap::new();
        for _ in 0..partition_count {
            let partition = reader.i32("partition")?;
            let offset = reader.i64("offset")?;
            if partitions.insert(partition, offset).is_some() {
                return Err(malformed(format!(
                    "partition {partition} of topic {topic:?} appears twice"
                )));
            }
        }
        if offsets.contains_key(&topic) {
            return Err(malformed(format!("topic {topic:?} appears twice")));
        }
        offsets.insert(topic, partitions);
    }

    let state_len = reader.u64("engine state length")?;
    let engine_state = reader.bytes(state_len, "engine state")?.to_vec();
    if !reader.rest.is_empty() {
        return Err(malformed(format!(
            "{} unexpected bytes after the engine state",
            reader.rest.len()
        )));
    }
    Ok(Checkpoint {
        format_version,
        settings_fingerprint,
        created_at_unix_ms,
        offsets,
        engine_state,
    })
}

/// Verifies the envelope (magic, length, checksum, version) and reads the fields before the
/// offsets, without decoding the rest of the body.
pub fn read_header(bytes: &[u8]) -> Result<CheckpointHeader, CheckpointError> {
    let (format_version, body) = open_envelope(bytes)?;
    let mut reader = Reader { rest: body };
    Ok(CheckpointHeader {
        format_version,
        settings_fingerprint: reader.u64("settings fingerprint")?,
        created_at_unix_ms: reader.i64("creation time")?,
        total_len: bytes.len() as u64,
    })
}

/// Checks the envelope and returns the format version and the body.
fn open_envelope(bytes: &[u8]) -> Result<(u32, &[u8]), CheckpointError> {
    let actual = bytes.len() as u64;
    if bytes.len() < MAGIC.len() {
        return if MAGIC.starts_with(bytes) {
            Err(CheckpointError::Truncated {
                actual,
                declared: None,
            })
        } else {
            Err(CheckpointError::NotACheckpoint)
        };
    }
    if bytes[..MAGIC.len()] != MAGIC {
        return Err(CheckpointError::NotACheckpoint);
    }
    if bytes.len() < MIN_LEN {
        // The declared length, if the header is complete.
        let declared = le_u64(bytes, 12);
        return Err(CheckpointError::Truncated { actual, declared });
    }
    let (Some(version), Some(declared)) = (le_u32(bytes, 8), le_u64(bytes, 12)) else {
        // Unreachable given MIN_LEN, but never panic.
        return Err(CheckpointError::Truncated {
            actual,
            declared: None,
        });
    };
    let checked_len = bytes.len() - CHECKSUM_LEN;
    let stored = le_u64(bytes, checked_len).unwrap_or_default();
    let computed = xxh3_64(&bytes[..checked_len]);
    if stored != computed {
        return Err(if declared > actual {
            CheckpointError::Truncated {
                actual,
                declared: Some(declared),
            }
        } else {
            CheckpointError::ChecksumMismatch { stored, computed }
        });
    }
    if version != FORMAT_VERSION {
        return Err(CheckpointError::UnknownVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if declared != actual {
        return Err(malformed(format!(
            "the header declares {declared} bytes but the checkpoint has {actual}"
        )));
    }
    Ok((version, &bytes[HEADER_LEN..checked_len]))
}

fn malformed(detail: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed(detail.into())
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let field = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(field.try_into().ok()?))
}

fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let field = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(field.try_into().ok()?))
}

/// A bounds-checked cursor over the body.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self, what: &str) -> Result<[u8; N], CheckpointError> {
        let Some((field, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(malformed(format!("the body ends inside the {what}")));
        };
        self.rest = rest;
        Ok(*field)
    }

    fn u64(&mut self, what: &str) -> Result<u64, CheckpointError> {
        self.take::<8>(what).map(u64::from_le_bytes)
    }

    fn i64(&mut self, what: &str) -> Result<i64, CheckpointError> {
        self.take::<8>(what).map(i64::from_le_bytes)
    }

    fn i32(&mut self, what: &str) -> Result<i32, CheckpointError> {
        self.take::<4>(what).map(i32::from_le_bytes)
    }

    /// `len` bytes, if that many remain.
    fn bytes(&mut self, len: u64, what: &str) -> Result<&'a [u8], CheckpointError> {
        let available = self.rest.len();
        match usize::try_from(len) {
            Ok(len) if len <= available => {
                let (field, rest) = self.rest.split_at(len);
                self.rest = rest;
                Ok(field)
            }
            _ => Err(malformed(format!(
                "the {what} declares {len} bytes but only {available} remain"
            ))),
        }
    }

    /// Rejects a count of items of at least `min_size` bytes each that cannot fit in what remains.
    fn check_count(&self, count: u64, min_size: u64, what: &str) -> Result<(), CheckpointError> {
        let available = self.rest.len() as u64;
        if count > available / min_size {
            return Err(malformed(format!(
                "{count} {what} declared but only {available} bytes remain"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Checkpoint {
        let mut offsets = Offsets::new();
        offsets.insert(
            "sales.activities".to_owned(),
            BTreeMap::from([(0, 120), (1, 0), (2, 98_765)]),
        );
        offsets.insert("sales.leads".to_owned(), BTreeMap::from([(0, 7)]));
        offsets.insert("sales.roster".to_owned(), BTreeMap::new());
        Checkpoint::new(
            0x0123_4567_89ab_cdef,
            1_764_500_000_123,
            offsets,
            b"opaque engine state \x00\xff".to_vec(),
        )
    }

    /// An envelope with a correct checksum around any body, to reach the body checks.
    fn seal(version: u32, body: &[u8]) -> Vec<u8> {
        let total = (HEADER_LEN + body.len() + CHECKSUM_LEN) as u64;
        seal_declaring(version, total, body)
    }

    fn seal_declaring(version: u32, declared_total: u64, body: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&declared_total.to_le_bytes());
        out.extend_from_slice(body);
        let checksum = xxh3_64(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    /// A body that starts like a valid one: fingerprint, time, then `rest`.
    fn body_with(rest: &[u8]) -> Vec<u8> {
        let mut body = 7u64.to_le_bytes().to_vec();
        body.extend_from_slice(&1i64.to_le_bytes());
        body.extend_from_slice(rest);
        body
    }

    fn malformed_with(body: &[u8]) -> String {
        match decode(&seal(FORMAT_VERSION, body)) {
            Err(CheckpointError::Malformed(detail)) => detail,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn round_trips() {
        let checkpoint = sample();
        let bytes = encode(&checkpoint);
        assert_eq!(decode(&bytes), Ok(checkpoint.clone()));
        let empty = Checkpoint::new(0, -5, Offsets::new(), Vec::new());
        assert_eq!(decode(&encode(&empty)), Ok(empty));
    }

    #[test]
    fn layout_is_as_documented() {
        let checkpoint = Checkpoint::new(
            0xAABB,
            1000,
            Offsets::from([("t".to_owned(), BTreeMap::from([(2, 9)]))]),
            vec![0xEE, 0xFF],
        );
        let bytes = encode(&checkpoint);
        let mut expected = Vec::new();
        expected.extend_from_slice(b"SPCKPT\r\n");
        expected.extend_from_slice(&1u32.to_le_bytes());
        let total = 20 + (8 + 8 + 8 + (8 + 1 + 8 + 12) + 8 + 2) + 8;
        expected.extend_from_slice(&(total as u64).to_le_bytes());
        expected.extend_from_slice(&0xAABBu64.to_le_bytes());
        expected.extend_from_slice(&1000i64.to_le_bytes());
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.push(b't');
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.extend_from_slice(&2i32.to_le_bytes());
        expected.extend_from_slice(&9i64.to_le_bytes());
        expected.extend_from_slice(&2u64.to_le_bytes());
        expected.extend_from_slice(&[0xEE, 0xFF]);
        let checksum = xxh3_64(&expected);
        expected.extend_from_slice(&checksum.to_le_bytes());
        assert_eq!(bytes, expected);
        assert_eq!(bytes.len(), total);
    }

    #[test]
    fn header_reads_without_the_body() {
        let checkpoint = sample();
        let bytes = encode(&checkpoint);
        assert_eq!(
            read_header(&bytes),
            Ok(CheckpointHeader {
                format_version: FORMAT_VERSION,
                settings_fingerprint: checkpoint.settings_fingerprint,
                created_at_unix_ms: checkpoint.created_at_unix_ms,
                total_len: bytes.len() as u64,
            })
        );
        assert_eq!(
            read_header(&bytes[..bytes.len() - 1]),
            Err(CheckpointError::Truncated {
                actual: bytes.len() as u64 - 1,
                declared: Some(bytes.len() as u64),
            })
        );
    }

    #[test]
    fn every_truncation_is_reported_as_truncated() {
        let bytes = encode(&sample());
        for len in 0..bytes.len() {
            match decode(&bytes[..len]) {
                Err(CheckpointError::Truncated { actual, declared }) => {
                    assert_eq!(actual, len as u64);
                    if len >= HEADER_LEN {
                        assert_eq!(declared, Some(bytes.len() as u64), "at {len}");
                    } else {
                        assert_eq!(declared, None, "at {len}");
                    }
                }
                other => panic!("truncated to {len} bytes: {other:?}"),
            }
        }
    }

    #[test]
    fn empty_input_is_truncated_and_other_files_are_not_checkpoints() {
        assert_eq!(
            decode(b""),
            Err(CheckpointError::Truncated {
                actual: 0,
                declared: None
            })
        );
        assert_eq!(
            decode(b"{\"hello\": 1}"),
            Err(CheckpointError::NotACheckpoint)
        );
        assert_eq!(decode(b"SPX"), Err(CheckpointError::NotACheckpoint));
        assert_eq!(decode(&[0u8; 4096]), Err(CheckpointError::NotACheckpoint));
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let bytes = encode(&sample());
        for index in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[index] ^= 1 << bit;
                let result = decode(&flipped);
                match (index, &result) {
                    (0..8, Err(CheckpointError::NotACheckpoint)) => {}
                    // A flip in the declared length can make it look longer than the input.
                    (12..20, Err(CheckpointError::Truncated { .. })) => {}
                    (8.., Err(CheckpointError::ChecksumMismatch { .. })) => {}
                    _ => panic!("bit {bit} of byte {index} flipped: {result:?}"),
                }
            }
        }
    }

    #[test]
    fn intact_checkpoint_of_another_version_is_unknown_version() {
        let bytes = seal(2, b"whatever a future version holds");
        assert_eq!(
            decode(&bytes),
            Err(CheckpointError::UnknownVersion {
                found: 2,
                supported: FORMAT_VERSION
            })
        );
        assert_eq!(
            decode(&seal(0, b"")),
            Err(CheckpointError::UnknownVersion {
                found: 0,
                supported: FORMAT_VERSION
            })
        );
    }

    #[test]
    fn huge_declared_lengths_are_malformed_not_allocated() {
        let max = u64::MAX.to_le_bytes();
        // Topic count.
        let mut rest = max.to_vec();
        assert!(malformed_with(&body_with(&rest)).contains("topics declared"));
        // Topic name length.
        rest = 1u64.to_le_bytes().to_vec();
        rest.extend_from_slice(&max);
        rest.extend_from_slice(&[0; 16]);
        assert!(malformed_with(&body_with(&rest)).contains("topic name declares"));
        // Partition count.
        rest = 1u64.to_le_bytes().to_vec();
        rest.extend_from_slice(&1u64.to_le_bytes());
        rest.push(b't');
        rest.extend_from_slice(&(u64::MAX / 12).to_le_bytes());
        rest.extend_from_slice(&[0; 12]);
        assert!(malformed_with(&body_with(&rest)).contains("partitions declared"));
        // Engine state length, all of them and just one past the end.
        rest = 0u64.to_le_bytes().to_vec();
        rest.extend_from_slice(&max);
        assert!(malformed_with(&body_with(&rest)).contains("engine state declares"));
        rest = 0u64.to_le_bytes().to_vec();
        rest.extend_from_slice(&4u64.to_le_bytes());
        rest.extend_from_slice(b"abc");
        assert!(malformed_with(&body_with(&rest)).contains("declares 4 bytes but only 3"));
        // Total length in the header, with an intact checksum.
        let sealed = seal_declaring(FORMAT_VERSION, u64::MAX, &body_with(&[0; 16]));
        assert!(matches!(
            decode(&sealed),
            Err(CheckpointError::Malformed(detail)) if detail.contains("header declares")
        ));
    }

    #[test]
    fn inconsistent_bodies_are_malformed() {
        // Ends early.
        assert!(malformed_with(&7u64.to_le_bytes()).contains("ends inside the creation time"));
        assert!(malformed_with(b"").contains("ends inside the settings fingerprint"));
        // Trailing bytes.
        let mut rest = 0u64.to_le_bytes().to_vec();
        rest.extend_from_slice(&0u64.to_le_bytes());
        rest.push(0);
        assert!(malformed_with(&body_with(&rest)).contains("1 unexpected bytes"));
        // Invalid UTF-8 in a topic name.
        let topic = |name: &[u8], partitions: &[(i32, i64)]| {
            let mut t = (name.len() as u64).to_le_bytes().to_vec();
            t.extend_from_slice(name);
            t.extend_from_slice(&(partitions.len() as u64).to_le_bytes());
            for (p, o) in partitions {
                t.extend_from_slice(&p.to_le_bytes());
                t.extend_from_slice(&o.to_le_bytes());
            }
            t
        };
        let with_topics = |topics: &[Vec<u8>]| {
            let mut rest = (topics.len() as u64).to_le_bytes().to_vec();
            for t in topics {
                rest.extend_from_slice(t);
            }
            rest.extend_from_slice(&0u64.to_le_bytes());
            body_with(&rest)
        };
        assert!(malformed_with(&with_topics(&[topic(b"\xff\xfe", &[])])).contains("UTF-8"));
        assert!(
            malformed_with(&with_topics(&[topic(b"a", &[(1, 5), (1, 6)])]))
                .contains("partition 1 of topic \"a\" appears twice")
        );
        assert!(
            malformed_with(&with_topics(&[topic(b"a", &[]), topic(b"a", &[])]))
                .contains("topic \"a\" appears twice")
        );
        // The same, well formed, decodes.
        let good = seal(
            FORMAT_VERSION,
            &with_topics(&[topic(b"a", &[(1, 5)]), topic(b"b", &[])]),
        );
        let decoded = decode(&good).expect("well formed");
        assert_eq!(decoded.offsets["a"][&1], 5);
        assert!(decoded.offsets["b"].is_empty());
    }

    #[test]
    fn errors_read_well() {
        let messages = [
            CheckpointError::NotACheckpoint.to_string(),
            CheckpointError::UnknownVersion {
                found: 9,
                supported: 1,
            }
            .to_string(),
            CheckpointError::Truncated {
                actual: 10,
                declared: Some(100),
            }
            .to_string(),
            CheckpointError::Truncated {
                actual: 3,
                declared: None,
            }
            .to_string(),
            CheckpointError::ChecksumMismatch {
                stored: 1,
                computed: 2,
            }
            .to_string(),
        ];
        assert_eq!(
            messages,
            [
                "not a salespulse checkpoint (bad magic bytes)",
                "unknown checkpoint format version 9 (this build reads version 1)",
                "truncated: 10 of 100 bytes",
                "truncated: 3 bytes, too short for a checkpoint header",
                "corrupt: checksum mismatch (stored 0x0000000000000001, computed 0x0000000000000002)",
            ]
        );
        let debug = format!("{:?}", sample());
        assert!(debug.contains("engine_state: <22 bytes>"), "{debug}");
    }

    fn arb_checkpoint() -> impl Strategy<Value = Checkpoint> {
        (
            any::<u64>(),
            any::<i64>(),
            prop::collection::btree_map(
                ".{0,12}",
                prop::collection::btree_map(any::<i32>(), any::<i64>(), 0..5),
                0..5,
            ),
            prop::collection::vec(any::<u8>(), 0..200),
        )
            .prop_map(|(fingerprint, created, offsets, state)| {
                Checkpoint::new(fingerprint, created, offsets, state)
            })
    }

    proptest! {
        #[test]
        fn any_checkpoint_round_trips(checkpoint in arb_checkpoint()) {
            prop_assert_eq!(decode(&encode(&checkpoint)), Ok(checkpoint));
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&bytes);
            prop_assert!(decode(&with_magic).is_err());
        }

        #[test]
        fn random_bodies_with_valid_checksums_never_panic(
            body in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            // Mostly Malformed; whatever it is, it returns.
            let _ = decode(&seal(FORMAT_VERSION, &body));
            let _ = read_header(&seal(FORMAT_VERSION, &body));
        }

        #[test]
        fn random_flips_in_a_valid_checkpoint_are_rejected(
            checkpoint in arb_checkpoint(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        ) {
            let original = encode(&checkpoint);
            let mut bytes = original.clone();
            for (index, mask) in flips {
                bytes[index.index(original.len())] ^= mask;
            }
            if bytes != original {
                prop_assert!(decode(&bytes).is_err());
            }
        }
    }
}
