//! Record proofs (JSON): read, then verified with no trust beyond the
//! proof, nested manifest proofs included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_anchor::verify::{Checks, Trust, verify_record_proof};
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::record_proof::RecordProof;

fuzz_target!(|data: &[u8]| {
    let is_proof = RecordProof::is_record_proof(data);
    let Ok(proof) = RecordProof::from_slice(data) else {
        return;
    };
    assert!(
        is_proof,
        "a record proof that reads has the record_proof member"
    );
    let keys = KeyCache::new(4);
    let _ = verify_record_proof(&proof, &Trust::default(), &Checks::default(), &keys);
});
