//! Receipts and receipt evidence (JSON, FORMATS 26): read, then verified
//! (a receipt under the genesis it carries, evidence with nothing pinned).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::receipt::{
    ReceiptEvidence, SignedReceipt, carried_genesis, verify_evidence, verify_receipt,
};

fuzz_target!(|data: &[u8]| {
    let keys = KeyCache::new(4);
    if let Ok(evidence) = ReceiptEvidence::from_slice(data) {
        assert!(
            ReceiptEvidence::is_evidence(data),
            "evidence that reads has the receipt_evidence member"
        );
        let _ = verify_evidence(&evidence, None, &keys);
    }
    if let Ok(receipt) = SignedReceipt::from_slice(data) {
        assert!(
            SignedReceipt::is_receipt(data),
            "a receipt that reads has the receipt member"
        );
        if let Ok(Some(genesis)) = carried_genesis(receipt.genesis.as_deref()) {
            let _ = verify_receipt(&receipt, &genesis, &keys);
        }
    }
});
