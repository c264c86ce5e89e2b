//! No secret ever printed (CONFIG.md): distinctive secrets planted in the configuration file
//! and in environment overrides never reach stdout or stderr of `check-config` (valid or
//! refused configurations) or of `run` failing to reach its brokers, while `****` shows where
//! they were. And a configuration that can only fail is refused with exit code 2 and its key.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use salespulse_e2e::{Scratch, free_address, http_get, salespulse_binary, wait_until};

/// Planted in the file.
const FILE_SECRET: &str = "Zebra-file-S3cret-7e1f";
/// Planted in environment overrides.
const ENV_SECRET: &str = "Zebra-env-S3cret-94ac";

fn write_config(dir: &Scratch, text: &str) -> PathBuf {
    dir.write("salespulse.toml", text)
}

fn salespulse(args: &[&str], config: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(salespulse_binary());
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .env_clear()
        .envs(env.iter().copied());
    command
}

/// stdout and stderr together.
fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_no_secret(text: &str) {
    for secret in [FILE_SECRET, ENV_SECRET] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
    }
    // Nor the start of one, as a message cut short would show it.
    assert!(
        !text.contains("Zebra-"),
        "part of a secret printed:\n{text}"
    );
}

/// A SASL/TLS configuration with secrets in the file: valid, and `run` finds no broker.
fn secured_config(listen: &str, state: &Path) -> String {
    format!(
        r#"
[kafka]
brokers = "127.0.0.1:1"
group_id = "secrets-e2e"

[http]
listen = "{listen}"

[state]
dir = "{state}"

[kafka.properties]
"security.protocol" = "SASL_SSL"
"sasl.mechanism" = "SCRAM-SHA-512"
"sasl.username" = "salespulse"
"sasl.password" = "{FILE_SECRET}"
"sasl.oauthbearer.config" = "principal=salespulse secret={FILE_SECRET}"
"#,
        state = state.display()
    )
}

/// Secret overrides from the environment.
fn secret_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SALESPULSE_KAFKA__PROPERTIES__SSL_KEY_PASSWORD", ENV_SECRET),
        (
            "SALESPULSE_KAFKA__PROPERTIES__SSL_KEYSTORE_PASSWORD",
            ENV_SECRET,
        ),
    ]
}

