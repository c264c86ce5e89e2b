//! The web configuration file of Prometheus exporters (exporter-toolkit's `web-configuration.md`):
//! TLS, basic auth and extra response headers for `/metrics`, `/healthz` and `/readyz`, so the
//! file an operator already writes for node_exporter works here too.
//!
//! Supported: `tls_server_config` (`cert_file`, `key_file`, `client_auth_type` of
//! `NoClientCert`, `VerifyClientCertIfGiven` or `RequireAndVerifyClientCert`, `client_ca_file`,
//! `min_version`, `max_version`), `http_server_config.headers` and `basic_auth_users` (bcrypt).
//! Any other key is refused by name rather than ignored: a setting that silently does nothing is
//! a security hole. Relative file names are resolved against the web config file's directory, as
//! exporter-toolkit does. The files are read once, at start.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use serde::Deserialize;

use super::auth::BasicAuth;

/// A web config file that cannot be used, with the file and the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("web config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not YAML of the expected shape; `message` names the key (unknown keys included) and the
    /// line.
    #[error("web config file {}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("web config file {}: `{key}`: {reason}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        reason: String,
    },
}

/// What the HTTP server applies to every connection and request. The default serves plain HTTP
/// to anyone, as without a web config file.
#[derive(Clone, Default)]
pub struct WebConfig {
    pub(crate) tls: Option<Arc<ServerConfig>>,
    pub(crate) basic_auth: Option<Arc<BasicAuth>>,
    pub(crate) headers: Arc<[(HeaderName, HeaderValue)]>,
}

impl fmt::Debug for WebConfig {
    /// Says what is enabled, never the key or the password hashes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("basic_auth", &self.basic_auth.is_some())
            .field("headers", &self.headers)
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks the file and everything it names (certificates, key, CA, password
    /// hashes), so `check-config` and the start of `run` fail on the same mistakes.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        parse(&text, base).map_err(|error| error.in_file(path))
    }

    /// Whether connections are TLS.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether requests need basic-auth credentials.
    pub fn basic_auth(&self) -> bool {
        self.basic_auth.is_some()
    }
}

/// The file's shape: exporter-toolkit's key names, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: RawHttpServer,
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    min_version: Option<String>,
    max_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawHttpServer {
    headers: BTreeMap<String, String>,
}

/// A problem found before the file name is known to the message.
#[derive(Debug)]
enum Problem {
    Syntax(String),
    Invalid { key: String, reason: String },
}

impl Problem {
    fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Problem {
        Problem::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn in_file(self, path: &Path) -> WebConfigError {
        let path = path.to_owned();
        match self {
            Problem::Syntax(message) => WebConfigError::Syntax { path, message },
            Problem::Invalid { key, reason } => WebConfigError::Invalid { path, key, reason },
        }
    }
}

/// Parses the file's text; `base` is the directory relative file names start from.
fn parse(text: &str, base: &Path) -> Result<WebConfig, Problem> {
    // An empty file (or one of comments only) is valid and enables nothing, as in exporter-toolkit.
    let raw: Option<RawWebConfig> =
        yaml_serde::from_str(text).map_err(|error| Problem::Syntax(error.to_string()))?;
    let raw = raw.unwrap_or_default();
    Ok(WebConfig {
        tls: raw
            .tls_server_config
            .map(|tls| server_config(tls, base).map(Arc::new))
            .transpose()?,
        basic_auth: basic_auth(raw.basic_auth_users)?.map(Arc::new),
        headers: headers(raw.http_server_config.headers)?.into(),
    })
}

/// Whether clients show a certificate, and whether it must verify; exporter-toolkit's (Go's)
/// `client_auth_type` names map onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    None,
    VerifyIfGiven,
    Required,
}

fn client_auth(name: Option<&str>) -> Result<ClientAuth, Problem> {
    const KEY: &str = "tls_server_config.client_auth_type";
    match name.unwrap_or("NoClientCert") {
        "" | "NoClientCert" => Ok(ClientAuth::None),
        "VerifyClientCertIfGiven" => Ok(ClientAuth::VerifyIfGiven),
        "RequireAndVerifyClientCert" => Ok(ClientAuth::Required),
        unverified @ ("RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert") => {
            Err(Problem::invalid(
                KEY,
                format!(
                    "`{unverified}` accepts certificates that no CA vouches for; use \
                     RequireAndVerifyClientCert (or VerifyClientCertIfGiven) with client_ca_file"
                ),
            ))
        }
        other => Err(Problem::invalid(
            KEY,
            format!(
                "unknown value `{other}` (expected NoClientCert, VerifyClientCertIfGiven or \
                 RequireAndVerifyClientCert)"
            ),
        )),
    }
}

