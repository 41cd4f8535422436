//! Inputs the fuzz targets (`fuzz/`, `scripts/fuzz`) found, each kept as
//! the bytes that failed, with what the decoder must do with them now.

use pantheon_runtime::ots::Timestamp;

fn hex(parts: &[&str]) -> Vec<u8> {
    hex::decode(parts.concat()).expect("test input is hex")
}

/// Target `ots`: the version number written as `81 00`, a second
/// encoding of 1 in LEB128, was read, so two files read as the same
/// timestamp and `to_bytes` did not give the file back. Refused now.
#[test]
fn ots_varuint_in_a_longer_form_is_refused() {
    let input = hex(&[
        "004f70656e54696d657374616d7073000050726f6f6600bf89e2e884e8929481",
        "0008000588960d73d7190808080808080808080808080808080808080808f081",
        "0008000588960d73d719010165",
    ]);
    let err = Timestamp::from_bytes(&input).expect_err("a non-minimal varuint");
    assert!(err.to_string().contains("shortest form"), "{err}");
    // The same file with the version in its one form: the reader gets past
    // it (and then refuses the rest, which the fuzzer made up).
    let mut shortest = input.clone();
    let at = 31;
    assert_eq!(&shortest[at..at + 2], &[0x81, 0x00]);
    shortest.splice(at..at + 2, [0x01]);
    if let Ok(ts) = Timestamp::from_bytes(&shortest) {
        assert_eq!(ts.to_bytes(), shortest);
    }
}
