//! The RPC parameter parsers: 32-byte hex hashes and hex transactions.
//! What parses is the input's own bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_rpc::{parse_hash, parse_tx};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(hash) = parse_hash("id", text) {
        assert_eq!(hash.to_string(), text.to_ascii_lowercase(), "hash hex");
    }
    if let Ok(tx) = parse_tx("tx", text) {
        let bytes = hex::decode(text).expect("a parsed transaction was hex");
        assert_eq!(tx.as_bytes(), bytes.as_slice(), "transaction bytes");
    }
});
