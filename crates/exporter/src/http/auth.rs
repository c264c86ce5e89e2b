//! Basic authentication against bcrypt hashes, and the configured response headers, as a layer
//! over the routes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::WebConfig;

/// The `basic_auth_users` of the web config, with the passwords that already verified.
///
/// bcrypt is slow on purpose (about 70 ms at cost 10), so a password that verified once is kept
/// and compared in constant time afterwards, as exporter-toolkit caches: a scrape every 15 s
/// then costs nothing. One entry per configured user, so the cache cannot grow.
pub(crate) struct BasicAuth {
    /// User name to bcrypt hash.
    users: HashMap<String, String>,
    /// A hash of the users' highest cost that no password matches: unknown users are checked
    /// against it, so the answer takes as long whether the user exists or not.
    decoy: String,
    /// User name to the password that last verified.
    verified: Mutex<HashMap<String, Vec<u8>>>,
    /// One bcrypt at a time: requests with wrong passwords can busy one core, not all of them.
    bcrypt_turn: Semaphore,
}

impl fmt::Debug for BasicAuth {
    /// The user names only: the hashes and the remembered passwords are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl BasicAuth {
    /// `users` maps names to bcrypt hashes that the caller has checked.
    pub(crate) fn new(users: BTreeMap<String, String>) -> Result<BasicAuth, bcrypt::BcryptError> {
        let cost = users
            .values()
            .filter_map(|hash| hash.parse::<bcrypt::HashParts>().ok())
            .map(|parts| parts.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        Ok(BasicAuth {
            decoy: bcrypt::hash(b"salespulse: no such user", cost)?,
            users: users.into_iter().collect(),
            verified: Mutex::new(HashMap::new()),
            bcrypt_turn: Semaphore::new(1),
        })
    }

    /// Whether the `Authorization` header names a configured user with the right password.
    pub(crate) async fn allows(self: &Arc<Self>, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = authorization.and_then(credentials) else {
            return false;
        };
        if self.already_verified(&user, &password) {
            return true;
        }
        let Ok(_turn) = self.bcrypt_turn.acquire().await else {
            return false;
        };
        let auth = Arc::clone(self);
        tokio::task::spawn_blocking(move || auth.verify(user, password))
            .await
            .unwrap_or(false)
    }

    fn already_verified(&self, user: &str, password: &[u8]) -> bool {
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user)
            .is_some_and(|known| bool::from(known.as_slice().ct_eq(password)))
    }

    /// Runs bcrypt (on a blocking thread: it takes milliseconds of CPU).
    fn verify(&self, user: String, password: Vec<u8>) -> bool {
        let (hash, known) = match self.users.get(&user) {
            Some(hash) => (hash.as_str(), true),
            None => (self.decoy.as_str(), false),
        };
        let matches = bcrypt::verify(&password, hash).unwrap_or(false);
        if matches && known {
            self.verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(user, password);
        }
        matches && known
    }
}

/// The user and password of a `Basic` `Authorization` header (RFC 7617).
fn credentials(value: &HeaderValue) -> Option<(String, Vec<u8>)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let colon = decoded.iter().position(|&byte| byte == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

/// The routes behind basic auth (when users are configured) and with the configured headers on
/// every response, the 401 included.
pub(crate) fn protect(router: Router, web: &WebConfig) -> Router {
    if web.basic_auth.is_none() && web.headers.is_empty() {
        return router;
    }
    router.layer(from_fn_with_state(web.clone(), guard))
}

async fn guard(State(web): State<WebConfig>, request: Request, next: Next) -> Response {
    let allowed = match &web.basic_auth {
        None => true,
        Some(auth) => {
            auth.allows(request.headers().get(header::AUTHORIZATION))
                .await
        }
    };
    let mut response = if allowed {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"salespulse\", charset=\"UTF-8\""),
            )],
            "unauthorized\n",
        )
            .into_response()
    };
    for (name, value) in web.headers.iter() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cost 4, the lowest bcrypt allows: the tests check decisions, not bcrypt's speed.
    fn auth(users: &[(&str, &str)]) -> Arc<BasicAuth> {
        let users = users
            .iter()
            .map(|(name, password)| {
                let hash = bcrypt::hash(password, 4).expect("hashes");
                (name.to_string(), hash)
            })
            .collect();
        Arc::new(BasicAuth::new(users).expect("valid users"))
    }

    fn basic(user_and_password: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(user_and_password)))
            .expect("header value")
    }

    #[tokio::test]
    async fn the_right_password_is_allowed_and_remembered() {
        let auth = auth(&[("prometheus", "s3cret"), ("grafana", "other")]);
        assert!(auth.allows(Some(&basic("prometheus:s3cret"))).await);
        assert!(auth.already_verified("prometheus", b"s3cret"));
        assert!(!auth.already_verified("grafana", b"other"), "not asked yet");
        assert!(auth.allows(Some(&basic("prometheus:s3cret"))).await);
    }

    #[tokio::test]
    async fn wrong_passwords_and_unknown_users_are_refused_and_not_remembered() {
        let auth = auth(&[("prometheus", "s3cret")]);
        assert!(!auth.allows(Some(&basic("prometheus:s3cret!"))).await);
        assert!(!auth.allows(Some(&basic("prometheus:"))).await);
        assert!(!auth.allows(Some(&basic("Prometheus:s3cret"))).await);
        assert!(!auth.allows(Some(&basic("nobody:s3cret"))).await);
        assert!(auth.verified.lock().expect("lock").is_empty());
    }

    #[tokio::test]
    async fn a_remembered_password_does_not_let_another_one_in() {
        let auth = auth(&[("prometheus", "s3cret")]);
        assert!(auth.allows(Some(&basic("prometheus:s3cret"))).await);
        assert!(!auth.allows(Some(&basic("prometheus:s3cre"))).await);
        assert!(!auth.allows(Some(&basic("prometheus:s3cret2"))).await);
        assert!(auth.allows(Some(&basic("prometheus:s3cret"))).await);
    }

    #[tokio::test]
    async fn missing_or_malformed_credentials_are_refused() {
        let auth = auth(&[("prometheus", "s3cret")]);
        assert!(!auth.allows(None).await);
        let bearer = HeaderValue::from_static("Bearer cHJvbWV0aGV1czpzM2NyZXQ=");
        assert!(!auth.allows(Some(&bearer)).await, "not the Basic scheme");
        let not_base64 = HeaderValue::from_static("Basic prometheus:s3cret");
        assert!(!auth.allows(Some(&not_base64)).await);
        assert!(!auth.allows(Some(&basic("prometheus"))).await, "no colon");
    }

    #[tokio::test]
    async fn debug_output_shows_no_secret() {
        let auth = auth(&[("prometheus", "s3cret")]);
        assert!(auth.allows(Some(&basic("prometheus:s3cret"))).await);
        assert_eq!(
            format!("{auth:?}"),
            "BasicAuth { users: [\"prometheus\"], .. }"
        );
    }

    #[test]
    fn credentials_follow_rfc_7617() {
        // "prometheus:s3cret" in base64, with the scheme in another case.
        let header = HeaderValue::from_static("basic cHJvbWV0aGV1czpzM2NyZXQ=");
        assert_eq!(
            credentials(&header),
            Some(("prometheus".to_owned(), b"s3cret".to_vec()))
        );
        // The password may hold colons: only the first one separates.
        assert_eq!(
            credentials(&basic("user:a:b")),
            Some(("user".to_owned(), b"a:b".to_vec()))
        );
        assert_eq!(
            credentials(&basic(":nobody")),
            Some((String::new(), b"nobody".to_vec()))
        );
    }
}
