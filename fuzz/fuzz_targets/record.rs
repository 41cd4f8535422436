//! Operators' audit records and envelopes, and the account state record
//! that exports and operator proofs carry: canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_fuzz::canonical;
use pantheon_runtime::record::{Envelope, Record};
use pantheon_runtime::state::Account;

fuzz_target!(|data: &[u8]| {
    if let Some(record) = canonical::<Record>(data) {
        let _ = (record.hash(), record.leaf());
    }
    if let Some(envelope) = canonical::<Envelope>(data) {
        let _ = envelope.check();
    }
    let _ = canonical::<Account>(data);
});