/// The versions served, oldest first. TLS 1.2 is the oldest (rustls has no 1.0 or 1.1), and
/// exporter-toolkit's default minimum anyway.
const SERVED_VERSIONS: [(&str, &SupportedProtocolVersion); 2] = [
    ("TLS12", &rustls::version::TLS12),
    ("TLS13", &rustls::version::TLS13),
];

/// The index in [`SERVED_VERSIONS`] of the version `name`.
fn tls_version(key: &str, name: &str) -> Result<usize, Problem> {
    if let Some(index) = SERVED_VERSIONS
        .iter()
        .position(|(served, _)| *served == name)
    {
        return Ok(index);
    }
    Err(Problem::invalid(
        key,
        match name {
            "TLS10" | "TLS11" => format!("`{name}` is not served: TLS12 is the oldest version"),
            other => format!("unknown TLS version `{other}` (expected TLS12 or TLS13)"),
        },
    ))
}

fn protocol_versions(raw: &RawTls) -> Result<Vec<&'static SupportedProtocolVersion>, Problem> {
    let min = tls_version(
        "tls_server_config.min_version",
        raw.min_version.as_deref().unwrap_or("TLS12"),
    )?;
    let max = tls_version(
        "tls_server_config.max_version",
        raw.max_version.as_deref().unwrap_or("TLS13"),
    )?;
    if min > max {
        return Err(Problem::invalid(
            "tls_server_config.min_version",
            "is above max_version",
        ));
    }
    Ok(SERVED_VERSIONS[min..=max]
        .iter()
        .map(|(_, version)| *version)
        .collect())
}

fn read_file(key: &str, base: &Path, name: &Path) -> Result<Vec<u8>, Problem> {
    let path = base.join(name);
    std::fs::read(&path)
        .map_err(|error| Problem::invalid(key, format!("reading {}: {error}", path.display())))
}

fn certificates(
    key: &str,
    base: &Path,
    name: &Path,
) -> Result<Vec<CertificateDer<'static>>, Problem> {
    let pem = read_file(key, base, name)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| Problem::invalid(key, format!("{}: {error}", name.display())))?;
    if certificates.is_empty() {
        return Err(Problem::invalid(
            key,
            format!("{}: no PEM certificate in the file", name.display()),
        ));
    }
    Ok(certificates)
}

fn required<'a>(key: &str, value: Option<&'a PathBuf>) -> Result<&'a Path, Problem> {
    value
        .map(PathBuf::as_path)
        .filter(|path| !path.as_os_str().is_empty())
        .ok_or_else(|| Problem::invalid(key, "missing: TLS needs cert_file and key_file"))
}

