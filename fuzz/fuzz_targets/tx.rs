//! Signed transactions (`SignedTx`), as they arrive over RPC, relay,
//! proposal parts and proof bundles: canonical, and rebuilt from their
//! body and signature to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_fuzz::canonical;
use pantheon_runtime::hash::GenesisHash;
use pantheon_runtime::tx::SignedTx;

fuzz_target!(|data: &[u8]| {
    let Some(tx) = canonical::<SignedTx>(data) else {
        return;
    };
    let rebuilt = SignedTx::new(tx.body().clone(), &tx.signature());
    assert_eq!(
        rebuilt.as_bytes(),
        data,
        "body and signature rebuild the bytes"
    );
    assert_eq!(rebuilt.id(), tx.id());
    let _ = tx.signing_message(&GenesisHash::default());
    let _ = (
        tx.submission_id(),
        tx.body().signer(),
        tx.as_anchor_record(),
    );
});