#[test]
fn check_config_masks_the_secrets_of_the_file_and_the_environment() {
    let dir = Scratch::new("secrets-check");
    let config = write_config(
        &dir,
        &secured_config("127.0.0.1:9898", &dir.path().join("state")),
    );
    let output = salespulse(&["check-config"], &config, &secret_env())
        .output()
        .expect("run check-config");
    let text = printed(&output);
    assert!(output.status.success(), "{text}");
    assert_no_secret(&text);
    for masked in [
        r#""sasl.password" = "****""#,
        r#""sasl.oauthbearer.config" = "****""#,
        r#""ssl.key.password" = "****""#,
        r#""ssl.keystore.password" = "****""#,
    ] {
        assert!(text.contains(masked), "{masked} missing:\n{text}");
    }
    assert!(text.contains(r#""sasl.username" = "salespulse""#), "{text}");
}

/// Expects exit code 2 and a configuration error naming `key`; returns all that was printed.
fn refused(output: &Output, key: &str) -> String {
    let text = printed(output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!("salespulse: configuration error: {key}: ")),
        "{key} not named:\n{text}"
    );
    assert_no_secret(&text);
    text
}

#[test]
fn refused_configurations_exit_2_naming_the_key_without_a_secret() {
    let dir = Scratch::new("secrets-refused");
    let valid = secured_config("127.0.0.1:9898", &dir.path().join("state"));
    let check = |text: &str, env: &[(&str, &str)]| {
        salespulse(&["check-config"], &write_config(&dir, text), env)
            .output()
            .expect("run check-config")
    };

    // The password pasted into a property librdkafka checks: its message quotes the value.
    let pasted = format!("{valid}\"compression.type\" = \"{FILE_SECRET}\"\n");
    let text = refused(&check(&pasted, &[]), "kafka.properties.compression.type");
    assert!(text.contains("\"****\""), "{text}");
    // The same from the environment.
    let mut env = secret_env();
    env.push((
        "SALESPULSE_KAFKA__PROPERTIES__SECURITY_PROTOCOL",
        ENV_SECRET,
    ));
    let text = refused(&check(&valid, &env), "kafka.properties.security.protocol");
    assert!(text.contains("\"****\""), "{text}");
    // A malformed override of the whole table is taken as text, which serde quotes.
    let malformed = format!(r#"{{ "sasl.password" = "{ENV_SECRET}", "sasl.username" = "me""#);
    let text = refused(
        &check("", &[("SALESPULSE_KAFKA__PROPERTIES", &malformed)]),
        "kafka.properties",
    );
    assert!(text.contains("****"), "{text}");
    assert!(
        text.contains("[set by SALESPULSE_KAFKA__PROPERTIES]"),
        "{text}"
    );
    // A property librdkafka does not know (the Java client's), holding a password.
    let jaas = format!(
        "{valid}\"sasl.jaas.config\" = \"ScramLoginModule required password=\\\"{FILE_SECRET}\\\";\"\n"
    );
    refused(&check(&jaas, &[]), "kafka.properties.sasl.jaas.config");
    // Kafka settings that can only fail, secrets planted all the same.
    let dead_letters_read_back = valid.replace(
        "group_id = \"secrets-e2e\"",
        "group_id = \"secrets-e2e\"\ndeadletter_topic = \"sales.deals\"",
    );
    refused(
        &check(&dead_letters_read_back, &secret_env()),
        "kafka.deadletter_topic",
    );
    refused(
        &check(&valid, &[("SALESPULSE_KAFKA__GROUP_ID", " ")]),
        "kafka.group_id",
    );
    refused(
        &check(&valid.replace("127.0.0.1:1", ""), &secret_env()),
        "kafka.brokers",
    );
    // `run` refuses them before it starts anything.
    let output = salespulse(&["run"], &write_config(&dir, &dead_letters_read_back), &[])
        .output()
        .expect("run salespulse run");
    let text = refused(&output, "kafka.deadletter_topic");
    assert!(!text.contains("serving /metrics"), "{text}");
    // So does `demo`, whose input topics are those of EVENTS.md.
    let output = salespulse(&["demo"], &write_config(&dir, &dead_letters_read_back), &[])
        .output()
        .expect("run salespulse demo");
    let text = refused(&output, "kafka.deadletter_topic");
    assert!(text.contains("the demo's input topics"), "{text}");
}

/// SIGTERM, then the output once the process has exited (killed if it takes over a minute).
fn stop(child: Child) -> Output {
    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    let mut child = child;
    if !wait_until(Duration::from_secs(60), || {
        child.try_wait().ok().flatten().is_some()
    }) {
        child.kill().ok();
    }
    child.wait_with_output().expect("collect the output")
}

#[test]
fn run_logs_no_secret_while_it_cannot_reach_the_brokers() {
    let dir = Scratch::new("secrets-run");
    let listen = free_address();
    let config = write_config(&dir, &secured_config(&listen, &dir.path().join("state")));
    let child = salespulse(&["run"], &config, &secret_env())
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start salespulse run");
    // Up and trying to connect: the HTTP side answers while librdkafka fails and retries.
    let serving = wait_until(Duration::from_secs(30), || {
        http_get(&listen, "/healthz").is_some()
    });
    std::thread::sleep(Duration::from_secs(3));
    let output = stop(child);
    let text = printed(&output);
    assert!(serving, "the service never answered /healthz:\n{text}");
    assert_no_secret(&text);
    assert!(text.contains("****"), "no masked property logged:\n{text}");
    assert!(text.contains("sasl.username"), "{text}");
}
