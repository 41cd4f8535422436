//! Shared code of Pantheon's fuzz targets (`fuzz_targets/`): the checks
//! every target makes on what a decoder accepts, the consensus codec of
//! the node compiled on its own, and a backend for the RPC request path.
//!
//! # What a target asserts
//!
//! Beyond "no panic, no hang, no unbounded allocation" (libFuzzer's
//! `-rss_limit_mb` and `-timeout`), each target checks, for every input a
//! decoder accepts:
//!
//! - canonical binary formats ([`canonical`]): `encode(decode(b)) == b`,
//!   the promise of `runtime::codec`;
//! - JSON documents: what was read writes back to JSON that reads to the
//!   same value;
//! - verifiers: they return a verdict or an error and never panic on a
//!   document that passed the format link.
//!
//! # Why the consensus codec is included by path
//!
//! `node/src/consensus/codec.rs` and the `context.rs` it builds on depend
//! only on Malachite's types and `pantheon-runtime`, but live in
//! `pantheon-node`, which links RocksDB (a long C++ build) and libp2p.
//! [`consensus`] compiles those two files as they are, with `#[path]`, so
//! the fuzz build never compiles RocksDB and the node keeps one codec;
//! Malachite's crates (and with them libp2p, which `StreamMessage` and the
//! sync types pull in) are the price of decoding its real types.

pub mod rpc;

pub mod consensus;

use pantheon_runtime::codec::{Decode, Encode, decode_exact};

/// Decodes `data` as a `T` with the runtime's size-limited, whole-input
/// decoder, and checks that an accepted input is canonical: encoding the
/// value gives back exactly `data`.
///
/// # Panics
/// When the decoded value encodes to other bytes (a non-canonical
/// encoding was accepted, or the encoder loses information).
#[must_use]
pub fn canonical<T: Decode + Encode>(data: &[u8]) -> Option<T> {
    let value = decode_exact::<T>(data).ok()?;
    let again = value.to_bytes();
    assert!(
        again == data,
        "{}: decoding then encoding {} bytes gave {} different bytes",
        std::any::type_name::<T>(),
        data.len(),
        again.len()
    );
    Some(value)
}

/// Checks that `value` survives a JSON round trip: it writes to JSON that
/// reads back to an equal value.
///
/// # Panics
/// When the value does not serialize, or reads back different.
pub fn json_round_trip<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let text = serde_json::to_string(value).expect("a value that was read writes to JSON");
    let again: T = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{}: its own JSON does not read back: {e}\n{text}",
            std::any::type_name::<T>()
        )
    });
    assert_eq!(
        &again,
        value,
        "{}: JSON round trip",
        std::any::type_name::<T>()
    );
}
