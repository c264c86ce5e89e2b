//! The Prometheus text format 0.0.4, written straight into a string: one `name{labels} value`
//! line per sample, with no metric object in between. What it prints is what the `prometheus`
//! crate's `TextEncoder` prints for the same family (the exposition of this crate's past), down
//! to the byte: escaping of HELP texts and label values, `f64` as Rust's `Display` writes it,
//! the implicit `+Inf` bucket, and no family without samples.
//!
//! Labels are rendered once into a [`LabelSet`] and reused for every line that carries them (a
//! rep's labels go on some two hundred lines), so a line is a handful of copies.

use std::fmt::Write;

/// The `# TYPE` of a family.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Label pairs as they appear between the braces: `name="escaped value",...`.
#[derive(Debug)]
pub(crate) struct LabelSet(String);

impl LabelSet {
    /// `pairs` in order, each value escaped; at least one pair is expected.
    pub(crate) fn new(pairs: &[(&str, &str)]) -> LabelSet {
        let mut text = String::new();
        for (index, (name, value)) in pairs.iter().enumerate() {
            if index > 0 {
                text.push(',');
            }
            text.push_str(name);
            text.push_str("=\"");
            push_escaped(&mut text, value, true);
            text.push('"');
        }
        LabelSet(text)
    }
}

/// The upper bounds of a histogram, each with its `le` label.
#[derive(Debug)]
pub(crate) struct Buckets {
    bounds: Vec<(f64, LabelSet)>,
    infinity: LabelSet,
}

impl Buckets {
    pub(crate) fn new(bounds: &[f64]) -> Buckets {
        Buckets {
            bounds: bounds
                .iter()
                .map(|bound| (*bound, LabelSet::new(&[("le", &bound.to_string())])))
                .collect(),
            infinity: LabelSet::new(&[("le", "+Inf")]),
        }
    }
}

/// Writes one family into `out`: its HELP and TYPE lines, then whatever `samples` adds. A family
/// that ends up without a sample is taken back out, since it is not valid text.
pub(crate) fn family(
    out: &mut String,
    name: &'static str,
    help: &str,
    kind: Kind,
    samples: impl FnOnce(&mut Family<'_>),
) {
    let start = out.len();
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    push_escaped(out, help, false);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind.as_str());
    out.push('\n');
    let mut family = Family {
        out,
        name,
        samples: 0,
    };
    samples(&mut family);
    if family.samples == 0 {
        out.truncate(start);
    }
}

/// The sample lines of one family under way.
#[derive(Debug)]
pub(crate) struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
    samples: usize,
}

impl Family<'_> {
    /// A sample of `value` with the label sets `labels`, in order; `None` (a ratio with a zero
    /// denominator, C15) writes nothing.
    pub(crate) fn sample(&mut self, labels: &[&LabelSet], value: impl Into<Option<f64>>) {
        if let Some(value) = value.into() {
            self.line("", labels, None);
            push_f64(self.out, value);
            self.out.push('\n');
        }
    }

    /// A sample of a count, printed as the `f64` it was in the metric objects.
    pub(crate) fn count(&mut self, labels: &[&LabelSet], value: u64) {
        self.line("", labels, None);
        push_count(self.out, value);
        self.out.push('\n');
    }

    /// A histogram sample from cumulative counts per bucket: a `_bucket` line per bound, the
    /// `+Inf` bucket unless the bounds reach it, then `_sum` and `_count`.
    pub(crate) fn histogram(
        &mut self,
        labels: &[&LabelSet],
        buckets: &Buckets,
        cumulative_counts: &[u64],
        count: u64,
        sum: f64,
    ) {
        let mut infinite_bound = false;
        for ((bound, le), cumulative) in buckets.bounds.iter().zip(cumulative_counts) {
            self.line("_bucket", labels, Some(le));
            push_count(self.out, *cumulative);
            self.out.push('\n');
            infinite_bound |= *bound == f64::INFINITY;
        }
        if !infinite_bound {
            self.line("_bucket", labels, Some(&buckets.infinity));
            push_count(self.out, count);
            self.out.push('\n');
        }
        self.line("_sum", labels, None);
        push_f64(self.out, sum);
        self.out.push('\n');
        self.line("_count", labels, None);
        push_count(self.out, count);
        self.out.push('\n');
    }

    /// Everything of a sample line up to its value: the name, the suffix, the labels (and `le`),
    /// and the space.
    fn line(&mut self, suffix: &str, labels: &[&LabelSet], le: Option<&LabelSet>) {
        self.samples += 1;
        let out = &mut *self.out;
        out.push_str(self.name);
        out.push_str(suffix);
        let mut separator = '{';
        for set in labels.iter().copied().chain(le) {
            out.push(separator);
            out.push_str(&set.0);
            separator = ',';
        }
        if separator == ',' {
            out.push('}');
        }
        out.push(' ');
    }
}

