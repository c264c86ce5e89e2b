//! Kafka over TLS and SASL, as managed clusters require: against the real broker's `SASL_SSL`
//! listener (SCRAM-SHA-512, a certificate from a CA that `deploy/local/kafka.sh` makes), the
//! service consumes and dead-letters exactly as over PLAINTEXT and never prints the password;
//! with a wrong password it stays up, not ready, and says why.
//!
//! `deploy/test.sh` sets `SALESPULSE_TEST_SASL_{BROKERS,CA,USER,PASSWORD}` from
//! `bash deploy/local/kafka.sh sasl-info`; without them these tests are skipped.

mod kafka_common;

use std::path::PathBuf;
use std::time::Duration;

use kafka_common::{
    AS_OF, Listener, RunningService, SaslLogin, Scenario, assert_dead_lettered_once,
    assert_same_sales_series, produce, replay, simulated,
};
use salespulse_e2e::wait_until;

/// The variable that carries the password to the service, so it is in no file.
const PASSWORD_VARIABLE: &str = "SALESPULSE_KAFKA__PROPERTIES__SASL_PASSWORD";

/// The broker's `SASL_SSL` listener and SCRAM user, from the environment, or `None` (with a
/// message saying how to run these tests) when unset.
fn sasl_login_from_env() -> Option<SaslLogin> {
    let Ok(bootstrap) = std::env::var("SALESPULSE_TEST_SASL_BROKERS") else {
        eprintln!(
            "skipped: SALESPULSE_TEST_SASL_BROKERS is not set; `bash deploy/local/kafka.sh start` \
             then `sasl-info` prints the listener, CA, user and password (deploy/test.sh sets them)"
        );
        return None;
    };
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("SALESPULSE_TEST_SASL_BROKERS is set but {name} is not (see kafka.sh sasl-info)")
        })
    };
    Some(SaslLogin {
        bootstrap,
        ca: PathBuf::from(var("SALESPULSE_TEST_SASL_CA")),
        user: var("SALESPULSE_TEST_SASL_USER"),
        password: var("SALESPULSE_TEST_SASL_PASSWORD"),
    })
}

/// A scenario on the `SASL_SSL` listener whose service logs JSON (to find the logged
/// properties) and is given `password` through [`PASSWORD_VARIABLE`].
fn sasl_scenario(login: SaslLogin, test: &str, password: &str) -> Scenario {
    let mut scenario = Scenario::on(Listener::SaslSsl(login), test);
    scenario
        .env
        .push((PASSWORD_VARIABLE.to_owned(), password.to_owned()));
    scenario.log_format = "json";
    scenario
}

/// The value the service logged for the `[kafka.properties]` entry `name` (JSON log lines).
fn logged_property(output: &str, name: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let entry: serde_json::Value = serde_json::from_str(line).ok()?;
        let fields = entry.get("fields")?;
        (fields.get("message")?.as_str()? == "kafka property"
            && fields.get("property")?.as_str()? == name)
            .then(|| fields.get("value")?.as_str().map(str::to_owned))?
    })
}

#[test]
fn consumes_and_dead_letters_over_sasl_ssl_without_printing_the_password() {
    let Some(login) = sasl_login_from_env() else {
        return;
    };
    let password = login.password.clone();
    let scenario = sasl_scenario(login, "sasl", &password);
    let produced = produce(&scenario, &simulated(5_000, 41));

    let service = RunningService::start(&scenario, AS_OF, 1);
    service.wait_caught_up(produced.len());
    let metrics = service.metrics().expect("scrape");
    let (replayed, _) = replay(&scenario, &produced, AS_OF);
    assert_same_sales_series(&metrics, &replayed);
    let (status, output) = service.terminate();
    assert!(status.success(), "exit {status}:\n{output}");

    // Each malformed message once (in transactions committed through SASL_SSL), nothing else.
    assert_dead_lettered_once(&scenario, &produced);

    // The password worked but is in no output; the property is logged, masked.
    assert_eq!(
        logged_property(&output, "sasl.password").as_deref(),
        Some("****")
    );
    assert!(
        !output.contains(&password),
        "the password leaked:\n{output}"
    );
}

#[test]
fn a_wrong_password_keeps_the_service_up_and_not_ready() {
    let Some(login) = sasl_login_from_env() else {
        return;
    };
    let wrong = "not-the-password-4b1d";
    assert_ne!(login.password, wrong);
    let scenario = sasl_scenario(login, "saslwrong", wrong);
    let service = RunningService::start(&scenario, AS_OF, 1);
    let said_why = wait_until(Duration::from_secs(60), || {
        service.output().contains("Authentication failed")
    });
    let output = service.output();
    assert!(said_why, "no authentication failure logged:\n{output}");
    let (status, body) = service.get("/readyz").expect("readyz answers");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("no connection to the Kafka brokers")
            && body.contains("Authentication failed"),
        "the refusal is the reason: {body}"
    );
    assert_eq!(service.get("/healthz").map(|(status, _)| status), Some(200));
    assert!(!output.contains(wrong), "the password leaked:\n{output}");
}
