//! Blocks and block headers, as sync responses and stores hand them
//! over: canonical, and a block's header is itself canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_fuzz::canonical;
use pantheon_runtime::block::{Block, BlockHeader};
use pantheon_runtime::codec::Encode;

fuzz_target!(|data: &[u8]| {
    if let Some(header) = canonical::<BlockHeader>(data) {
        let _ = header.hash();
    }
    if let Some(block) = canonical::<Block>(data) {
        canonical::<BlockHeader>(&block.header.to_bytes()).expect("a block's header decodes");
    }
});
