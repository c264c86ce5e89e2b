//! The body of a `/metrics` response, kept between scrapes of one snapshot.
//!
//! Rendering a large floor and compressing it is nearly all the cost of a scrape, and a snapshot
//! is often scraped more than once (a Prometheus pair, a person with curl, retries), so the text
//! of the latest snapshot, and its compressed form once a client asks for gzip, are kept until
//! a newer snapshot is scraped. The service's own families change between two scrapes of one
//! snapshot; they are encoded every time and appended: to the text, and to the compressed form
//! as a second deflate stream after a sync flush, so the body stays a single gzip member (some
//! clients read only the first member of a gzip file).

use std::io;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use prometheus::proto::MetricFamily;
use salespulse_engine::Snapshot;

use crate::Selection;
use crate::extra::encode_families;
use crate::families::write_snapshot;

/// A gzip member header (RFC 1952): deflate, no flags, no time, "fastest" (level 1), unknown OS,
/// as `flate2`'s encoder writes it.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

/// Room added to the output whenever the compressor runs short of it.
const DEFLATE_CHUNK: usize = 256 * 1024;

/// The exposition of the latest snapshot scraped; one per served endpoint.
#[derive(Debug, Default)]
pub struct ScrapeCache {
    latest: Mutex<Option<Rendered>>,
}

#[derive(Debug)]
struct Rendered {
    /// The key: the snapshot's allocation, which the weak reference keeps from being reused for
    /// another snapshot while this entry exists (without keeping the snapshot itself alive).
    snapshot: Weak<Snapshot>,
    selection: Selection,
    text: String,
    compressed: Option<Deflated>,
}

/// An open deflate stream of some text, ended by a sync flush so that more can follow.
#[derive(Debug, Default)]
struct Deflated {
    stream: Vec<u8>,
    crc: Crc,
}

impl ScrapeCache {
    /// The body of a scrape: the exposition of `snapshot` under `selection`, then `extra`,
    /// gzipped when `gzip`. Scrapes of one snapshot render it once; concurrent scrapes wait for
    /// each other rather than render the same text twice.
    pub fn body(
        &self,
        snapshot: &Arc<Snapshot>,
        selection: &Selection,
        extra: &[MetricFamily],
        gzip: bool,
    ) -> io::Result<Vec<u8>> {
        let extra = match encode_families(extra) {
            Ok(extra) => extra,
            // Like the whole exposition before, an encoding failure replaces the body.
            Err(error) => {
                let text = format!("# salespulse: encoding failed: {error}\n");
                return if gzip {
                    gzip_member(&Deflated::default(), text.as_bytes())
                } else {
                    Ok(text.into_bytes())
                };
            }
        };
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        // The old text's buffer takes the new text: it has the right size and its pages are
        // mapped already (writing tens of megabytes into fresh memory is mostly page faults).
        let buffer = latest
            .take_if(|rendered| !rendered.is_of(snapshot, selection))
            .map(|stale| stale.text)
            .unwrap_or_default();
        let rendered = latest.get_or_insert_with(|| Rendered::new(snapshot, selection, buffer));
        if !gzip {
            let mut body = Vec::with_capacity(rendered.text.len() + extra.len());
            body.extend_from_slice(rendered.text.as_bytes());
            body.extend_from_slice(extra.as_bytes());
            return Ok(body);
        }
        let head = match &mut rendered.compressed {
            Some(head) => head,
            none => none.insert(Deflated::open(rendered.text.as_bytes())?),
        };
        gzip_member(head, extra.as_bytes())
    }
}

impl Rendered {
    fn new(snapshot: &Arc<Snapshot>, selection: &Selection, mut text: String) -> Rendered {
        text.clear();
        write_snapshot(snapshot, selection, &mut text);
        Rendered {
            snapshot: Arc::downgrade(snapshot),
            selection: selection.clone(),
            text,
            compressed: None,
        }
    }

    fn is_of(&self, snapshot: &Arc<Snapshot>, selection: &Selection) -> bool {
        std::ptr::eq(self.snapshot.as_ptr(), Arc::as_ptr(snapshot)) && self.selection == *selection
    }
}

