//! Content-defined chunking with `FastCDC` (2020).

use std::io::Read;

use fastcdc::v2020::{
    AVERAGE_MAX, AVERAGE_MIN, MAXIMUM_MAX, MAXIMUM_MIN, MINIMUM_MAX, MINIMUM_MIN, StreamCDC,
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

impl Default for ChunkerConfig {
    fn default() -> Self {
        ChunkerConfig {
            min: 256 * 1024,
            avg: 1024 * 1024,
            max: 4 * 1024 * 1024,
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