/// Appends `text` with `\` and newline escaped, and `"` too in a label value.
fn push_escaped(out: &mut String, text: &str, label_value: bool) {
    let mut rest = text;
    while let Some(at) = rest
        .bytes()
        .position(|byte| byte == b'\\' || byte == b'\n' || (label_value && byte == b'"'))
    {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            _ => "\\\"",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// Integers up to 2^53 are exact in an `f64`, and `Display` prints such an `f64` with the
/// integer's digits: below this bound the cheaper integer formatting gives the same text.
const EXACT_INTEGERS: u64 = 1 << 53;

/// Appends `value` exactly as `f64::to_string` would.
fn push_f64(out: &mut String, value: f64) {
    let integral = value.fract() == 0.0 && value.abs() < EXACT_INTEGERS as f64;
    // -0.0 is integral too but prints as "-0", which the integer 0 does not.
    if integral && !(value == 0.0 && value.is_sign_negative()) {
        push_integer(out, value as i64);
    } else {
        // Writing to a `String` cannot fail.
        let _ = write!(out, "{value}");
    }
}

/// Appends `count` as `(count as f64).to_string()` would: counts past 2^53 are rounded alike.
fn push_count(out: &mut String, count: u64) {
    if count < EXACT_INTEGERS {
        push_integer(out, count as i64);
    } else {
        push_f64(out, count as f64);
    }
}

fn push_integer(out: &mut String, value: i64) {
    out.push_str(itoa::Buffer::new().format(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f64_text(value: f64) -> String {
        let mut out = String::new();
        push_f64(&mut out, value);
        out
    }

    fn count_text(value: u64) -> String {
        let mut out = String::new();
        push_count(&mut out, value);
        out
    }

    fn histogram_of(bounds: &[f64], labels: &[&LabelSet], counts: &[u64], sum: f64) -> String {
        let mut out = String::new();
        let count = counts.last().copied().unwrap_or(0);
        family(&mut out, "h", "H.", Kind::Histogram, |family| {
            family.histogram(labels, &Buckets::new(bounds), counts, count, sum);
        });
        out
    }

    #[test]
    fn floats_print_like_display() {
        assert_eq!(f64_text(0.0), "0");
        assert_eq!(f64_text(-0.0), "-0");
        assert_eq!(f64_text(3.0), "3");
        assert_eq!(f64_text(-7.0), "-7");
        assert_eq!(f64_text(1e15), "1000000000000000");
        assert_eq!(f64_text(9_007_199_254_740_991.0), "9007199254740991");
        assert_eq!(f64_text(9_007_199_254_740_992.0), "9007199254740992");
        assert_eq!(f64_text(1e21), "1000000000000000000000");
        assert_eq!(f64_text(0.1), "0.1");
        assert_eq!(f64_text(202.943), "202.943");
        assert_eq!(f64_text(1e-7), "0.0000001");
        assert_eq!(f64_text(-2.5), "-2.5");
        assert_eq!(f64_text(f64::NAN), "NaN");
        assert_eq!(f64_text(f64::INFINITY), "inf");
        assert_eq!(f64_text(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn counts_print_as_the_f64_they_convert_to() {
        assert_eq!(count_text(0), "0");
        assert_eq!(count_text(42), "42");
        assert_eq!(count_text(9_007_199_254_740_991), "9007199254740991");
        // 2^53 + 1 is not an f64: it rounds to 2^53.
        assert_eq!(count_text(9_007_199_254_740_993), "9007199254740992");
        assert_eq!(count_text(u64::MAX), "18446744073709552000");
    }

    #[test]
    fn label_values_escape_backslash_newline_and_quote() {
        let labels = LabelSet::new(&[("rep", "a\"b\\c\nd"), ("team", "é✓")]);
        assert_eq!(labels.0, "rep=\"a\\\"b\\\\c\\nd\",team=\"é✓\"");
    }

    #[test]
    fn lines_join_the_label_sets_in_order() {
        let rep = LabelSet::new(&[("rep", "a"), ("team", "t")]);
        let window = LabelSet::new(&[("period", "week"), ("window", "current")]);
        let mut out = String::from("before\n");
        family(&mut out, "m", "Help.", Kind::Gauge, |family| {
            family.count(&[&rep, &window], 2);
            family.sample(&[&window], 0.5);
            family.sample(&[], -1.0);
        });
        assert_eq!(
            out,
            "before\n# HELP m Help.\n# TYPE m gauge\n\
             m{rep=\"a\",team=\"t\",period=\"week\",window=\"current\"} 2\n\
             m{period=\"week\",window=\"current\"} 0.5\n\
             m -1\n"
        );
    }

    #[test]
    fn help_escapes_backslash_and_newline_but_not_quotes() {
        let mut out = String::new();
        family(&mut out, "m", "a \"b\" \\ c\nd", Kind::Counter, |family| {
            family.sample(&[], 1.5);
        });
        assert_eq!(
            out,
            "# HELP m a \"b\" \\\\ c\\nd\n# TYPE m counter\nm 1.5\n"
        );
    }

    #[test]
    fn a_family_without_samples_is_left_out() {
        let mut out = String::from("before\n");
        let labels = LabelSet::new(&[("a", "b")]);
        family(&mut out, "m", "Help.", Kind::Gauge, |family| {
            family.sample(&[&labels], None);
        });
        assert_eq!(out, "before\n");
    }

    #[test]
    fn histograms_add_the_infinite_bucket_sum_and_count() {
        let team = LabelSet::new(&[("team", "x")]);
        assert_eq!(
            histogram_of(&[30.0, 60.0], &[&team], &[1, 3], 250.5),
            "# HELP h H.\n# TYPE h histogram\n\
             h_bucket{team=\"x\",le=\"30\"} 1\n\
             h_bucket{team=\"x\",le=\"60\"} 3\n\
             h_bucket{team=\"x\",le=\"+Inf\"} 3\n\
             h_sum{team=\"x\"} 250.5\n\
             h_count{team=\"x\"} 3\n"
        );
    }

    #[test]
    fn an_infinite_bound_is_not_repeated() {
        assert_eq!(
            histogram_of(&[0.25, f64::INFINITY], &[], &[1, 2], 0.0),
            "# HELP h H.\n# TYPE h histogram\n\
             h_bucket{le=\"0.25\"} 1\n\
             h_bucket{le=\"inf\"} 2\n\
             h_sum 0\n\
             h_count 2\n"
        );
    }
}
