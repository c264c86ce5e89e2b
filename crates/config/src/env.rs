//! Environment overrides: `SALESPULSE_<SECTION>__<KEY>=value` replaces `<section>.<key>` of the
//! file, and `SALESPULSE_KAFKA__PROPERTIES__<NAME>` sets one librdkafka property (`_` in the
//! name stands for `.`, so `SASL_PASSWORD` is `sasl.password`), which keeps secrets out of files.
//!
//! Only variables with a `__` after the prefix are overrides: others (`SALESPULSE_CONFIG`,
//! `SALESPULSE_LOG`, ...) belong to the command line and are left alone.

use std::collections::BTreeMap;

use toml::{Table, Value};

use crate::error::ConfigError;
use crate::raw::{SECTIONS, STRING_KEYS};

pub(crate) const PREFIX: &str = "SALESPULSE_";
const SEPARATOR: &str = "__";

/// Whether `name` is a configuration override (as opposed to another `SALESPULSE_` variable).
pub(crate) fn is_override(name: &str) -> bool {
    name.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.contains(SEPARATOR))
}

/// What an override variable sets.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Key { section: String, key: String },
    Property(String),
}

/// Applies the overrides to the parsed file and returns, for each key path set, the variable
/// that set it (so later errors can say where a bad value came from). Variables are applied in
/// name order, so `SALESPULSE_KAFKA__PROPERTIES` (a whole table) comes before single properties.
pub(crate) fn apply(
    table: &mut Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| is_override(name))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));

    let mut origins = BTreeMap::new();
    for (var, raw) in vars {
        match resolve(&var)? {
            Target::Key { section, key } => {
                let path = format!("{section}.{key}");
                let value = parse_value(&raw, STRING_KEYS.contains(&path.as_str()));
                table_at(table, &section, &var)?.insert(key, value);
                origins.insert(path, var);
            }
            Target::Property(name) => {
                let value = parse_value(&raw, true);
                let kafka = table_at(table, "kafka", &var)?;
                let properties = kafka
                    .entry("properties")
                    .or_insert_with(|| Value::Table(Table::new()));
                let Value::Table(properties) = properties else {
                    return Err(ConfigError::Environment {
                        var,
                        message: "cannot set a property: kafka.properties is not a table"
                            .to_owned(),
                    });
                };
                properties.insert(name.clone(), value);
                origins.insert(format!("kafka.properties.{name}"), var);
            }
        }
    }
    Ok(origins)
}

