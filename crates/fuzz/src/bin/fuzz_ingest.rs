//! The AFL++ harness: `crates/fuzz/run.sh` builds it with `cargo afl` and fuzzes it. Outside
//! AFL++ it runs one input from stdin, which is how a crash is reproduced with its stack trace.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        salespulse_fuzz::run(data);
    });
}
