//! Secrets in `[kafka.properties]`: which properties hold one, and masking their values in any
//! text that may quote them (error messages of serde and librdkafka, log lines), because the
//! value of a secret must never reach stdout, stderr or a log (CONFIG.md).

use std::ops::Range;

use toml::Value;

/// What a secret value is printed as.
pub const MASK: &str = "****";

/// A message may quote a long value only in part (librdkafka cuts its messages at 512 bytes):
/// a run of at least this many characters that starts like a secret is masked as well.
const CUT_SHORT_CHARS: usize = 8;

/// Whether a librdkafka property holds a secret and must never be printed or logged: SASL
/// passwords and JAAS/OAuth configs, TLS keys and their passwords and passphrases, tokens and
/// client secrets. Errs on the side of masking (`ssl.key.location` is only a path, but masking
/// it costs nothing).
pub fn is_secret_property(name: &str) -> bool {
    const WORDS: [&str; 6] = [
        "password",
        "passphrase",
        "secret",
        "key",
        "token",
        "credential",
    ];
    const NAMES: [&str; 2] = ["sasl.jaas.config", "sasl.oauthbearer.config"];
    let name = name.to_ascii_lowercase();
    WORDS.iter().any(|word| name.contains(word)) || NAMES.contains(&name.as_str())
}

/// `text` with the value of every secret property among `properties` (name, value) replaced by
/// [`MASK`], wherever it occurs: as is, as Rust's `{:?}` quotes it (serde's messages), or cut
/// short. Apply it to any text that may quote the configuration before it is printed or logged,
/// e.g. the error of creating a Kafka client.
pub fn mask_secrets<N: AsRef<str>, V: AsRef<str>>(
    text: &str,
    properties: impl IntoIterator<Item = (N, V)>,
) -> String {
    let secrets: Vec<V> = properties
        .into_iter()
        .filter(|(name, _)| is_secret_property(name.as_ref()))
        .map(|(_, value)| value)
        .collect();
    mask_values(text, secrets.iter().map(AsRef::as_ref))
}

