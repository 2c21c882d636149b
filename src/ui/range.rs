//! HTTP `Range` requests (RFC 9110 §14): the one byte range a media player asks for.
//!
//! Browsers ask a `<video>` source for `bytes=0-` first and `bytes=N-` when seeking;
//! one range per request is all they send, so a request for several ranges is answered
//! with its first one (allowed: a server may ignore or coalesce ranges).

/// What a `Range` header asks of a body of a known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No header, or one this server does not understand (another unit, bad syntax):
    /// answer `200` with the whole body, as RFC 9110 says to ignore such headers.
    Whole,
    /// Bytes `start..start + len` of the body: answer `206` with `Content-Range`.
    Part {
        /// First byte.
        start: u64,
        /// Number of bytes (at least 1).
        len: u64,
    },
    /// Nothing of the body is in the range: answer `416` with `Content-Range: bytes */SIZE`.
    Unsatisfiable,
}

impl RangeRequest {
    /// The `Content-Range` header value for a part of a body of `size` bytes.
    #[must_use]
    pub fn content_range(&self, size: u64) -> Option<String> {
        match *self {
            RangeRequest::Whole => None,
            RangeRequest::Part { start, len } => {
                Some(format!("bytes {start}-{}/{size}", start + len - 1))
            }
            RangeRequest::Unsatisfiable => Some(format!("bytes */{size}")),
        }
    }
}

/// Reads a `Range` header (`None`: no header) against a body of `size` bytes.
#[must_use]
pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    // Several ranges: the first one (see the module doc).
    let first = spec.split(',').next().unwrap_or("").trim();
    let Some((from, to)) = first.split_once('-') else {
        return RangeRequest::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (from.trim().is_empty(), number(from), number(to)) {
        // `bytes=-N`: the last N bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || size == 0 {
                RangeRequest::Unsatisfiable
            } else {
                let len = suffix.min(size);
                RangeRequest::Part {
                    start: size - len,
                    len,
                }
            }
        }
        // `bytes=N-` or `bytes=N-M`.
        (false, Some(start), end) if to.trim().is_empty() || end.is_some() => {
            if end.is_some_and(|end| end < start) {
                return RangeRequest::Whole; // invalid: ignored, as the RFC says
            }
            if start >= size {
                return RangeRequest::Unsatisfiable;
            }
            let last = end.map_or(size - 1, |end| end.min(size - 1));
            RangeRequest::Part {
                start,
                len: last - start + 1,
            }
        }
        _ => RangeRequest::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::{RangeRequest, parse_range};

    fn part(start: u64, len: u64) -> RangeRequest {
        RangeRequest::Part { start, len }
    }

    #[test]
    fn a_single_range_is_clamped_to_the_body() {
        assert_eq!(parse_range(Some("bytes=0-99"), 1000), part(0, 100));
        assert_eq!(parse_range(Some("bytes=500-999"), 1000), part(500, 500));
        assert_eq!(parse_range(Some("bytes=500-5000"), 1000), part(500, 500));
        assert_eq!(parse_range(Some("bytes=999-999"), 1000), part(999, 1));
        assert_eq!(
            part(500, 500).content_range(1000).as_deref(),
            Some("bytes 500-999/1000")
        );
    }

    #[test]
    fn an_open_ended_range_runs_to_the_end() {
        assert_eq!(parse_range(Some("bytes=0-"), 1000), part(0, 1000));
        assert_eq!(parse_range(Some("bytes=640-"), 1000), part(640, 360));
    }

    #[test]
    fn a_suffix_range_is_the_last_bytes() {
        assert_eq!(parse_range(Some("bytes=-100"), 1000), part(900, 100));
        assert_eq!(parse_range(Some("bytes=-5000"), 1000), part(0, 1000));
        assert_eq!(
            parse_range(Some("bytes=-0"), 1000),
            RangeRequest::Unsatisfiable
        );
    }

    #[test]
    fn a_range_past_the_end_is_unsatisfiable() {
        assert_eq!(
            parse_range(Some("bytes=1000-"), 1000),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=2000-3000"), 1000),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=0-"), 0),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=-10"), 0),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            RangeRequest::Unsatisfiable.content_range(1000).as_deref(),
            Some("bytes */1000")
        );
    }

    #[test]
    fn what_is_not_understood_is_ignored() {
        for header in [
            "items=0-1",
            "bytes=abc",
            "bytes=5-1",
            "bytes=-",
            "bytes=1-2x",
            "bytes=+1-2",
            "bytes= -",
        ] {
            assert_eq!(
                parse_range(Some(header), 1000),
                RangeRequest::Whole,
                "{header}"
            );
        }
        assert_eq!(parse_range(None, 1000), RangeRequest::Whole);
        // Several ranges: the first.
        assert_eq!(parse_range(Some("bytes=0-9, 20-29"), 1000), part(0, 10));
    }
}
