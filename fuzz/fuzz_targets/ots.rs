//! OpenTimestamps files of the form Pantheon writes (`.ots`), as read back
//! by `pantheon verify --ots`: a file that reads writes back to the same
//! bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_runtime::ots::Timestamp;

fuzz_target!(|data: &[u8]| {
    if let Ok(ts) = Timestamp::from_bytes(data) {
        assert_eq!(ts.to_bytes(), data, "ots round trip");
    }
});
