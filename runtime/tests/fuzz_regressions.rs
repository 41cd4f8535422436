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

/// Found by the `receipt` target: evidence with bytes that are not UTF-8
/// inside a member serde_json keeps raw was read as evidence, though it is
/// not JSON (RFC 8259 texts are UTF-8) and `is_evidence` said no. Now both
/// readers refuse it at the format link, like every other reader.
#[test]
#[allow(clippy::unwrap_used, reason = "tests")]
fn receipt_documents_that_are_not_utf8_are_refused() {
    use pantheon_runtime::proof::Link;
    use pantheon_runtime::receipt::{ReceiptEvidence, SignedReceipt};
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let text = std::fs::read_to_string(format!("{root}/../docs/vectors/receipts.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let evidence = v["evidence"][0]["evidence"].to_string().into_bytes();
    let receipt = v["receipts"][0]["receipt"].to_string().into_bytes();
    for (doc, is_evidence) in [(evidence, true), (receipt, false)] {
        // Two bytes of a hex string replaced by an invalid UTF-8 sequence.
        let at = doc.windows(3).rposition(|w| w == b"\":\"").unwrap() + 3;
        let mut bad = doc.clone();
        bad[at] = 0x9f;
        bad[at + 1] = 0xc6;
        let err = if is_evidence {
            ReceiptEvidence::from_slice(&bad).map(|_| ()).unwrap_err()
        } else {
            SignedReceipt::from_slice(&bad).map(|_| ()).unwrap_err()
        };
        assert_eq!(err.link, Link::Format, "{}", err.reason);
    }
}