/// `text` with every occurrence of each of `secrets` replaced by [`MASK`].
pub(crate) fn mask_values<'s>(text: &str, secrets: impl IntoIterator<Item = &'s str>) -> String {
    let mut spans: Vec<Range<usize>> = Vec::new();
    for secret in secrets.into_iter().filter(|secret| !secret.is_empty()) {
        let quoted = format!("{secret:?}");
        let escaped = &quoted[1..quoted.len() - 1];
        spans.extend(occurrences(text, secret));
        if escaped != secret {
            spans.extend(occurrences(text, escaped));
        }
    }
    spans.sort_by_key(|span| span.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    let mut masked = String::with_capacity(text.len());
    let mut copied = 0;
    for span in merged {
        masked.push_str(&text[copied..span.start]);
        masked.push_str(MASK);
        copied = span.end;
    }
    masked.push_str(&text[copied..]);
    masked
}

/// Where `secret` occurs in `text`, whole or cut short after at least [`CUT_SHORT_CHARS`]
/// characters; byte ranges on character boundaries.
fn occurrences<'t>(text: &'t str, secret: &'t str) -> impl Iterator<Item = Range<usize>> + 't {
    let probe_end = secret
        .char_indices()
        .nth(CUT_SHORT_CHARS)
        .map_or(secret.len(), |(end, _)| end);
    text.match_indices(&secret[..probe_end])
        .map(move |(start, _)| {
            let matched: usize = text[start..]
                .chars()
                .zip(secret.chars())
                .take_while(|(seen, expected)| seen == expected)
                .map(|(seen, _)| seen.len_utf8())
                .sum();
            start..start + matched
        })
}

/// The secret values in a configuration table (the file with the environment applied), before
/// it is validated, so that a message about a bad value can mask them: the string values of
/// secret properties, and every string in `kafka.properties` when that is not a table (a
/// malformed `SALESPULSE_KAFKA__PROPERTIES` is taken as text, secrets and all).
pub(crate) fn secret_values(table: &toml::Table) -> Vec<String> {
    let mut secrets = Vec::new();
    match table.get("kafka").and_then(|kafka| kafka.get("properties")) {
        Some(Value::Table(properties)) => {
            for (name, value) in properties {
                collect_secrets(name, value, &mut secrets);
            }
        }
        Some(other) => collect_strings(other, &mut secrets),
        None => {}
    }
    secrets
}

/// The strings of property `name` if it is a secret; a nested table (an unquoted dotted key,
/// `sasl.password = ...`) is followed with the dotted name.
fn collect_secrets(name: &str, value: &Value, secrets: &mut Vec<String>) {
    match value {
        Value::Table(table) => {
            for (key, value) in table {
                collect_secrets(&format!("{name}.{key}"), value, secrets);
            }
        }
        value if is_secret_property(name) => collect_strings(value, secrets),
        _ => {}
    }
}

fn collect_strings(value: &Value, strings: &mut Vec<String>) {
    match value {
        Value::String(text) => strings.push(text.clone()),
        Value::Array(values) => {
            for value in values {
                collect_strings(value, strings);
            }
        }
        Value::Table(table) => {
            for value in table.values() {
                collect_strings(value, strings);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_properties() {
        for secret in [
            "sasl.password",
            "ssl.key.password",
            "ssl.key.pem",
            "ssl_key",
            "ssl.keystore.password",
            "sasl.jaas.config",
            "sasl.oauthbearer.config",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.client.credentials.client.secret",
            "sasl.oauthbearer.assertion.private.key.passphrase",
            "sasl.oauthbearer.assertion.private.key.pem",
            "SASL.PASSWORD",
            "Sasl.Jaas.Config",
            "some.token",
            "my.passphrase",
        ] {
            assert!(is_secret_property(secret), "{secret}");
        }
        for public in [
            "security.protocol",
            "sasl.mechanism",
            "sasl.username",
            "sasl.oauthbearer.client.id",
            "sasl.oauthbearer.method",
            "ssl.ca.location",
            "enable.auto.commit",
            "enable.sasl.oauthbearer.unsecure.jwt",
        ] {
            assert!(!is_secret_property(public), "{public}");
        }
    }

    #[test]
    fn only_the_values_of_secret_properties_are_masked() {
        let properties = [
            ("sasl.password", "hunter2"),
            ("sasl.username", "alice"),
            ("security.protocol", "SASL_SSL"),
        ];
        assert_eq!(
            mask_secrets(
                "user alice, password hunter2 over SASL_SSL; again: hunter2",
                properties
            ),
            "user alice, password **** over SASL_SSL; again: ****"
        );
        assert_eq!(
            mask_secrets("nothing secret here", properties),
            "nothing secret here"
        );
    }

    #[test]
    fn quoted_and_cut_short_values_are_masked() {
        // serde quotes with `{:?}`: the quotes inside a JAAS config come out escaped.
        let jaas = r#"ScramLoginModule required username="u" password="p4ss";"#;
        let message = format!("invalid type: string {jaas:?}, expected a map");
        assert_eq!(
            mask_secrets(&message, [("sasl.jaas.config", jaas)]),
            "invalid type: string \"****\", expected a map"
        );
        // A message that stops partway through a long value.
        let pem = "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
        let message = format!("Invalid value \"{}", &pem[..40]);
        assert_eq!(
            mask_secrets(&message, [("ssl.key.pem", pem)]),
            "Invalid value \"****"
        );
        // Fewer than 8 characters of a longer secret are not taken for it.
        assert_eq!(
            mask_secrets("a -----BE line", [("ssl.key.pem", pem)]),
            "a -----BE line"
        );
    }

    #[test]
    fn overlapping_secrets_and_short_or_empty_values() {
        let properties = [
            ("sasl.password", "pw-123"),
            ("sasl.oauthbearer.config", "principal=x pw-123 extra"),
            ("ssl.key.password", ""),
        ];
        assert_eq!(
            mask_secrets("[principal=x pw-123 extra] [pw-123]", properties),
            "[****] [****]"
        );
        assert_eq!(mask_secrets("é s é", [("sasl.password", "s")]), "é **** é");
    }

    #[test]
    fn secret_values_are_found_in_the_table_before_validation() {
        let table: toml::Table = toml::from_str(
            r#"
            [kafka.properties]
            "sasl.password" = "hunter2"
            "sasl.username" = "alice"
            ssl.key.password = "nested"
            "ssl.key.pem" = ["in", "an", "array"]
            "#,
        )
        .expect("TOML");
        let mut found = secret_values(&table);
        found.sort();
        assert_eq!(found, ["an", "array", "hunter2", "in", "nested"]);

        let malformed: toml::Table =
            toml::from_str("[kafka]\nproperties = '{ \"sasl.password\" = \"x\"'").expect("TOML");
        assert_eq!(secret_values(&malformed), ["{ \"sasl.password\" = \"x\""]);
        assert!(secret_values(&toml::Table::new()).is_empty());
    }
}
