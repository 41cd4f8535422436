//! Operator exports (JSON): read, then verified (every bundle and the
//! state record that proves the export complete).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_anchor::verify::{Checks, Trust, verify_operator_export};
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::export::OperatorExport;

fuzz_target!(|data: &[u8]| {
    let is_export = OperatorExport::is_operator_export(data);
    let Ok(export) = OperatorExport::from_slice(data) else {
        return;
    };
    assert!(
        is_export,
        "an export that reads has the operator_export member"
    );
    let keys = KeyCache::new(4);
    let _ = verify_operator_export(&export, &Trust::default(), &Checks::default(), &[], &keys);
});
