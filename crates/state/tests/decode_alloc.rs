//! Lengths and counts declared in a checkpoint never make `decode` allocate more than about the
//! input's size, even when the checksum is right (a crafted or buggy writer's file). One test in
//! this binary, so that no other test allocates while it measures.

use std::alloc::System;

use salespulse_state::{Checkpoint, FORMAT_VERSION, MAGIC, Offsets, decode, encode};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use xxhash_rust::xxh3::xxh3_64;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A correct envelope (magic, version, total length, checksum) around `body`.
fn seal(body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&((20 + body.len() + 8) as u64).to_le_bytes());
    out.extend_from_slice(body);
    let checksum = xxh3_64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

fn body(fields: &[&[u8]]) -> Vec<u8> {
    let mut body = 1u64.to_le_bytes().to_vec(); // fingerprint
    body.extend_from_slice(&2i64.to_le_bytes()); // created at
    for field in fields {
        body.extend_from_slice(field);
    }
    body
}

#[test]
fn declared_lengths_never_allocate_beyond_the_input() {
    let max = u64::MAX.to_le_bytes();
    let one = 1u64.to_le_bytes();
    let zero = 0u64.to_le_bytes();
    let big_partitions = (u64::MAX / 12).to_le_bytes();
    let mut inputs = vec![
        // Topic count, topic name length, partition count, engine state length: all huge.
        seal(&body(&[&max, &[0; 64]])),
        seal(&body(&[&one, &max, &[0; 64]])),
        seal(&body(&[&one, &one, b"t", &big_partitions, &[0; 64]])),
        seal(&body(&[&zero, &max, &[0; 64]])),
        seal(&body(&[&zero, &(1u64 << 40).to_le_bytes(), &[0; 64]])),
    ];
    // Header total length huge, checksum wrong: reported as truncated.
    let mut truncated = encode(&Checkpoint::new(1, 2, Offsets::new(), vec![7; 100]));
    truncated[12..20].copy_from_slice(&max);
    inputs.push(truncated);

    for input in &inputs {
        let region = Region::new(GLOBAL);
        let result = decode(input);
        let stats = region.change();
        assert!(result.is_err(), "{result:?}");
        assert!(
            stats.bytes_allocated <= 2 * input.len() + 4096,
            "decoding {} bytes allocated {} bytes: {result:?}",
            input.len(),
            stats.bytes_allocated
        );
    }

    // A valid checkpoint allocates about its engine state, once.
    let state = vec![0xA5; 1 << 20];
    let valid = encode(&Checkpoint::new(1, 2, Offsets::new(), state.clone()));
    let region = Region::new(GLOBAL);
    let decoded = decode(&valid).expect("valid");
    let stats = region.change();
    assert_eq!(decoded.engine_state, state);
    assert!(
        stats.bytes_allocated <= state.len() + 4096,
        "{}",
        stats.bytes_allocated
    );
}