/// Maps a variable name to the key it sets, or explains why it names none.
fn resolve(var: &str) -> Result<Target, ConfigError> {
    let error = |message: String| ConfigError::Environment {
        var: var.to_owned(),
        message,
    };
    let rest = var.strip_prefix(PREFIX).unwrap_or(var);
    let parts: Vec<String> = rest.split(SEPARATOR).map(str::to_ascii_lowercase).collect();
    if parts.iter().any(String::is_empty) {
        return Err(error(
            "malformed override name (expected SALESPULSE_<SECTION>__<KEY>, e.g. \
             SALESPULSE_BUSINESS__TIMEZONE)"
                .to_owned(),
        ));
    }
    let Some((section, rest)) = parts.split_first() else {
        return Err(error("malformed override name".to_owned()));
    };
    let section = section.as_str();
    if section == "roster" {
        return Err(error(
            "[[roster]] entries cannot be overridden from the environment (set them in the \
             configuration file, or send rep_upserted events)"
                .to_owned(),
        ));
    }
    let Some((_, keys)) = SECTIONS.iter().find(|(name, _)| *name == section) else {
        return Err(error(format!(
            "unknown configuration section [{section}] (expected one of {})",
            SECTIONS
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    match rest {
        [key] if keys.contains(&key.as_str()) => Ok(Target::Key {
            section: section.to_owned(),
            key: key.clone(),
        }),
        [key, name] if section == "kafka" && key == "properties" => {
            Ok(Target::Property(name.replace('_', ".")))
        }
        _ => Err(error(format!(
            "unknown configuration key {} (keys of [{section}]: {})",
            parts.join("."),
            keys.join(", ")
        ))),
    }
}

/// An override's value: TOML when it parses as a TOML value (numbers, booleans, arrays, inline
/// tables, quoted strings), else the text itself. For text keys, only a quoted TOML string is
/// unquoted; anything else is taken verbatim (`123` as a group id, `UTC` as a time zone).
fn parse_value(raw: &str, text_key: bool) -> Value {
    match raw.parse::<Value>() {
        Ok(Value::String(text)) => Value::String(text),
        Ok(value) if !text_key => value,
        _ => Value::String(raw.to_owned()),
    }
}

/// The section table `name`, created if the file has none.
fn table_at<'t>(table: &'t mut Table, name: &str, var: &str) -> Result<&'t mut Table, ConfigError> {
    match table
        .entry(name)
        .or_insert_with(|| Value::Table(Table::new()))
    {
        Value::Table(section) => Ok(section),
        _ => Err(ConfigError::Environment {
            var: var.to_owned(),
            message: format!("cannot override a key of [{name}]: {name} is not a table"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(section: &str, key: &str) -> Target {
        Target::Key {
            section: section.to_owned(),
            key: key.to_owned(),
        }
    }

    #[test]
    fn names_are_lower_cased_and_split() {
        assert_eq!(
            resolve("SALESPULSE_BUSINESS__TIMEZONE").expect("known key"),
            key("business", "timezone")
        );
        assert_eq!(
            resolve("SALESPULSE_Kafka__Group_Id").expect("known key"),
            key("kafka", "group_id")
        );
        assert_eq!(
            resolve("SALESPULSE_KAFKA__PROPERTIES__SASL_PASSWORD").expect("property"),
            Target::Property("sasl.password".to_owned())
        );
    }

    #[test]
    fn only_double_underscore_names_are_overrides() {
        assert!(is_override("SALESPULSE_BUSINESS__TIMEZONE"));
        assert!(!is_override("SALESPULSE_CONFIG"));
        assert!(!is_override("salespulse_business__timezone"));
        assert!(!is_override("OTHER_BUSINESS__TIMEZONE"));
    }

    #[test]
    fn bad_names_are_errors_naming_the_variable() {
        for var in [
            "SALESPULSE_BUSINESS__TIMEZON",
            "SALESPULSE_NOPE__X",
            "SALESPULSE_BUSINESS__",
            "SALESPULSE___TIMEZONE",
            "SALESPULSE_BUSINESS__TIMEZONE__X",
            "SALESPULSE_ROSTER__REP_ID",
            "SALESPULSE_KAFKA__PROPERTIES__A__B",
        ] {
            let error = resolve(var).expect_err(var);
            assert!(error.to_string().starts_with(var), "{error}");
        }
        let error = resolve("SALESPULSE_BUSINESS__TIMEZON").expect_err("unknown");
        assert!(error.to_string().contains("business.timezon"), "{error}");
        let error = resolve("SALESPULSE_NOPE__X").expect_err("unknown");
        assert!(error.to_string().contains("[nope]"), "{error}");
    }

    #[test]
    fn values_are_toml_when_they_parse() {
        assert_eq!(parse_value("42", false), Value::Integer(42));
        assert_eq!(parse_value("true", false), Value::Boolean(true));
        assert_eq!(
            parse_value(r#"["a", "b"]"#, false),
            Value::Array(vec![Value::String("a".into()), Value::String("b".into())])
        );
        assert_eq!(
            parse_value("Europe/Berlin", true),
            Value::String("Europe/Berlin".into())
        );
        assert_eq!(parse_value("a:9092", false), Value::String("a:9092".into()));
        assert_eq!(
            parse_value(r#""quoted""#, true),
            Value::String("quoted".into())
        );
        assert_eq!(parse_value("123", true), Value::String("123".into()));
        assert_eq!(parse_value("", false), Value::String(String::new()));
        assert_eq!(
            parse_value("1\nx = 2", false),
            Value::String("1\nx = 2".into())
        );
    }
}
