//! The HTTP endpoints of the real binary against careless and hostile clients: TLS, client
//! certificates and basic auth from an exporter-toolkit web config file (certificates and bcrypt
//! hashes made here), and a flood of idle and half-sent connections with few file descriptors.
//!
//! No broker is needed: `[kafka] brokers` points where nothing listens, so the service serves
//! HTTP while it waits (`/readyz` says 503).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use salespulse_e2e::{Scratch, free_address, http_get, salespulse_binary, wait_until};

const AS_OF: &str = "2026-11-25T12:00:00Z";
const USER: &str = "prometheus";
const PASSWORD: &str = "correct horse battery staple";
/// Longer than any start takes; the waits end as soon as the service answers.
const START_WAIT: Duration = Duration::from_secs(60);

/// A CA, a server certificate for `localhost` signed by it, and a client certificate signed by
/// it, written as PEM files into the scratch directory.
struct Certificates {
    ca: PathBuf,
    client_chain: Vec<CertificateDer<'static>>,
    client_key: PrivateKeyDer<'static>,
}

impl Certificates {
    fn make(scratch: &Scratch) -> Certificates {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key"))
            .expect("CA certificate");
        let server_key = KeyPair::generate().expect("key");
        let server = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .signed_by(&server_key, &ca)
            .expect("server certificate");
        let client_key = KeyPair::generate().expect("key");
        let client = CertificateParams::new(vec!["scraper.example".to_owned()])
            .expect("params")
            .signed_by(&client_key, &ca)
            .expect("client certificate");
        scratch.write("server.pem", server.pem());
        scratch.write("server.key", server_key.serialize_pem());
        Certificates {
            ca: scratch.write("ca.pem", ca.pem()),
            client_chain: vec![client.der().clone()],
            client_key: PrivateKeyDer::from_pem_slice(client_key.serialize_pem().as_bytes())
                .expect("client key"),
        }
    }

    /// Trusts the test CA only.
    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_file_iter(&self.ca).expect("CA file") {
            roots
                .add(certificate.expect("CA certificate"))
                .expect("trusted");
        }
        roots
    }
}

/// `salespulse run` with a web config file, killed at the end.
struct Service {
    child: Child,
    address: String,
    log: PathBuf,
}

impl Service {
    /// Starts the service on a free port; `web_config` is the web config file, `open_files`
    /// lowers the child's file descriptor limit, `env` adds variables.
    fn start(
        scratch: &Scratch,
        web_config: Option<&Path>,
        open_files: Option<u32>,
        env: &[(&str, &str)],
    ) -> Service {
        let address = free_address();
        let web_config_line = web_config
            .map(|path| format!("web_config_file = \"{}\"\n", path.display()))
            .unwrap_or_default();
        let config = scratch.write(
            "salespulse.toml",
            format!(
                "[kafka]\nbrokers = \"127.0.0.1:1\"\n\n[http]\nlisten = \"{address}\"\n\
                 {web_config_line}\n[state]\ndir = \"{}\"\n",
                scratch.path().join("state").display()
            ),
        );
        let log = scratch.path().join("service.log");
        let binary = salespulse_binary();
        let arguments = [
            "run",
            "--config",
            config.to_str().expect("UTF-8 path"),
            "--as-of",
            AS_OF,
        ];
        // `exec` keeps the process id, so the limit applies to the service and `kill` reaches it.
        let mut command = match open_files {
            Some(limit) => {
                let mut command = Command::new("bash");
                command
                    .arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(&binary)
                    .args(arguments);
                command
            }
            None => {
                let mut command = Command::new(&binary);
                command.args(arguments);
                command
            }
        };
        let child = command
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start salespulse");
        Service {
            child,
            address,
            log,
        }
    }

