//! Content-defined chunking with `FastCDC` (2020).

use std::io::Read;

use fastcdc::v2020::{
    AVERAGE_MAX, AVERAGE_MIN, FastCDC, MAXIMUM_MAX, MAXIMUM_MIN, MINIMUM_MAX, MINIMUM_MIN,
    StreamCDC,
};
use serde::{Deserialize, Serialize};

/// Chunk size limits, fixed in the repository config at init.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerConfig {
    /// Smallest chunk, except a file's last.
    pub min: u32,
    /// Target average.
    pub avg: u32,
    /// Largest chunk.
    pub max: u32,
}

/// The limits of a new repository. An edit inside a large file (bytes inserted into
/// footage) stores the one or two chunks around it again: with a 256 KiB average, ten
/// 4 KiB insertions into two 100 MiB files added 3.9 MiB to the repository, against
/// 16.0 MiB with a 1 MiB average (and 3.2 MiB with 128 KiB, whose manifests and index
/// rows grow for little); checkpoint times were the same (`docs/performance.md`).
impl Default for ChunkerConfig {
    fn default() -> Self {
        ChunkerConfig {
            min: 64 * 1024,
            avg: 256 * 1024,
            max: 1024 * 1024,
        }
    }
}

impl ChunkerConfig {
    /// Checks the limits against `FastCDC`'s and each other.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let (min, avg, max) = (self.min as usize, self.avg as usize, self.max as usize);
        let ok = (MINIMUM_MIN..=MINIMUM_MAX).contains(&min)
            && (AVERAGE_MIN..=AVERAGE_MAX).contains(&avg)
            && (MAXIMUM_MIN..=MAXIMUM_MAX).contains(&max)
            && min <= avg
            && avg <= max;
        if ok {
            Ok(())
        } else {
            Err(format!(
                "chunk sizes min {min} / avg {avg} / max {max} are outside FastCDC's limits \
                 ({MINIMUM_MIN}..={MINIMUM_MAX} / {AVERAGE_MIN}..={AVERAGE_MAX} / \
                 {MAXIMUM_MIN}..={MAXIMUM_MAX}) or out of order"
            ))
        }
    }
}

/// Cuts a stream into content-defined chunks, holding at most one `max`-sized buffer.
pub fn chunks<R: Read>(
    reader: R,
    config: ChunkerConfig,
) -> impl Iterator<Item = std::io::Result<Vec<u8>>> {
    StreamCDC::new(
        reader,
        config.min as usize,
        config.avg as usize,
        config.max as usize,
    )
    .map(|r| r.map(|c| c.data).map_err(std::io::Error::from))
}

/// Cuts a stream into exactly the chunks [`chunks`] yields, without copying each one:
/// every [`Round`] lends the bytes read since the last round and the chunks cut, as
/// slices of one reused buffer of one and a half maximum chunks (1.5 MiB by default).
///
/// `StreamCDC` copies every chunk out of its buffer and moves the rest of the buffer to
/// the front after each cut (three quarters of a maximum chunk moved per average one
/// with the default limits);
/// here the bytes after the last cut move once per buffer, and a chunk the repository
/// already has is never copied. A larger buffer moves less but is held once per core.
pub struct Chunker<'r> {
    reader: &'r mut dyn Read,
    config: ChunkerConfig,
    buf: Vec<u8>,
    len: usize,
    cut_to: usize,
    eof: bool,
}

/// What one [`Chunker::next_round`] read and cut.
pub struct Round<'a> {
    /// The bytes read in this round, in stream order (for a hash of the whole stream).
    pub fresh: &'a [u8],
    /// The chunks cut in this round, in stream order.
    pub chunks: Vec<&'a [u8]>,
}

