//! ML-DSA-65 interoperability: published known-answer vectors (NIST ACVP
//! key generation, C2SP Wycheproof signing and verification with context
//! strings) and agreement with a second implementation, AWS-LC.

#![allow(clippy::unwrap_used, reason = "tests")]

use aws_lc_rs::signature::{
    KeyPair as _, ML_DSA_65, ML_DSA_65_SIGNING, PqdsaKeyPair, UnparsedPublicKey,
};
use pantheon_runtime::crypto::{Keypair, PublicKey, SIGNATURE_LEN, SignContext, Signature};
use serde_json::Value;

fn kat() -> Value {
    serde_json::from_str(include_str!("data/mldsa65_kat.json")).unwrap()
}

fn bytes(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(v[field].as_str().unwrap()).unwrap()
}

fn signature(b: &[u8]) -> Signature {
    Signature::from_bytes(<[u8; SIGNATURE_LEN]>::try_from(b).unwrap())
}

#[test]
fn acvp_key_generation_from_seed() {
    let kat = kat();
    let cases = kat["keyGen"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let seed: [u8; 32] = bytes(case, "seed").try_into().unwrap();
        let kp = Keypair::from_seed(&seed);
        assert_eq!(
            kp.public().as_bytes().to_vec(),
            bytes(case, "pk"),
            "tcId {}",
            case["tcId"]
        );
    }
}

#[test]
fn wycheproof_deterministic_signing_with_context() {
    let kat = kat();
    let external: Vec<&Value> = kat["sigGen"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("seed").is_some())
        .collect();
    assert!(external.len() >= 2);
    for case in external {
        let seed: [u8; 32] = bytes(case, "seed").try_into().unwrap();
        let kp = Keypair::from_seed(&seed);
        assert_eq!(kp.public().as_bytes().to_vec(), bytes(case, "pk"));
        let sig = kp
            .sign_with_context(&bytes(case, "ctx"), &bytes(case, "msg"))
            .unwrap();
        assert_eq!(
            sig.as_bytes().to_vec(),
            bytes(case, "sig"),
            "tcId {}",
            case["tcId"]
        );
    }
}

#[test]
fn wycheproof_verification() {
    let kat = kat();
    for case in kat["sigVer"].as_array().unwrap() {
        let pk = PublicKey::from_slice(&bytes(case, "pk")).unwrap();
        let ok = pk.prepare().verify_with_context(
            &bytes(case, "ctx"),
            &bytes(case, "msg"),
            &signature(&bytes(case, "sig")),
        );
        assert_eq!(
            ok,
            case["testPassed"].as_bool().unwrap(),
            "tcId {}",
            case["tcId"]
        );
    }
}

#[test]
fn aws_lc_agrees_on_keys_and_signatures() {
    for fill in [0u8, 1, 0x5a, 0xff] {
        let seed = [fill; 32];
        let ours = Keypair::from_seed(&seed);
        let theirs = PqdsaKeyPair::from_seed(&ML_DSA_65_SIGNING, &seed).unwrap();
        assert_eq!(theirs.public_key().as_ref(), &ours.public().as_bytes()[..]);

        // AWS-LC's safe API signs and verifies with the empty context.
        let message = b"pantheon interop";
        let sig = ours.sign_with_context(b"", message).unwrap();
        UnparsedPublicKey::new(&ML_DSA_65, ours.public().as_bytes())
            .verify(message, sig.as_bytes())
            .unwrap();

        let mut buf = vec![0u8; SIGNATURE_LEN];
        assert_eq!(theirs.sign(message, &mut buf).unwrap(), SIGNATURE_LEN);
        let theirs_sig = signature(&buf);
        let key = ours.public().prepare();
        assert!(key.verify_with_context(b"", message, &theirs_sig));
        // ... and a context string separates domains.
        assert!(!key.verify(SignContext::SubmitRoot, message, &theirs_sig));
    }
}
