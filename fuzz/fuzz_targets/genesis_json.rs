//! Genesis files (JSON, versions 1 and 2), which `pantheon verify
//! --genesis` reads from the user: a file that reads is a valid genesis
//! whose JSON reads back equal and whose header is canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_fuzz::{canonical, json_round_trip};
use pantheon_runtime::codec::Encode;
use pantheon_runtime::genesis::{Genesis, GenesisHeader};

fuzz_target!(|data: &[u8]| {
    let Ok(genesis) = serde_json::from_slice::<Genesis>(data) else {
        return;
    };
    json_round_trip(&genesis);
    let header = canonical::<GenesisHeader>(&genesis.header().to_bytes())
        .expect("a valid genesis's header decodes");
    assert_eq!(header.hash(), genesis.hash());
});
