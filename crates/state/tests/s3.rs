//! The checkpoint store against a real S3-compatible server: moto in server mode, started by
//! `deploy/local/s3.sh` (which `deploy/test.sh` runs), at the URL in
//! `SALESPULSE_TEST_S3_ENDPOINT`. Without it these tests fail, unless `SALESPULSE_SKIP_S3=1`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use object_store::{ObjectStoreExt, PutPayload};
use salespulse_state::{
    Checkpoint, CheckpointError, CheckpointName, CheckpointStore, Offsets, Restored, SkipReason,
    StoreError, encode,
};

const FINGERPRINT: u64 = 0x5A1E5;

/// The server's URL, or `None` when the S3 tests are to be skipped.
fn endpoint() -> Option<String> {
    match std::env::var("SALESPULSE_TEST_S3_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ if std::env::var("SALESPULSE_SKIP_S3").as_deref() == Ok("1") => {
            eprintln!("SALESPULSE_SKIP_S3=1: skipping the S3 checkpoint store test");
            None
        }
        _ => panic!(
            "SALESPULSE_TEST_S3_ENDPOINT is not set: start a local S3 server with \
             `bash deploy/local/s3.sh start` and export SALESPULSE_TEST_S3_ENDPOINT=<the URL it \
             prints> (deploy/test.sh does both), or set SALESPULSE_SKIP_S3=1 to skip this test"
        ),
    }
}

