//! Replays the whole committed corpus through the fuzz target on every `cargo test`: the seeds
//! and `regressions/` (every input that once crashed it), so a fixed crash stays fixed without
//! running the fuzzer. A panic in the target fails the test and names the file.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use salespulse_fuzz::run;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Every file under `dir`, subdirectories included, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("readable corpus directory") {
            let path = entry.expect("readable corpus entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(|name| name.to_str())
        .expect("UTF-8 file name")
}

#[test]
fn no_corpus_input_panics() {
    let files = files_under(&corpus_dir());
    let crashed: Vec<String> = files
        .iter()
        .filter(|path| {
            let input = fs::read(path).expect("readable corpus file");
            panic::catch_unwind(AssertUnwindSafe(|| run(&input))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(files.len() >= 40, "only {} corpus files", files.len());
    assert_eq!(crashed, Vec::<String>::new());
}

#[test]
fn valid_seeds_are_accepted_whole_and_invalid_ones_are_rejected() {
    let mut valid = 0;
    let mut invalid = 0;
    for path in files_under(&corpus_dir()) {
        let name = file_name(&path);
        let tally = run(&fs::read(&path).expect("readable corpus file"));
        if name.starts_with("valid-") {
            valid += 1;
            assert_eq!(tally.rejected, 0, "{name}: {tally:?}");
            assert!(tally.accepted > 0, "{name}: {tally:?}");
        } else if name.starts_with("invalid-") {
            invalid += 1;
            assert!(tally.rejected > 0, "{name}: {tally:?}");
        }
    }
    assert!(valid >= 20, "{valid} valid seeds");
    assert!(invalid >= 10, "{invalid} invalid seeds");
}

/// The thirteen event types of EVENTS.md, each with a seed of its own.
#[test]
fn every_event_type_has_a_valid_seed() {
    let types = [
        "activity",
        "appointment_set",
        "lead_created",
        "lead_assigned",
        "lead_disqualified",
        "lead_qualified",
        "deal_opened",
        "deal_closed",
        "customer_acquired",
        "expense",
        "revenue",
        "customer_cost",
        "rep_upserted",
    ];
    let missing: Vec<&str> = types
        .into_iter()
        .filter(|event_type| {
            let seed = corpus_dir().join(format!("valid-{event_type}.jsonl"));
            let Ok(text) = fs::read_to_string(&seed) else {
                return true;
            };
            !text.contains(&format!("\"type\":\"{event_type}\""))
        })
        .collect();
    assert_eq!(missing, Vec::<&str>::new());
}
