//! How lenient the text readers are, exactly as `docs/FORMATS.md` 1.11
//! states it: what each accepts beyond what writers produce, and what it
//! refuses. None of these texts is hashed: every leniency here reads to
//! the same bytes, and so to the same hashes, as the canonical form.

#![allow(clippy::unwrap_used, reason = "tests")]

use pantheon_runtime::amount::Amount;
use pantheon_runtime::crypto::Keypair;
use pantheon_runtime::genesis::Genesis;
use pantheon_runtime::hash::Hash256;
use pantheon_runtime::proof::{Link, ReceivedBundle};
use serde_json::Value;

fn vector(name: &str) -> Value {
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let path = format!("{root}/../docs/vectors/{name}.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn key_files_accept_line_endings_and_leading_text_only() {
    let key = Keypair::from_seed(&[7; 32]);
    let pem = key.to_pkcs8_pem().unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let reads = |p: &str| {
        Keypair::from_pkcs8_pem(p)
            .map(|k| k.public() == key.public())
            .unwrap_or(false)
    };
    assert!(reads(&pem));
    // Accepted: CRLF or CR line endings, no final line ending, text
    // before the BEGIN line (RFC 7468's explanatory text).
    assert!(reads(&pem.replace('\n', "\r\n")));
    assert!(reads(&pem.replace('\n', "\r")));
    assert!(reads(pem.trim_end()));
    assert!(reads(&format!("my anchor key\n\n{pem}")));
    // Refused: base64 lines other than 64 characters (the last shorter),
    // whitespace in or after a line, anything after the END line, another
    // label.
    let (a, b) = body.split_at(40);
    for bad in [
        format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"),
        format!("-----BEGIN PRIVATE KEY-----\n{a}\n{b}\n-----END PRIVATE KEY-----\n"),
        format!("-----BEGIN PRIVATE KEY-----\n{a}\t{b}\n-----END PRIVATE KEY-----\n"),
        pem.replacen('\n', " \n", 2),
        format!(" {pem}"),
        format!("{pem}\n"),
        format!("{pem}trailer\n"),
        pem.replace("PRIVATE KEY", "ML-DSA PRIVATE KEY"),
    ] {
        assert!(!reads(&bad), "{bad:?}");
    }
}

#[test]
fn hex_is_either_case_and_nothing_else() {
    let h = Hash256::digest(b"x");
    let lower = h.to_string();
    assert_eq!(lower.to_uppercase().parse::<Hash256>().unwrap(), h);
    let mixed: String = lower
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    assert_eq!(mixed.parse::<Hash256>().unwrap(), h);
    for bad in [
        format!("0x{}", &lower[2..]),
        format!("0x{lower}"),
        format!(" {}", &lower[1..]),
        format!("{lower} "),
        lower[..63].to_owned(),
        format!("{lower}00"),
        lower.replacen(&lower[..2], "g0", 1),
    ] {
        assert!(bad.parse::<Hash256>().is_err(), "{bad:?}");
    }
}

#[test]
fn json_numbers_and_amounts_have_one_form() {
    // JSON numbers (RFC 8259): no leading zero, no `+`; an integer member
    // takes no fraction, exponent or `-0`, and nothing beyond u64.
    assert_eq!(serde_json::from_str::<u64>(" 7 ").unwrap(), 7);
    for bad in [
        "07",
        "+7",
        "7.0",
        "7e0",
        "-0",
        "18446744073709551616",
        "\u{feff}7",
    ] {
        assert!(serde_json::from_str::<u64>(bad).is_err(), "{bad:?}");
    }
    // Amounts: decimal strings of units, digits only, no leading zero.
    assert_eq!(
        serde_json::from_str::<Amount>("\"0\"").unwrap(),
        Amount::from_units(0)
    );
    for bad in [
        "\"05\"", "\"+5\"", "\"-1\"", "\"5.0\"", "\"1e3\"", "\" 5\"", "5",
    ] {
        assert!(serde_json::from_str::<Amount>(bad).is_err(), "{bad}");
    }
}

#[test]
fn genesis_files_refuse_duplicate_and_unknown_members() {
    let file = vector("genesis")["genesis"].clone();
    let text = serde_json::to_string(&file).unwrap();
    let genesis: Genesis = serde_json::from_str(&text).unwrap();
    // Accepted: whitespace, upper-case hex, an explicit "version": 1.
    let pretty = serde_json::to_string_pretty(&file).unwrap();
    assert_eq!(serde_json::from_str::<Genesis>(&pretty).unwrap(), genesis);
    let account = file["allocations"][0]["account"].as_str().unwrap();
    let upper = text.replace(account, &account.to_uppercase());
    assert_eq!(serde_json::from_str::<Genesis>(&upper).unwrap(), genesis);
    let mut v1 = file.clone();
    v1["version"] = 1.into();
    assert_eq!(serde_json::from_value::<Genesis>(v1).unwrap(), genesis);
    // Refused: a duplicate member (at any level), an unknown one, another
    // version.
    for bad in [
        format!("{{\"time_ms\":0,{}", &text[1..]),
        text.replacen("\"submit_fee\"", "\"submit_fee\":\"1\",\"submit_fee\"", 1),
        format!("{{\"note\":1,{}", &text[1..]),
        format!("{{\"version\":3,{}", &text[1..]),
    ] {
        assert!(serde_json::from_str::<Genesis>(&bad).is_err(), "{bad:.80}");
    }
}

#[test]
fn bundles_refuse_duplicates_that_a_lenient_parser_would_take() {
    // A duplicate member is refused even with the same value twice: a
    // parser keeping the first and one keeping the last could otherwise
    // check different bundles from the same file.
    let text = serde_json::to_string(&vector("bundle")).unwrap();
    let doubled = format!("{{\"version\":2,{}", &text[1..]);
    let e = ReceivedBundle::from_json(&doubled).unwrap_err();
    assert_eq!(e.link, Link::Format);
    assert!(e.reason.contains("duplicate"), "{e}");
    // Bytes that are not UTF-8 are not JSON.
    let mut bytes = text.into_bytes();
    bytes.insert(1, 0xff);
    assert_eq!(
        ReceivedBundle::from_slice(&bytes).unwrap_err().link,
        Link::Format
    );
}

#[test]
fn bitcoin_parts_hold_at_most_2016_headers_and_32_branch_hashes() {
    use pantheon_runtime::anchor::{BitcoinPart, MAX_BRANCH_DEPTH, MAX_HEADERS};
    use pantheon_runtime::codec::Encode;
    let part = |branch: usize, headers: usize| BitcoinPart {
        raw_tx: vec![0; 60],
        tx_index: 0,
        branch: vec![[1; 32]; branch],
        headers: vec![[2; 80]; headers],
    };
    for (b, h) in [(MAX_BRANCH_DEPTH, MAX_HEADERS), (0, 1)] {
        let p = part(b, h);
        assert_eq!(BitcoinPart::from_bytes(&p.to_bytes()).unwrap(), p);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<BitcoinPart>(&json).unwrap(), p);
    }
    for p in [part(MAX_BRANCH_DEPTH + 1, 1), part(0, MAX_HEADERS + 1)] {
        assert!(BitcoinPart::from_bytes(&p.to_bytes()).is_err());
        let json = serde_json::to_string(&p).unwrap();
        assert!(serde_json::from_str::<BitcoinPart>(&json).is_err());
    }
}
