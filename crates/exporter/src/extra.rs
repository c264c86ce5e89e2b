//! Families a service appends to the snapshot's exposition (the consumer's lag, readiness and
//! the like): few, built fresh for every scrape as `prometheus` metric objects, and encoded by the
//! `prometheus` crate's text encoder.

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

/// A metric family under construction.
#[derive(Debug)]
pub struct Family {
    inner: MetricFamily,
}

impl Family {
    pub fn gauge(name: &str, help: &str) -> Family {
        Family::new(name, help, MetricType::GAUGE)
    }

    pub fn counter(name: &str, help: &str) -> Family {
        Family::new(name, help, MetricType::COUNTER)
    }

    fn new(name: &str, help: &str, kind: MetricType) -> Family {
        let mut inner = MetricFamily::default();
        inner.set_name(name.to_owned());
        inner.set_help(help.to_owned());
        inner.set_field_type(kind);
        Family { inner }
    }

    /// Adds a sample; `None` adds nothing.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Option<f64>>) {
        let Some(value) = value.into() else {
            return;
        };
        let mut metric = Metric::from_label(
            labels
                .iter()
                .map(|(name, value)| {
                    let mut pair = LabelPair::default();
                    pair.set_name((*name).to_owned());
                    pair.set_value((*value).to_owned());
                    pair
                })
                .collect(),
        );
        if self.inner.get_field_type() == MetricType::COUNTER {
            let mut counter = Counter::default();
            counter.set_value(value);
            metric.set_counter(counter);
        } else {
            let mut gauge = Gauge::default();
            gauge.set_value(value);
            metric.set_gauge(gauge);
        }
        self.inner.mut_metric().push(metric);
    }

    /// The finished family, or `None` when it has no sample (an empty family is not valid text).
    pub fn finish(self) -> Option<MetricFamily> {
        (!self.inner.get_metric().is_empty()).then_some(self.inner)
    }
}

/// `families` in the text format; it fails only on a family without samples.
pub(crate) fn encode_families(families: &[MetricFamily]) -> prometheus::Result<String> {
    prometheus::TextEncoder::new().encode_to_string(families)
}