    fn port(&self) -> u16 {
        self.address
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("port")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTPS request: `Ok((status, headers, body))`, or the error that ended the exchange
/// (a refused handshake, say).
struct Https {
    config: Arc<ClientConfig>,
}

impl Https {
    fn new(
        roots: RootCertStore,
        client: Option<(&[CertificateDer<'static>], &PrivateKeyDer<'static>)>,
    ) -> Https {
        let builder = ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots);
        let config = match client {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.to_vec(), key.clone_key())
                .expect("client certificate"),
            None => builder.with_no_client_auth(),
        };
        Https {
            config: Arc::new(config),
        }
    }

    fn get(&self, port: u16, path: &str, authorization: Option<&str>) -> std::io::Result<Response> {
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
        let server = ServerName::try_from("localhost").expect("server name");
        let connection = ClientConnection::new(Arc::clone(&self.config), server)
            .map_err(std::io::Error::other)?;
        let mut stream = StreamOwned::new(connection, tcp);
        let authorization = authorization
            .map(|value| format!("Authorization: {value}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\n{authorization}Connection: close\r\n\r\n"
        )?;
        let mut bytes = Vec::new();
        match stream.read_to_end(&mut bytes) {
            Ok(_) => {}
            // A server that closes without TLS close_notify after a whole response.
            Err(error) if error.kind() == ErrorKind::UnexpectedEof && !bytes.is_empty() => {}
            Err(error) => return Err(error),
        }
        Response::parse(&bytes).ok_or_else(|| std::io::Error::other("not an HTTP response"))
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn parse(bytes: &[u8]) -> Option<Response> {
        let text = String::from_utf8_lossy(bytes);
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some(Response {
            status,
            head: head.to_ascii_lowercase(),
            body: body.to_owned(),
        })
    }

    fn has_header(&self, line: &str) -> bool {
        self.head.lines().any(|header| header.trim() == line)
    }
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// Waits until `/healthz` answers 200 over `get`, failing the test with the log otherwise.
fn wait_healthy(service: &Service, mut get: impl FnMut() -> Option<u16>) {
    assert!(
        wait_until(START_WAIT, || get() == Some(200)),
        "/healthz never answered 200; log:\n{}",
        service.log_text()
    );
}

#[test]
fn tls_and_basic_auth_guard_every_endpoint() {
    let scratch = Scratch::new("http-security-tls-auth");
    let certificates = Certificates::make(&scratch);
    // Cost 4, bcrypt's lowest: the debug build checks it quickly.
    let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt hash");
    let web_config = scratch.write(
        "web.yml",
        format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  \
             min_version: TLS12\nhttp_server_config:\n  headers:\n    \
             X-Content-Type-Options: nosniff\nbasic_auth_users:\n  {USER}: '{hash}'\n"
        ),
    );
    let service = Service::start(&scratch, Some(&web_config), None, &[]);
    let https = Https::new(certificates.roots(), None);
    let right = basic(USER, PASSWORD);
    wait_healthy(&service, || {
        https
            .get(service.port(), "/healthz", Some(&right))
            .ok()
            .map(|response| response.status)
    });

    let metrics = https
        .get(service.port(), "/metrics", Some(&right))
        .expect("HTTPS answers");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("sales_window_start_timestamp_seconds{period=\"week\",window=\"current\"}"),
        "{}",
        metrics.body
    );
    assert!(metrics.has_header("x-content-type-options: nosniff"));
    let readyz = https
        .get(service.port(), "/readyz", Some(&right))
        .expect("HTTPS answers");
    assert_eq!(readyz.status, 503, "no broker listens: {}", readyz.body);

    for (path, authorization) in [
        ("/metrics", None),
        ("/metrics", Some(basic(USER, "correct horse battery"))),
        ("/metrics", Some(basic("grafana", PASSWORD))),
        ("/healthz", None),
        ("/readyz", Some("Bearer abc".to_owned())),
    ] {
        let refused = https
            .get(service.port(), path, authorization.as_deref())
            .expect("HTTPS answers");
        assert_eq!(refused.status, 401, "{path} with {authorization:?}");
        assert!(
            refused.head.contains("\r\nwww-authenticate: basic realm="),
            "{}",
            refused.head
        );
        assert!(refused.has_header("x-content-type-options: nosniff"));
        assert!(!refused.body.contains("sales_"), "{}", refused.body);
    }

    // Plain HTTP to the TLS port gets no HTTP answer.
    assert_eq!(http_get(&service.address, "/healthz"), None);
    // A client that does not trust the test CA refuses the server.
    let untrusting = Https::new(RootCertStore::empty(), None);
    assert!(
        untrusting
            .get(service.port(), "/healthz", Some(&right))
            .is_err()
    );
    assert!(
        !service.log_text().contains(&hash),
        "the hash is never logged"
    );
}

#[test]
fn client_certificates_are_required_when_configured() {
    let scratch = Scratch::new("http-security-client-cert");
    let certificates = Certificates::make(&scratch);
    let web_config = scratch.write(
        "web.yml",
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n",
    );
    let service = Service::start(&scratch, Some(&web_config), None, &[]);
    let with_certificate = Https::new(
        certificates.roots(),
        Some((&certificates.client_chain, &certificates.client_key)),
    );
    wait_healthy(&service, || {
        with_certificate
            .get(service.port(), "/healthz", None)
            .ok()
            .map(|response| response.status)
    });
    let metrics = with_certificate
        .get(service.port(), "/metrics", None)
        .expect("HTTPS answers");
    assert_eq!(metrics.status, 200);

    let without_certificate = Https::new(certificates.roots(), None);
    assert!(
        without_certificate
            .get(service.port(), "/metrics", None)
            .is_err(),
        "a client without a certificate is refused in the handshake"
    );
}

#[test]
fn idle_and_stalled_connections_do_not_starve_a_scrape() {
    const OPEN_FILES: u32 = 128;
    const IDLE: usize = 200;
    const STALLED: usize = 3;
    let scratch = Scratch::new("http-security-flood");
    let service = Service::start(
        &scratch,
        None,
        Some(OPEN_FILES),
        &[("SALESPULSE_HTTP_HEADER_TIMEOUT_MS", "1000")],
    );
    wait_healthy(&service, || {
        http_get(&service.address, "/healthz").map(|(status, _)| status)
    });
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", service.child.id()))
        .expect("the service's limits");
    assert!(
        limits
            .lines()
            .any(|line| line.starts_with("Max open files") && line.contains(" 128 ")),
        "{limits}"
    );

    // More idle connections than the service has file descriptors, then a few that send half a
    // request head and stall.
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| TcpStream::connect(&service.address).expect("connect"))
        .collect();
    let stalled: Vec<TcpStream> = (0..STALLED)
        .map(|_| {
            let mut stream = TcpStream::connect(&service.address).expect("connect");
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n")
                .expect("half a head");
            stream
        })
        .collect();

    let (status, body) = http_get(&service.address, "/metrics").expect("the scrape answers");
    assert_eq!(status, 200);
    assert!(
        body.contains("sales_window_start_timestamp_seconds"),
        "{body}"
    );

    // The server closes the stalled connections (after the header timeout): a read ends
    // rather than waiting for a response that never comes.
    for mut stream in stalled {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        let mut buffer = [0_u8; 64];
        match stream.read(&mut buffer) {
            Ok(read) => assert_eq!(read, 0, "no response to half a head"),
            Err(error) => assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}"),
        }
    }
    assert_eq!(
        http_get(&service.address, "/healthz").map(|(status, _)| status),
        Some(200)
    );
    assert!(
        !service.log_text().contains("Too many open files"),
        "{}",
        service.log_text()
    );
    drop(idle);
}

/// A web config file that cannot be used is a configuration error of `check-config` and `run`
/// (exit 2, naming the key and the file's own key), before anything starts.
#[test]
fn an_unusable_web_config_file_is_refused_before_start() {
    let scratch = Scratch::new("http-security-refused");
    let web_config = scratch.write(
        "web.yml",
        "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.key\n",
    );
    let config = scratch.write(
        "salespulse.toml",
        format!(
            "[kafka]\nbrokers = \"127.0.0.1:1\"\n\n[http]\nweb_config_file = \"{}\"\n",
            web_config.display()
        ),
    );
    for command in ["check-config", "run"] {
        let output = Command::new(salespulse_binary())
            .args([command, "--config"])
            .arg(&config)
            .output()
            .expect("run salespulse");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("configuration error: http.web_config_file: ")
                && stderr.contains("`tls_server_config.cert_file`")
                && stderr.contains("missing.pem"),
            "{command}: {stderr}"
        );
    }
}
