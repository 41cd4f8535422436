//! The binary genesis header (carried by proof bundles and exports) and
//! its parts: parameters, validator set, Bitcoin parameters. Canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_fuzz::canonical;
use pantheon_runtime::anchor::BitcoinParams;
use pantheon_runtime::genesis::{GenesisHeader, Params, ValidatorSet};

fuzz_target!(|data: &[u8]| {
    if let Some(header) = canonical::<GenesisHeader>(data) {
        let _ = header.hash();
    }
    let _ = canonical::<Params>(data);
    let _ = canonical::<ValidatorSet>(data);
    let _ = canonical::<BitcoinParams>(data);
});
