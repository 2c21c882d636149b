//! The BLAKE3 of a stream, hashed beside the work that produces it.
//!
//! Reading a large file reads, verifies and writes its chunks one by one, then checks
//! the whole file against its id: a second BLAKE3 pass over the same bytes. On one
//! thread the two passes follow each other. [`hash_beside`] gives the second pass a
//! thread of its own, so it runs while the next chunk is read and written (restoring a
//! 100 MiB file one checkpoint back spent a quarter of its time in BLAKE3).

use std::sync::mpsc::sync_channel;

use crate::error::Result;
use crate::hash::Hash;

/// Streams shorter than this are hashed on the calling thread: a thread costs more
/// than it saves on a few chunks.
pub const BESIDE_MIN: u64 = 4 * 1024 * 1024;

/// Pieces handed to the hashing thread ahead of it. It bounds the memory held: at most
/// this many pieces, plus the one being hashed.
const AHEAD: usize = 2;

/// Runs `produce`, which hands the stream's pieces in order to the function it is
/// given, and returns the BLAKE3 of their concatenation, or `produce`'s error. A
/// stream of `len` bytes at least [`BESIDE_MIN`] is hashed on a second thread while
/// `produce` goes on (on the calling thread if no thread can be started).
pub fn hash_beside(
    len: u64,
    produce: impl FnOnce(&mut dyn FnMut(Vec<u8>)) -> Result<()>,
) -> Result<Hash> {
    if len < BESIDE_MIN {
        return hash_here(produce);
    }
    let (tx, rx) = sync_channel::<Vec<u8>>(AHEAD);
    std::thread::scope(|scope| {
        let hashing = std::thread::Builder::new()
            .name("reel-hash".into())
            .spawn_scoped(scope, move || {
                let mut hasher = blake3::Hasher::new();
                for piece in rx {
                    hasher.update(&piece);
                }
                Hash::from(hasher.finalize())
            });
        let Ok(hashing) = hashing else {
            return hash_here(produce);
        };
        // A send fails only if the hashing thread is gone, and then its join panics.
        let produced = produce(&mut |piece| {
            let _ = tx.send(piece);
        });
        drop(tx);
        let hash = hashing.join().expect("the hashing thread does not panic");
        produced.map(|()| hash)
    })
}

fn hash_here(produce: impl FnOnce(&mut dyn FnMut(Vec<u8>)) -> Result<()>) -> Result<Hash> {
    let mut hasher = blake3::Hasher::new();
    produce(&mut |piece| {
        hasher.update(&piece);
    })?;
    Ok(Hash::from(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn pieces(len: usize) -> Vec<Vec<u8>> {
        let mut data = vec![0u8; len];
        blake3::Hasher::new().finalize_xof().fill(&mut data);
        data.chunks(300_001).map(<[u8]>::to_vec).collect()
    }

    /// On either side of the threshold, the hash is the BLAKE3 of the pieces in order.
    #[test]
    fn the_hash_is_of_the_pieces_in_order() {
        for len in [0, 1000, BESIDE_MIN as usize - 1, BESIDE_MIN as usize + 7] {
            let parts = pieces(len);
            let whole: Vec<u8> = parts.concat();
            let got = hash_beside(len as u64, |feed| {
                for p in parts {
                    feed(p);
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(got, Hash::of(&whole), "{len} bytes");
        }
    }

    /// An error from the producer is returned (and the hashing thread ends).
    #[test]
    fn the_producers_error_is_returned() {
        let parts = pieces(2 * BESIDE_MIN as usize);
        let got = hash_beside(2 * BESIDE_MIN, |feed| {
            for (i, p) in parts.into_iter().enumerate() {
                if i == 3 {
                    return Err(Error::Invalid("stop".into()));
                }
                feed(p);
            }
            Ok(())
        });
        assert!(matches!(got, Err(Error::Invalid(m)) if m == "stop"));
    }
}