impl<'r> Chunker<'r> {
    /// A chunker over `reader` with `config`'s limits.
    pub fn new(reader: &'r mut dyn Read, config: ChunkerConfig) -> Chunker<'r> {
        Chunker {
            reader,
            config,
            buf: Vec::new(),
            len: 0,
            cut_to: 0,
            eof: false,
        }
    }

    /// Reads until the buffer is full or the stream ends, and cuts every chunk whose
    /// end is certain; `None` once the stream is consumed.
    pub fn next_round(&mut self) -> std::io::Result<Option<Round<'_>>> {
        let max = self.config.max as usize;
        if self.buf.is_empty() {
            self.buf = vec![0; max + max / 2];
        }
        self.buf.copy_within(self.cut_to..self.len, 0);
        self.len -= self.cut_to;
        self.cut_to = 0;
        let start = self.len;
        while !self.eof && self.len < self.buf.len() {
            match self.reader.read(&mut self.buf[self.len..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.len == 0 {
            return Ok(None);
        }
        let data = &self.buf[..self.len];
        let cdc = FastCDC::new(
            data,
            self.config.min as usize,
            self.config.avg as usize,
            max,
        );
        let mut chunks = Vec::new();
        let mut pos = 0;
        // Before the end of the stream a cut needs a whole maximum chunk ahead of it,
        // as in `StreamCDC`, so the cut points are the same.
        while pos < data.len() && (self.eof || data.len() - pos >= max) {
            let (_, end) = cdc.cut(pos, data.len() - pos);
            chunks.push(&data[pos..end]);
            pos = end;
        }
        self.cut_to = pos;
        Ok(Some(Round {
            fresh: &data[start..],
            chunks,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_input_and_respect_limits() {
        let mut data = vec![0u8; 3 << 20];
        blake3::Hasher::new().finalize_xof().fill(&mut data);
        let cfg = ChunkerConfig {
            min: 16 * 1024,
            avg: 64 * 1024,
            max: 256 * 1024,
        };
        let parts: Vec<Vec<u8>> = chunks(&data[..], cfg).map(Result::unwrap).collect();
        assert!(parts.len() > 10);
        assert_eq!(parts.concat(), data);
        let (last, rest) = parts.split_last().unwrap();
        assert!(
            rest.iter()
                .all(|c| c.len() >= 16 * 1024 && c.len() <= 256 * 1024)
        );
        assert!(!last.is_empty());
    }

    /// The reusable-buffer chunker cuts where `StreamCDC` does (a change would split
    /// every file differently from what repositories hold), and its rounds' fresh
    /// bytes are the stream.
    #[test]
    fn chunker_cuts_where_stream_cdc_does() {
        let cfg = ChunkerConfig {
            min: 16 * 1024,
            avg: 64 * 1024,
            max: 256 * 1024,
        };
        for len in [0, 1, 16 * 1024, 256 * 1024, 1024 * 1024 + 7, 5 << 20] {
            let mut data = vec![0u8; len];
            blake3::Hasher::new_derive_key("chunker test")
                .update(&len.to_le_bytes())
                .finalize_xof()
                .fill(&mut data);
            // Runs of one byte make maximum-size chunks.
            if len > 600_000 {
                data[100_000..600_000].fill(0);
            }
            let expected: Vec<Vec<u8>> = chunks(&data[..], cfg).map(Result::unwrap).collect();
            // Short reads, as from a pipe.
            let mut reader = std::io::Read::chain(&data[..data.len() / 3], &data[data.len() / 3..]);
            let mut chunker = Chunker::new(&mut reader, cfg);
            let (mut got, mut fresh) = (Vec::new(), Vec::new());
            while let Some(round) = chunker.next_round().unwrap() {
                fresh.extend_from_slice(round.fresh);
                got.extend(round.chunks.iter().map(|c| c.to_vec()));
            }
            assert_eq!(got, expected, "{len} bytes");
            assert_eq!(fresh, data);
        }
    }

    #[test]
    fn rejects_out_of_range_config() {
        let bad = ChunkerConfig {
            min: 1,
            avg: 2,
            max: 3,
        };
        assert!(bad.validate().is_err());
        assert!(ChunkerConfig::default().validate().is_ok());
    }
}
