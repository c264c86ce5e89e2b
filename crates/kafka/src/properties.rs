//! librdkafka's judgement of a `[kafka.properties]` entry, before anything starts: an unknown
//! property or a value librdkafka cannot take would otherwise stop `run` only when it creates
//! its clients, after the state was restored.

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;

/// A property librdkafka refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kafka.properties.{name}: {reason}")]
pub struct PropertyError {
    /// The property, e.g. `security.protocol`.
    pub name: String,
    /// librdkafka's reason. It quotes the value only for numbers, booleans and enumerations,
    /// never for the text properties that hold secrets; the configuration loader masks every
    /// secret in it anyway.
    pub reason: String,
}

/// Refuses a property that librdkafka does not know, or whose value it cannot take. Only the
/// native configuration is built (`rd_kafka_conf_set`): nothing connects, reads a file or
/// starts a thread. One check covers the consumer and the producers: at this stage librdkafka
/// takes the same properties for both (it tells consumer from producer properties only when it
/// creates a client, and then merely warns).
pub fn check_property(name: &str, value: &str) -> Result<(), PropertyError> {
    let refused = |reason: String| PropertyError {
        name: name.to_owned(),
        reason,
    };
    match ClientConfig::new().set(name, value).create_native_config() {
        Ok(_) => Ok(()),
        // rdkafka's own message for this error appends the value, unmasked: keep librdkafka's.
        Err(KafkaError::ClientConfig(_, reason, _, _)) => Err(refused(reason)),
        Err(KafkaError::Nul(_)) => Err(refused(
            "contains a NUL character, which librdkafka cannot take".to_owned(),
        )),
        Err(other) => Err(refused(other.to_string())),
    }
}

/// The error of creating a client from `config`, as text with every secret value of the
/// configuration masked: rdkafka's message for a refused value quotes the value.
pub(crate) fn creation_error(
    what: &str,
    config: &ClientConfig,
    error: &KafkaError,
) -> anyhow::Error {
    let text = salespulse_config::mask_secrets(&error.to_string(), config.config_map());
    anyhow::anyhow!("{what}: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_properties_with_good_values_pass() {
        for (name, value) in [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "salespulse"),
            ("sasl.password", "any text"),
            ("session.timeout.ms", "6000"),
            ("enable.auto.commit", "false"),
            // A producer property and a consumer one: both are accepted at this stage.
            ("linger.ms", "20"),
            ("fetch.min.bytes", "1"),
            // A topic property, which librdkafka applies to the default topic configuration.
            ("acks", "all"),
        ] {
            assert_eq!(check_property(name, value), Ok(()), "{name} = {value}");
        }
    }

    #[test]
    fn an_unknown_property_is_refused_naming_it() {
        let error = check_property("sasl.passwd", "x").expect_err("a typo");
        assert_eq!(
            error.to_string(),
            "kafka.properties.sasl.passwd: No such configuration property: \"sasl.passwd\""
        );
        let error = check_property("sasl.jaas.config", "org.apache.kafka... password=\"p\"")
            .expect_err("a Java client property");
        assert_eq!(error.name, "sasl.jaas.config");
        assert!(
            error
                .reason
                .starts_with("Java JAAS configuration is not supported"),
            "{}",
            error.reason
        );
    }

    #[test]
    fn a_bad_value_is_refused_with_librdkafkas_reason_only() {
        let error = check_property("security.protocol", "SASL_SSLX").expect_err("bad enum");
        assert_eq!(
            error.to_string(),
            "kafka.properties.security.protocol: Invalid value \"SASL_SSLX\" for configuration \
             property \"security.protocol\""
        );
        let error = check_property("session.timeout.ms", "soon").expect_err("not a number");
        assert_eq!(error.name, "session.timeout.ms");
        assert!(
            error.reason.contains("session.timeout.ms"),
            "{}",
            error.reason
        );
        let error = check_property("sasl.password", "a\0b").expect_err("NUL");
        assert_eq!(
            error.to_string(),
            "kafka.properties.sasl.password: contains a NUL character, which librdkafka cannot take"
        );
    }
}
