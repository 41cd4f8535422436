//! Audit documents (JSON, FORMATS 28): supply proofs, checkpoints and
//! consistency proofs read, then verified under the genesis they carry
//! (nothing pinned), as `pantheon verify` does with a file it is given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_runtime::audit::{AuditTrust, Checkpoint, LogConsistency, SupplyProof};
use pantheon_runtime::crypto::KeyCache;

fuzz_target!(|data: &[u8]| {
    let keys = KeyCache::new(4);
    let trust = AuditTrust::default();
    if let Ok(proof) = SupplyProof::from_slice(data) {
        assert!(
            SupplyProof::is_supply_proof(data),
            "a supply proof that reads has the supply_proof member"
        );
        let _ = proof.verify(trust, &keys);
    }
    if let Ok(checkpoint) = Checkpoint::from_slice(data) {
        assert!(
            Checkpoint::is_checkpoint(data),
            "a checkpoint that reads has the log_checkpoint member"
        );
        let _ = checkpoint.verify(trust, &keys);
    }
    if let Ok(consistency) = LogConsistency::from_slice(data) {
        assert!(
            LogConsistency::is_consistency(data),
            "a consistency proof that reads has the log_consistency member"
        );
        let _ = consistency.verify(trust, &keys);
    }
});
