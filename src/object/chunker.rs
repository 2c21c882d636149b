//! Content-defined chunking with `FastCDC` (2020).

use std::io::Read;

use fastcdc::v2020::{
    AVERAGE_MAX, AVERAGE_MIN, FastCDC, MAXIMUM_MAX, MAXIMUM_MIN, MINIMUM_MAX, MINIMUM_MIN,
    StreamCDC,
};
use serde::{Deserialize, Serialize};

use super::previous::PreviousChunks;
use crate::hash::Hash;

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

/// The read buffer, in maximum chunks. What a round leaves uncut (less than a maximum
/// chunk) moves to the buffer's front before the next read: with room for four, that
/// copy is at most a third of what the round reads; with one and a half, it could be
/// twice what the round read. (With this and pack writes that skip the write buffer
/// for large objects, `memmove` fell from 7.3–8.0% to 5.2–5.3% of an initial
/// checkpoint's samples.)
const BUFFER_MAXES: usize = 4;

/// Cuts a stream into exactly the chunks [`chunks`] yields, without copying each one:
/// every [`Round`] lends the bytes read since the last round and cuts chunks out of
/// them as slices of one reused buffer of [`BUFFER_MAXES`] maximum chunks (4 MiB by
/// default).
///
/// `StreamCDC` copies every chunk out of its buffer and moves the rest of the buffer to
/// the front after each cut (three quarters of a maximum chunk moved per average one
/// with the default limits);
/// here the bytes after the last cut move once per buffer, and a chunk the repository
/// already has is never copied. A larger buffer moves less but is held once per core.
///
/// Given the chunks of the file's previous version ([`PreviousChunks`]), a chunk that
/// is still there is recognised by its hash instead of being searched for with
/// `FastCDC`'s rolling hash: the cuts are the same (see [`PreviousChunks`]), and an
/// edit in the middle of a 100 MiB file costs hashing it, not scanning it as well.
pub struct Chunker<'r> {
    reader: &'r mut dyn Read,
    buf: Vec<u8>,
    len: usize,
    eof: bool,
    cuts: Cuts,
}

/// What a round's cutting needs between rounds: the limits, where the last round
/// stopped, and what is known of the previous version.
struct Cuts {
    config: ChunkerConfig,
    /// Stream offset of `buf[0]`.
    offset: u64,
    /// End of the last chunk cut, in `buf`.
    cut_to: usize,
    previous: Option<PreviousChunks>,
}

/// What one [`Chunker::next_round`] read; [`Round::cut`] cuts its chunks.
pub struct Round<'a> {
    /// The bytes read in this round, in stream order (for a hash of the whole stream).
    pub fresh: &'a [u8],
    data: &'a [u8],
    eof: bool,
    cuts: &'a mut Cuts,
}

impl<'r> Chunker<'r> {
    /// A chunker over `reader` with `config`'s limits.
    pub fn new(reader: &'r mut dyn Read, config: ChunkerConfig) -> Chunker<'r> {
        Chunker {
            reader,
            buf: Vec::new(),
            len: 0,
            eof: false,
            cuts: Cuts {
                config,
                offset: 0,
                cut_to: 0,
                previous: None,
            },
        }
    }

    /// Looks for the chunks of `previous` (the stream's earlier version, cut with the
    /// same limits) before searching for cut points.
    #[must_use]
    pub fn with_previous(mut self, previous: PreviousChunks) -> Self {
        self.cuts.previous = Some(previous);
        self
    }

    /// What is known of the previous version, and how much of it was found.
    #[must_use]
    pub fn previous(&self) -> Option<&PreviousChunks> {
        self.cuts.previous.as_ref()
    }

    /// Reads until the buffer is full or the stream ends; `None` once the stream is
    /// consumed. The round must be [cut](Round::cut) before the next one is read.
    pub fn next_round(&mut self) -> std::io::Result<Option<Round<'_>>> {
        let max = self.cuts.config.max as usize;
        if self.buf.is_empty() {
            self.buf = vec![0; max * BUFFER_MAXES];
        }
        let cut_to = self.cuts.cut_to;
        self.buf.copy_within(cut_to..self.len, 0);
        self.len -= cut_to;
        self.cuts.offset += cut_to as u64;
        self.cuts.cut_to = 0;
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
        Ok(Some(Round {
            fresh: &data[start..],
            data,
            eof: self.eof,
            cuts: &mut self.cuts,
        }))
    }
}

impl<'a> Round<'a> {
    /// Cuts every chunk whose end is certain and hands each, with its hash, to `each`
    /// in stream order; stops at the first error `each` returns. With the previous
    /// version's chunks, a chunk not found among them comes with the old chunks it most
    /// likely replaced (see [`PreviousChunks::replaced`]); otherwise that list is empty.
    pub fn cut<E>(
        &mut self,
        mut each: impl FnMut(&[u8], Hash, &[Hash]) -> Result<(), E>,
    ) -> Result<(), E> {
        let data = self.data;
        let cuts = &mut *self.cuts;
        let max = cuts.config.max as usize;
        let cdc = FastCDC::new(
            data,
            cuts.config.min as usize,
            cuts.config.avg as usize,
            max,
        );
        let mut pos = cuts.cut_to;
        // Before the end of the stream a cut needs a whole maximum chunk ahead of it,
        // as in `StreamCDC`, so the cut points are the same.
        while pos < data.len() && (self.eof || data.len() - pos >= max) {
            let at = cuts.offset + pos as u64;
            let found = match &mut cuts.previous {
                Some(previous) => previous.find(at, &data[pos..], cuts.config),
                None => None,
            };
            let mut replaced = Vec::new();
            let (end, id) = if let Some((len, id)) = found {
                (pos + len, id)
            } else {
                let (_, end) = cdc.cut(pos, data.len() - pos);
                let id = Hash::of(&data[pos..end]);
                if let Some(previous) = &mut cuts.previous {
                    replaced = previous.replaced(at, end - pos, super::delta::MAX_BASES);
                    replaced.retain(|old| *old != id);
                    previous.align(at, &id);
                }
                (end, id)
            };
            each(&data[pos..end], id, &replaced)?;
            pos = end;
            cuts.cut_to = pos;
        }
        Ok(())
    }

    /// The chunks [`Round::cut`] cuts, as slices (for tests and benchmarks).
    pub fn chunks(&mut self) -> Vec<&'a [u8]> {
        let data = self.data;
        let mut at = self.cuts.cut_to;
        let mut ranges = Vec::new();
        let cut = self.cut(|chunk, _, _| -> Result<(), std::convert::Infallible> {
            ranges.push(at..at + chunk.len());
            at += chunk.len();
            Ok(())
        });
        match cut {
            Ok(()) => ranges.into_iter().map(|r| &data[r]).collect(),
        }
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
            while let Some(mut round) = chunker.next_round().unwrap() {
                fresh.extend_from_slice(round.fresh);
                got.extend(round.chunks().iter().map(|c| c.to_vec()));
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
