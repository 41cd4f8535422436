//! The Bitcoin part of a proof (transaction, Merkle branch, headers) and
//! the OP_RETURN payload: canonical bytes, then the offline SPV check on
//! every network, against the commitment the transaction carries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_anchor::bitcoin::Network;
use pantheon_anchor::payload::AnchorPayload;
use pantheon_anchor::spv::{self, SpvError};
use pantheon_fuzz::canonical;
use pantheon_runtime::anchor::BitcoinPart;
use pantheon_runtime::hash::Hash256;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = AnchorPayload::from_bytes(data) {
        assert_eq!(payload.to_bytes().as_slice(), data, "payload round trip");
    }
    if let Ok(payload) = AnchorPayload::from_script(data) {
        assert_eq!(
            payload.to_script_bytes().as_slice(),
            data,
            "script round trip"
        );
        assert!(AnchorPayload::looks_like_anchor(data));
    }
    let Some(part) = canonical::<BitcoinPart>(data) else {
        return;
    };
    let _ = (spv::part_txid(&part), spv::part_block_hash(&part));
    // First against nothing, then against the commitment found, so the
    // branch and header checks run too.
    let expected = match spv::verify(&part, &Hash256::default(), Network::Regtest, 0) {
        Err(SpvError::WrongCommitment { found, .. }) => found,
        _ => Hash256::default(),
    };
    for network in [
        Network::Bitcoin,
        Network::Testnet4,
        Network::Signet,
        Network::Regtest,
    ] {
        if let Ok(v) = spv::verify(&part, &expected, network, 1) {
            assert_eq!(v.commitment, expected);
            assert_eq!(v.header_hashes.len(), part.headers.len());
        }
    }
});