/// The settings the service would take from `AWS_*` variables (moto accepts any keys).
fn options(endpoint: &str) -> [(&'static str, String); 5] {
    [
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
        ("AWS_ACCESS_KEY_ID", "salespulse-test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "salespulse-test".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A new bucket of the test's own, made with a plain HTTP `PUT /bucket` (path style).
fn create_bucket(endpoint: &str, test: &str) -> String {
    let bucket = format!(
        "salespulse-{test}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis()
    );
    let host = endpoint.strip_prefix("http://").unwrap_or_else(|| {
        panic!("SALESPULSE_TEST_S3_ENDPOINT={endpoint}: expected http://HOST:PORT")
    });
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| {
        panic!("is the S3 server running at {endpoint}? `bash deploy/local/s3.sh start`: {e}")
    });
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
        "creating bucket {bucket} at {endpoint}: {}",
        response.lines().next().unwrap_or_default()
    );
    bucket
}

fn checkpoint(created_at: i64, offset: i64) -> Checkpoint {
    let offsets = Offsets::from([
        (
            "sales.leads".to_owned(),
            [(0, offset), (1, offset + 1)].into(),
        ),
        ("sales.deals".to_owned(), [(0, 3)].into()),
    ]);
    Checkpoint::new(
        FINGERPRINT,
        created_at,
        offsets,
        vec![offset as u8; 300_000],
    )
}

#[test]
fn checkpoints_on_s3_write_keep_restore_and_skip() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = create_bucket(&endpoint, "store");
    let url = format!("s3://{bucket}/replica-a/state");
    let store = CheckpointStore::open_url(&url, options(&endpoint), 2).expect("open");
    let neighbour =
        CheckpointStore::open_url(&format!("s3://{bucket}/replica-b"), options(&endpoint), 2)
            .expect("open");

    runtime().block_on(async {
        let restored = store.load_newest_valid(FINGERPRINT).await.expect("load");
        assert!(matches!(&restored, Restored::None { skipped } if skipped.is_empty()));

        // Three writes, two kept.
        let mut names = Vec::new();
        for i in 0..3 {
            let written = store
                .write(encode(&checkpoint(1_764_500_000_000 + i, i)))
                .await
                .expect("write");
            assert!(written.prune_error.is_none(), "{:?}", written.prune_error);
            names.push(written.name);
        }
        assert_eq!(store.list().await.expect("list"), [names[2], names[1]]);
        let restored = store.load_newest_valid(FINGERPRINT).await.expect("load");
        match &restored {
            Restored::Found {
                name,
                checkpoint: restored,
                skipped,
            } => {
                assert_eq!(*name, names[2]);
                assert_eq!(*restored, checkpoint(1_764_500_000_002, 2));
                assert!(skipped.is_empty());
            }
            Restored::None { skipped } => panic!("nothing restored: {skipped:?}"),
        }

        // Another prefix of the same bucket is another store.
        assert!(neighbour.list().await.expect("list").is_empty());

        // A truncated and a corrupt checkpoint newer than the good one: skipped, with reasons.
        let good = encode(&checkpoint(1_764_500_000_002, 2));
        let truncated_name = CheckpointName {
            unix_ms: names[2].unix_ms + 10,
            suffix: 1,
        };
        let corrupt_name = CheckpointName {
            unix_ms: names[2].unix_ms + 20,
            suffix: 2,
        };
        let mut corrupt = good.clone();
        corrupt[100] ^= 0x01;
        let raw = store.object_store();
        raw.put(
            &store.path_of(&truncated_name),
            PutPayload::from(good[..good.len() - 1000].to_vec()),
        )
        .await
        .expect("put truncated");
        raw.put(&store.path_of(&corrupt_name), PutPayload::from(corrupt))
            .await
            .expect("put corrupt");
        let restored = store.load_newest_valid(FINGERPRINT).await.expect("load");
        let Restored::Found { name, skipped, .. } = &restored else {
            panic!("nothing restored: {restored:?}");
        };
        assert_eq!(*name, names[2]);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert_eq!(skipped[0].name, corrupt_name);
        assert!(matches!(
            skipped[0].reason,
            SkipReason::Invalid(CheckpointError::ChecksumMismatch { .. })
        ));
        assert_eq!(skipped[1].name, truncated_name);
        assert!(matches!(
            skipped[1].reason,
            SkipReason::Invalid(CheckpointError::Truncated { .. })
        ));

        // The next write sorts after them and prunes down to two again.
        let written = store
            .write(encode(&checkpoint(1_764_500_000_003, 3)))
            .await
            .expect("write");
        assert_eq!(written.name.unix_ms, corrupt_name.unix_ms + 1);
        assert!(written.prune_error.is_none(), "{:?}", written.prune_error);
        assert_eq!(
            store.list().await.expect("list"),
            [written.name, corrupt_name]
        );
        let restored = store.load_newest_valid(FINGERPRINT).await.expect("load");
        assert!(
            matches!(&restored, Restored::Found { name, skipped, .. } if *name == written.name && skipped.is_empty())
        );
    });
}

#[test]
fn missing_bucket_is_named_in_the_error() {
    let Some(endpoint) = endpoint() else { return };
    let url = format!(
        "s3://salespulse-no-such-bucket-{}/state",
        std::process::id()
    );
    let store = CheckpointStore::open_url(&url, options(&endpoint), 2).expect("open");
    let error = runtime()
        .block_on(store.load_newest_valid(FINGERPRINT))
        .expect_err("no bucket");
    assert!(matches!(error, StoreError::List { .. }), "{error}");
    assert!(error.to_string().contains(&url), "{error}");
}

/// `CheckpointStore::open` takes its settings from the `AWS_*` environment: run this test binary
/// again with them set (the lints forbid setting variables in this process).
#[test]
fn open_reads_the_aws_environment() {
    if let Ok(url) = std::env::var("SALESPULSE_S3_TEST_CHILD_URL") {
        let store = CheckpointStore::open(None, Some(&url), 1).expect("open from env");
        runtime().block_on(async {
            store
                .write(encode(&checkpoint(5, 5)))
                .await
                .expect("write with env settings");
            let restored = store.load_newest_valid(FINGERPRINT).await.expect("load");
            assert!(matches!(restored, Restored::Found { .. }), "{restored:?}");
        });
        return;
    }
    let Some(endpoint) = endpoint() else { return };
    let bucket = create_bucket(&endpoint, "env");
    let mut child = Command::new(std::env::current_exe().expect("test binary"));
    child
        .args(["--exact", "open_reads_the_aws_environment", "--nocapture"])
        .env("SALESPULSE_S3_TEST_CHILD_URL", format!("s3://{bucket}/p"));
    for (key, value) in options(&endpoint) {
        child.env(key, value);
    }
    let output = child.output().expect("run the child test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