/// The server's TLS settings, with the certificate chain and key checked against each other.
fn server_config(raw: RawTls, base: &Path) -> Result<ServerConfig, Problem> {
    const CERT: &str = "tls_server_config.cert_file";
    const KEY: &str = "tls_server_config.key_file";
    const CA: &str = "tls_server_config.client_ca_file";
    let chain = certificates(CERT, base, required(CERT, raw.cert_file.as_ref())?)?;
    let key_name = required(KEY, raw.key_file.as_ref())?;
    let key = PrivateKeyDer::from_pem_slice(&read_file(KEY, base, key_name)?)
        .map_err(|error| Problem::invalid(KEY, format!("{}: {error}", key_name.display())))?;
    let client_auth = client_auth(raw.client_auth_type.as_deref())?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&protocol_versions(&raw)?)
        .map_err(|error| Problem::invalid("tls_server_config.min_version", error.to_string()))?;
    let ca_file = raw
        .client_ca_file
        .as_ref()
        .filter(|path| !path.as_os_str().is_empty());
    let builder = match (client_auth, ca_file) {
        (ClientAuth::None, None) => builder.with_no_client_auth(),
        (ClientAuth::None, Some(_)) => {
            return Err(Problem::invalid(
                CA,
                "is set but client_auth_type is NoClientCert: set RequireAndVerifyClientCert",
            ));
        }
        (ClientAuth::VerifyIfGiven | ClientAuth::Required, None) => {
            return Err(Problem::invalid(
                CA,
                "missing: client_auth_type verifies client certificates against it",
            ));
        }
        (ClientAuth::VerifyIfGiven | ClientAuth::Required, Some(ca_file)) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates(CA, base, ca_file)? {
                roots.add(certificate).map_err(|error| {
                    Problem::invalid(CA, format!("{}: {error}", ca_file.display()))
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if client_auth == ClientAuth::Required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|error| Problem::invalid(CA, error.to_string()))?,
            )
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|error| {
        Problem::invalid(
            KEY,
            format!("does not fit the certificate of cert_file: {error}"),
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Users with checked bcrypt hashes: a hash that cannot be verified is refused at start, not at
/// the first scrape.
fn basic_auth(users: BTreeMap<String, String>) -> Result<Option<BasicAuth>, Problem> {
    if users.is_empty() {
        return Ok(None);
    }
    for (name, hash) in &users {
        let key = format!("basic_auth_users.{name}");
        if name.is_empty() || name.contains(':') {
            return Err(Problem::invalid(
                key,
                "a basic-auth user name is not empty and has no `:`",
            ));
        }
        let parts: bcrypt::HashParts = hash.parse().map_err(|error| {
            Problem::invalid(key.as_str(), format!("not a bcrypt hash: {error}"))
        })?;
        if !(4..=31).contains(&parts.get_cost()) {
            return Err(Problem::invalid(
                key,
                format!("bcrypt cost {} is outside 4..=31", parts.get_cost()),
            ));
        }
    }
    BasicAuth::new(users)
        .map(Some)
        .map_err(|error| Problem::invalid("basic_auth_users", error.to_string()))
}

/// The response headers exporter-toolkit allows, with the values it allows where they are an
/// enumeration; an empty value leaves the header unset.
fn headers(
    configured: BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, Problem> {
    const ALLOWED: [(&str, &[&str]); 5] = [
        ("strict-transport-security", &[]),
        ("x-content-type-options", &["nosniff"]),
        ("x-frame-options", &["deny", "sameorigin"]),
        ("x-xss-protection", &[]),
        ("content-security-policy", &[]),
    ];
    let mut headers = Vec::new();
    for (name, value) in configured {
        let key = format!("http_server_config.headers.{name}");
        let Some((lowercase, values)) = ALLOWED
            .iter()
            .find(|(allowed, _)| allowed.eq_ignore_ascii_case(&name))
        else {
            return Err(Problem::invalid(
                key,
                "this header cannot be configured (allowed: Strict-Transport-Security, \
                 X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, \
                 Content-Security-Policy)",
            ));
        };
        if value.is_empty() {
            continue;
        }
        if !values.is_empty() && !values.contains(&value.as_str()) {
            return Err(Problem::invalid(
                key,
                format!("`{value}` is not one of {}", values.join(", ")),
            ));
        }
        let value = HeaderValue::from_str(&value)
            .map_err(|_| Problem::invalid(key, "not a valid header value"))?;
        headers.push((HeaderName::from_static(lowercase), value));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

    use super::*;

    /// A directory of its own for each test, removed at the end.
    struct Dir(PathBuf);

    impl Dir {
        fn new(test: &str) -> Dir {
            let path = std::env::temp_dir().join(format!(
                "salespulse-web-config-{}-{test}",
                std::process::id()
            ));
            std::fs::create_dir_all(&path).expect("temp dir");
            Dir(path)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).expect("write");
            path
        }

        /// `ca.pem`, and `server.pem` with `server.key` signed by it; `other.key` fits nothing.
        fn with_certificates(self) -> Dir {
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key"))
                .expect("CA");
            let server_key = KeyPair::generate().expect("key");
            let server = CertificateParams::new(vec!["localhost".to_owned()])
                .expect("params")
                .signed_by(&server_key, &ca)
                .expect("signed");
            self.write("ca.pem", &ca.pem());
            self.write("server.pem", &server.pem());
            self.write("server.key", &server_key.serialize_pem());
            self.write(
                "other.key",
                &KeyPair::generate().expect("key").serialize_pem(),
            );
            self
        }

        fn load(&self, yaml: &str) -> Result<WebConfig, WebConfigError> {
            WebConfig::load(&self.write("web.yml", yaml))
        }

        /// The key an invalid file is refused for, and why.
        fn refused(&self, yaml: &str) -> (String, String) {
            match self.load(yaml) {
                Err(WebConfigError::Invalid { key, reason, .. }) => (key, reason),
                other => panic!("expected an invalid key, got {other:?}"),
            }
        }

        /// The message of a file that is not of the expected shape.
        fn syntax_error(&self, yaml: &str) -> String {
            match self.load(yaml) {
                Err(WebConfigError::Syntax { message, .. }) => message,
                other => panic!("expected a syntax error, got {other:?}"),
            }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const TLS: &str = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";

    #[test]
    fn an_empty_file_enables_nothing() {
        let dir = Dir::new("empty");
        for text in ["", "# nothing yet\n", "basic_auth_users: {}\n"] {
            let web = dir.load(text).expect("valid");
            assert!(!web.tls());
            assert!(!web.basic_auth());
            assert!(web.headers.is_empty());
        }
    }

    #[test]
    fn certificate_and_key_enable_tls_relative_to_the_file() {
        let dir = Dir::new("tls").with_certificates();
        let web = dir.load(TLS).expect("valid");
        assert!(web.tls());
        assert!(!web.basic_auth());
        let tls = web.tls.expect("tls");
        assert_eq!(tls.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn tls_versions_default_to_1_2_and_1_3_and_can_be_narrowed() {
        let versions = |min: Option<&str>, max: Option<&str>| {
            let raw = RawTls {
                min_version: min.map(str::to_owned),
                max_version: max.map(str::to_owned),
                ..RawTls::default()
            };
            protocol_versions(&raw).map(|versions| {
                versions
                    .iter()
                    .map(|version| version.version)
                    .collect::<Vec<_>>()
            })
        };
        let (tls12, tls13) = (
            rustls::ProtocolVersion::TLSv1_2,
            rustls::ProtocolVersion::TLSv1_3,
        );
        assert_eq!(versions(None, None).expect("valid"), vec![tls12, tls13]);
        assert_eq!(versions(Some("TLS13"), None).expect("valid"), vec![tls13]);
        assert_eq!(versions(None, Some("TLS12")).expect("valid"), vec![tls12]);
        assert!(versions(Some("TLS13"), Some("TLS12")).is_err());

        let dir = Dir::new("versions").with_certificates();
        let (key, reason) = dir.refused(&format!("{TLS}  min_version: TLS11\n"));
        assert_eq!(key, "tls_server_config.min_version");
        assert!(reason.contains("TLS12 is the oldest"), "{reason}");
        let (key, reason) = dir.refused(&format!("{TLS}  max_version: TLS14\n"));
        assert_eq!(key, "tls_server_config.max_version");
        assert!(reason.contains("unknown TLS version `TLS14`"), "{reason}");
        let (key, _) = dir.refused(&format!(
            "{TLS}  min_version: TLS13\n  max_version: TLS12\n"
        ));
        assert_eq!(key, "tls_server_config.min_version");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let dir = Dir::new("unknown").with_certificates();
        let message = dir.syntax_error("rate_limit:\n  burst: 3\n");
        assert!(message.contains("unknown field `rate_limit`"), "{message}");
        let message =
            dir.syntax_error(&format!("{TLS}  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"));
        assert!(
            message.contains("unknown field `cipher_suites`"),
            "{message}"
        );
        let message = dir.syntax_error("http_server_config:\n  http2: false\n");
        assert!(message.contains("unknown field `http2`"), "{message}");
        let message = dir.syntax_error("basic_auth_users: [alice]\n");
        assert!(message.contains("basic_auth_users"), "{message}");
    }

    #[test]
    fn missing_or_mismatched_files_name_the_key_and_the_file() {
        let dir = Dir::new("files").with_certificates();
        let (key, reason) =
            dir.refused("tls_server_config:\n  cert_file: nowhere.pem\n  key_file: server.key\n");
        assert_eq!(key, "tls_server_config.cert_file");
        assert!(reason.contains("nowhere.pem"), "{reason}");
        let (key, reason) = dir.refused("tls_server_config:\n  cert_file: server.pem\n");
        assert_eq!(key, "tls_server_config.key_file");
        assert!(reason.contains("missing"), "{reason}");
        let (key, reason) =
            dir.refused("tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n");
        assert_eq!(key, "tls_server_config.cert_file");
        assert!(reason.contains("no PEM certificate"), "{reason}");
        let (key, reason) =
            dir.refused("tls_server_config:\n  cert_file: server.pem\n  key_file: other.key\n");
        assert_eq!(key, "tls_server_config.key_file");
        assert!(reason.contains("does not fit"), "{reason}");
        let (key, _) =
            dir.refused("tls_server_config:\n  cert_file: server.pem\n  key_file: server.pem\n");
        assert_eq!(key, "tls_server_config.key_file");
    }

    #[test]
    fn client_certificates_are_verified_against_the_client_ca() {
        let dir = Dir::new("client-auth").with_certificates();
        let verified = format!(
            "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
        );
        assert!(dir.load(&verified).expect("valid").tls());
        let if_given =
            format!("{TLS}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n");
        assert!(dir.load(&if_given).expect("valid").tls());

        let (key, _) = dir.refused(&format!(
            "{TLS}  client_auth_type: RequireAndVerifyClientCert\n"
        ));
        assert_eq!(key, "tls_server_config.client_ca_file");
        let (key, _) = dir.refused(&format!("{TLS}  client_ca_file: ca.pem\n"));
        assert_eq!(key, "tls_server_config.client_ca_file");
        let (key, reason) = dir.refused(&format!(
            "{TLS}  client_auth_type: RequireAnyClientCert\n  client_ca_file: ca.pem\n"
        ));
        assert_eq!(key, "tls_server_config.client_auth_type");
        assert!(reason.contains("RequireAndVerifyClientCert"), "{reason}");
        let (key, reason) = dir.refused(&format!("{TLS}  client_auth_type: Sometimes\n"));
        assert_eq!(key, "tls_server_config.client_auth_type");
        assert!(reason.contains("unknown value `Sometimes`"), "{reason}");
    }

    #[test]
    fn basic_auth_users_need_bcrypt_hashes() {
        let dir = Dir::new("users");
        let hash = bcrypt::hash("s3cret", 4).expect("hash");
        let web = dir
            .load(&format!("basic_auth_users:\n  prometheus: '{hash}'\n"))
            .expect("valid");
        assert!(web.basic_auth());
        assert!(!web.tls());

        let (key, reason) = dir.refused("basic_auth_users:\n  prometheus: s3cret\n");
        assert_eq!(key, "basic_auth_users.prometheus");
        assert!(reason.contains("not a bcrypt hash"), "{reason}");
        // Well formed, but cost 3 is below bcrypt's minimum of 4.
        let cost_3 = format!("$2b$03${}", &hash[7..]);
        let (key, reason) = dir.refused(&format!("basic_auth_users:\n  prometheus: '{cost_3}'\n"));
        assert_eq!(key, "basic_auth_users.prometheus");
        assert!(reason.contains("cost 3"), "{reason}");
        let (key, _) = dir.refused(&format!("basic_auth_users:\n  'a:b': '{hash}'\n"));
        assert_eq!(key, "basic_auth_users.a:b");
    }

    #[test]
    fn only_exporter_toolkit_headers_with_their_values() {
        let dir = Dir::new("headers");
        let web = dir
            .load(
                "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    \
                 Strict-Transport-Security: max-age=31536000\n    X-XSS-Protection: ''\n",
            )
            .expect("valid");
        let headers: Vec<(&str, &str)> = web
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.to_str().expect("ascii")))
            .collect();
        assert_eq!(
            headers,
            vec![
                ("strict-transport-security", "max-age=31536000"),
                ("x-frame-options", "deny"),
            ]
        );
        let (key, reason) =
            dir.refused("http_server_config:\n  headers:\n    X-Frame-Options: allow\n");
        assert_eq!(key, "http_server_config.headers.X-Frame-Options");
        assert!(reason.contains("deny, sameorigin"), "{reason}");
        let (key, _) = dir.refused("http_server_config:\n  headers:\n    X-Powered-By: me\n");
        assert_eq!(key, "http_server_config.headers.X-Powered-By");
    }

    #[test]
    fn errors_name_the_file() {
        let dir = Dir::new("errors").with_certificates();
        let missing = dir.0.join("absent.yml");
        let error = WebConfig::load(&missing).expect_err("no file");
        assert!(matches!(error, WebConfigError::Read { .. }));
        assert!(
            error
                .to_string()
                .starts_with(&format!("web config file {}: ", missing.display()))
        );
        let error = dir
            .load("tls_server_config:\n  cert_file: nowhere.pem\n  key_file: server.key\n")
            .expect_err("no certificate");
        let web_yml = dir.0.join("web.yml");
        assert_eq!(
            error.to_string(),
            format!(
                "web config file {}: `tls_server_config.cert_file`: reading {}: No such file or \
                 directory (os error 2)",
                web_yml.display(),
                dir.0.join("nowhere.pem").display()
            )
        );
        let error = dir
            .load("tls_server_config: [1, 2\n")
            .expect_err("not YAML");
        assert!(matches!(error, WebConfigError::Syntax { .. }));
    }
}