impl Deflated {
    fn open(text: &[u8]) -> io::Result<Deflated> {
        let mut stream = Vec::new();
        deflate(text, FlushCompress::Sync, &mut stream)?;
        stream.shrink_to_fit();
        let mut crc = Crc::new();
        crc.update(text);
        Ok(Deflated { stream, crc })
    }
}

/// One gzip member of the text compressed in `head` followed by `tail`.
fn gzip_member(head: &Deflated, tail: &[u8]) -> io::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(GZIP_HEADER.len() + head.stream.len() + DEFLATE_CHUNK);
    body.extend_from_slice(&GZIP_HEADER);
    body.extend_from_slice(&head.stream);
    deflate(tail, FlushCompress::Finish, &mut body)?;
    let mut tail_crc = Crc::new();
    tail_crc.update(tail);
    let mut crc = Crc::new();
    crc.combine(&head.crc);
    crc.combine(&tail_crc);
    body.extend_from_slice(&crc.sum().to_le_bytes());
    body.extend_from_slice(&crc.amount().to_le_bytes());
    Ok(body)
}

/// Appends a raw deflate stream of `input` (fast compression, as before) to `out`, ended by
/// `end`: `Sync` leaves it open at a byte boundary for more blocks, `Finish` closes it.
fn deflate(input: &[u8], end: FlushCompress, out: &mut Vec<u8>) -> io::Result<()> {
    let mut compressor = Compress::new(Compression::fast(), false);
    let mut rest = input;
    loop {
        if out.capacity() - out.len() < DEFLATE_CHUNK {
            out.reserve(DEFLATE_CHUNK);
        }
        let flush = if rest.is_empty() {
            end
        } else {
            FlushCompress::None
        };
        let before = compressor.total_in();
        let status = compressor
            .compress_vec(rest, out, flush)
            .map_err(io::Error::other)?;
        let consumed = usize::try_from(compressor.total_in() - before).map_err(io::Error::other)?;
        rest = &rest[consumed..];
        // Output room left over means the flush is complete.
        let flushed = match end {
            FlushCompress::Finish => status == Status::StreamEnd,
            _ => out.len() < out.capacity(),
        };
        if rest.is_empty() && flush == end && flushed {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::GzDecoder;
    use salespulse_engine::{Engine, Period, Settings};
    use salespulse_events::parse_timestamp;

    use super::*;
    use crate::Family;

    fn snapshot() -> Arc<Snapshot> {
        let as_of = parse_timestamp("2026-11-25T12:00:00Z").expect("as of");
        let mut engine = Engine::new(Settings::default(), as_of);
        engine.ingest(
            br#"{"event_id":"e1","type":"rep_upserted","occurred_at":"2026-11-20T09:00:00Z","rep_id":"r-ana","team":"east","role":"bdr"}"#,
        );
        Arc::new(engine.snapshot())
    }

    fn lag(value: f64) -> Vec<MetricFamily> {
        let mut family = Family::gauge("lag", "Lag.");
        family.sample(&[("partition", "0")], value);
        family.finish().into_iter().collect()
    }

    fn gunzip(body: &[u8]) -> String {
        let mut text = String::new();
        GzDecoder::new(body)
            .read_to_string(&mut text)
            .expect("one valid gzip member");
        text
    }

    fn text_of(body: Vec<u8>) -> String {
        String::from_utf8(body).expect("utf-8")
    }

    const LAG_3: &str = "# HELP lag Lag.\n# TYPE lag gauge\nlag{partition=\"0\"} 3\n";
    const LAG_5: &str = "# HELP lag Lag.\n# TYPE lag gauge\nlag{partition=\"0\"} 5\n";

    #[test]
    fn the_body_is_the_snapshot_then_the_service_families() {
        let snapshot = snapshot();
        let selection = Selection::default();
        let text = text_of(
            ScrapeCache::default()
                .body(&snapshot, &selection, &lag(3.0), false)
                .expect("body"),
        );
        let rep_line = "sales_leads_awaiting_response{rep=\"r-ana\",team=\"east\"} 0\n";
        assert!(text.contains(rep_line), "{text}");
        assert!(text.ends_with(LAG_3), "{text}");
        assert!(
            text.find("salespulse_build_info") < text.find("# HELP lag"),
            "{text}"
        );
    }

    #[test]
    fn a_second_scrape_of_one_snapshot_has_fresh_service_families() {
        let cache = ScrapeCache::default();
        let snapshot = snapshot();
        let selection = Selection::default();
        let first = text_of(
            cache
                .body(&snapshot, &selection, &lag(3.0), false)
                .expect("body"),
        );
        let second = text_of(
            cache
                .body(&snapshot, &selection, &lag(5.0), false)
                .expect("body"),
        );
        let stem = first.strip_suffix(LAG_3).expect("first ends with its lag");
        assert_eq!(second, format!("{stem}{LAG_5}"));
    }

    #[test]
    fn gzip_bodies_decode_to_the_text_in_one_member() {
        let cache = ScrapeCache::default();
        let snapshot = snapshot();
        let selection = Selection::default();
        let plain = text_of(
            cache
                .body(&snapshot, &selection, &lag(3.0), false)
                .expect("body"),
        );
        let first = cache
            .body(&snapshot, &selection, &lag(3.0), true)
            .expect("gzip");
        let second = cache
            .body(&snapshot, &selection, &lag(5.0), true)
            .expect("gzip");
        assert_eq!(first[..10], GZIP_HEADER);
        assert!(first.len() < plain.len() / 5, "{} bytes", first.len());
        assert_eq!(gunzip(&first), plain);
        let stem = plain.strip_suffix(LAG_3).expect("ends with its lag");
        assert_eq!(gunzip(&second), format!("{stem}{LAG_5}"));
    }

    #[test]
    fn gzip_without_service_families_is_valid() {
        let snapshot = snapshot();
        let body = ScrapeCache::default()
            .body(&snapshot, &Selection::default(), &[], true)
            .expect("gzip");
        let text = gunzip(&body);
        assert!(text.starts_with("# HELP sales_window_start_timestamp_seconds"));
        assert!(text.ends_with("salespulse_build_info{version=\"0.1.0\"} 1\n"));
    }

    #[test]
    fn a_new_snapshot_or_selection_is_rendered_anew() {
        let cache = ScrapeCache::default();
        let selection = Selection::default();
        let first = snapshot();
        let before = text_of(cache.body(&first, &selection, &[], false).expect("body"));
        // Equal content in another allocation: a newer snapshot that is rendered, not reused.
        let mut changed = (*first).clone();
        changed.lead_response_sla_seconds = 42.0;
        let changed = Arc::new(changed);
        let after = text_of(cache.body(&changed, &selection, &[], false).expect("body"));
        assert!(
            before.contains("sales_lead_response_sla_seconds 300\n"),
            "{before}"
        );
        assert!(
            after.contains("sales_lead_response_sla_seconds 42\n"),
            "{after}"
        );
        let month = Selection {
            periods: vec![Period::Month],
            rep_histograms: false,
        };
        let light = text_of(cache.body(&changed, &month, &[], false).expect("body"));
        assert!(!light.contains("period=\"week\""), "{light}");
        assert!(light.contains("period=\"month\""), "{light}");
    }

    #[test]
    fn an_empty_service_family_replaces_the_body_with_the_error() {
        let empty = vec![MetricFamily::default()];
        let snapshot = snapshot();
        let cache = ScrapeCache::default();
        let plain = cache
            .body(&snapshot, &Selection::default(), &empty, false)
            .expect("body");
        let plain = text_of(plain);
        let expected = "# salespulse: encoding failed: Error: MetricFamily has no metrics: ";
        assert!(plain.starts_with(expected), "{plain}");
        assert_eq!(plain.lines().count(), 1, "{plain}");
        let gzip = cache
            .body(&snapshot, &Selection::default(), &empty, true)
            .expect("gzip");
        assert_eq!(gunzip(&gzip), plain);
    }
}
