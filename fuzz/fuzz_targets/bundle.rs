//! Proof bundles (JSON, versions 1 and 2), as `pantheon verify` and the
//! browser verifier receive them: read, verified with no trust beyond the
//! bundle, and, where every member decodes, written back to JSON that
//! reads to the same bundle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_anchor::verify::{Checks, Trust, verify_bundle};
use pantheon_runtime::crypto::KeyCache;
use pantheon_runtime::proof::{ProofBundle, ReceivedBundle};

fuzz_target!(|data: &[u8]| {
    let Ok(bundle) = ReceivedBundle::from_slice(data) else {
        return;
    };
    let keys = KeyCache::new(4);
    let verdict = verify_bundle(&bundle, &Trust::default(), &Checks::default(), &keys);
    if let Ok(whole) = bundle.clone().into_bundle() {
        let text = serde_json::to_string(&whole).expect("a bundle writes to JSON");
        let again = ReceivedBundle::from_json(&text).expect("a bundle's own JSON reads");
        let again: ProofBundle = again.into_bundle().expect("its members decode again");
        assert_eq!(again, whole, "bundle JSON round trip");
        let again = verify_bundle(&again, &Trust::default(), &Checks::default(), &keys);
        assert_eq!(
            again.is_ok(),
            verdict.is_ok(),
            "the verdict survives the round trip"
        );
    }
});
