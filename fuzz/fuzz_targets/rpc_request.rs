//! Raw JSON-RPC requests through the API's method table (routing, params,
//! Pantheon's parsers) to a backend that finds nothing; see
//! `pantheon_fuzz::rpc` for what each answer must satisfy.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use pantheon_fuzz::rpc::RequestPath;

static PATH: LazyLock<RequestPath> = LazyLock::new(RequestPath::new);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = PATH.call(text);
});
