//! Shared helpers for the end-to-end tests in `tests/`: where things are, and a small parser
//! for the Prometheus text format so tests can read what the real binary printed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the repository: the contracts and the public data sets.
pub fn shared_dir() -> PathBuf {
    repo_root().join("..").join("shared")
}

/// A directory of its own for one test, emptied first and removed when the test ends (passed or
/// not): `<temp>/salespulse-<test>-<pid>`.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("salespulse-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to the file `name` of the directory; returns its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("write a scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `salespulse` binary in the same target directory (built by `cargo build --workspace`).
pub fn salespulse_binary() -> PathBuf {
    let mut dir = std::env::current_exe().expect("test executable path");
    dir.pop(); // the test binary
    if dir.ends_with("deps") {
        dir.pop();
    }
    let binary = dir.join(format!("salespulse{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: `cargo build --workspace` first (deploy/test.sh does)",
        binary.display()
    );
    binary
}

/// One sample of an exposition: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// Parses the samples of a text exposition (comments skipped). Label values in the tests never
/// contain escaped quotes, commas or braces, which keeps this parser small.
pub fn parse_exposition(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("sample has a value");
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                other => other.parse().expect("numeric sample value"),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("closing brace");
                    let labels = body
                        .split("\",")
                        .filter(|pair| !pair.is_empty())
                        .map(|pair| {
                            let (key, value) = pair.split_once("=\"").expect("label pair");
                            (key.to_owned(), value.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name, labels)
                }
                None => (series, BTreeMap::new()),
            };
            Sample {
                name: name.to_owned(),
                labels,
                value,
            }
        })
        .collect()
}

/// The value of the one sample of `name` whose labels include all of `labels`.
pub fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut matching = samples.iter().filter(|sample| {
        sample.name == name
            && labels
                .iter()
                .all(|(key, value)| sample.label(key) == Some(*value))
    });
    let first = matching.next()?;
    assert!(
        matching.next().is_none(),
        "more than one {name} sample matches {labels:?}"
    );
    Some(first.value)
}

/// A GET over HTTP/1.0 on loopback: `(status, body)`, or `None` if nothing answers.
pub fn http_get(address: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// A loopback address with a port that was free a moment ago.
pub fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").to_string()
}

/// Polls `condition` every 200 ms until it holds or `timeout` passes; false on timeout.
pub fn wait_until(timeout: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    condition()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_and_values() {
        let samples = parse_exposition(
            "# HELP x y\nsales_x{rep=\"a\",window=\"current\"} 1.5\nplain 3\nh_bucket{le=\"+Inf\"} 2\n",
        );
        assert_eq!(samples.len(), 3);
        assert_eq!(value_of(&samples, "sales_x", &[("rep", "a")]), Some(1.5));
        assert_eq!(value_of(&samples, "plain", &[]), Some(3.0));
        assert_eq!(samples[2].label("le"), Some("+Inf"));
    }
}
