//! ML-DSA-65 interoperability: published known-answer vectors (NIST ACVP
//! key generation, C2SP Wycheproof signing and verification with context
//! strings), agreement with a second implementation, AWS-LC, and agreement
//! of the two verification backends ([`VerifyBackend::AwsLc`], the default,
//! and [`VerifyBackend::RustCrypto`], the `ml-dsa` crate) on every input:
//! valid signatures (deterministic and hedged, with every [`SignContext`]),
//! non-canonical hint encodings, out-of-range `z`, and thousands of
//! tampered signatures, messages, contexts and keys.

#![allow(clippy::unwrap_used, reason = "tests")]

use aws_lc_rs::signature::{
    KeyPair as _, ML_DSA_65, ML_DSA_65_SIGNING, PqdsaKeyPair, UnparsedPublicKey,
};
use ml_dsa::{MlDsa65, SigningKey};
use pantheon_runtime::codec::{Decode, Reader};
use pantheon_runtime::crypto::{
    Keypair, PUBLIC_KEY_LEN, PublicKey, SIGNATURE_LEN, SignContext, Signature, VerifyBackend,
};
use proptest::prelude::*;
use serde_json::Value;

const ALL_CONTEXTS: [SignContext; 6] = [
    SignContext::SubmitRoot,
    SignContext::Transfer,
    SignContext::RegisterOperator,
    SignContext::Vote,
    SignContext::Proposal,
    SignContext::ValidatorProof,
];

// ML-DSA-65 signature layout (FIPS 204 Algorithm 26 sigEncode):
// c~ (48 bytes) || z (5 x 256 coefficients of 20 bits) || hint (omega + k bytes).
const C_TILDE_LEN: usize = 48;
const GAMMA1: i32 = 1 << 19;
const BETA: i32 = 196;
const OMEGA: usize = 55;
const K: usize = 6;
const Z_COEFFICIENTS: usize = 5 * 256;
const HINT_START: usize = SIGNATURE_LEN - OMEGA - K;

fn kat() -> Value {
    serde_json::from_str(include_str!("data/mldsa65_kat.json")).unwrap()
}

fn bytes(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(v[field].as_str().unwrap()).unwrap()
}

fn signature(b: &[u8]) -> Signature {
    Signature::from_bytes(<[u8; SIGNATURE_LEN]>::try_from(b).unwrap())
}

/// Verifies with both backends, asserts that they agree, and returns the
/// answer.
fn verify_both(key: &PublicKey, context: &[u8], message: &[u8], sig: &Signature) -> bool {
    let aws_lc = key
        .prepare_with(VerifyBackend::AwsLc)
        .verify_with_context(context, message, sig);
    let rust_crypto = key
        .prepare_with(VerifyBackend::RustCrypto)
        .verify_with_context(context, message, sig);
    assert_eq!(
        aws_lc,
        rust_crypto,
        "backends disagree (AWS-LC {aws_lc}, ml-dsa {rust_crypto}): key {}, context {}, \
         message {}, signature {}",
        hex::encode(key.as_bytes()),
        hex::encode(context),
        hex::encode(message),
        hex::encode(sig.as_bytes()),
    );
    aws_lc
}

/// A hedged ML-DSA-65 signature (`rnd` random, FIPS 204 Algorithm 2), made
/// with `ml-dsa` directly: Pantheon signs deterministically, but verifiers
/// must accept signatures of other signers.
fn sign_hedged(seed: &[u8; 32], context: &[u8], message: &[u8], rnd: [u8; 32]) -> Signature {
    let key = SigningKey::<MlDsa65>::from_seed(&(*seed).into());
    let prefix = [0, u8::try_from(context.len()).unwrap()];
    let sig = key
        .expanded_key()
        .sign_internal(&[&prefix, context, message], &rnd.into());
    signature(&sig.encode())
}

#[test]
fn prepared_keys_report_their_backend() {
    let key = Keypair::from_seed(&[1; 32]).public().clone();
    assert_eq!(VerifyBackend::default(), VerifyBackend::AwsLc);
    assert_eq!(key.prepare().backend(), VerifyBackend::AwsLc);
    for backend in [VerifyBackend::AwsLc, VerifyBackend::RustCrypto] {
        assert_eq!(key.prepare_with(backend).backend(), backend);
    }
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
        let (ctx, msg) = (bytes(case, "ctx"), bytes(case, "msg"));
        let sig = kp.sign_with_context(&ctx, &msg).unwrap();
        assert_eq!(
            sig.as_bytes().to_vec(),
            bytes(case, "sig"),
            "tcId {}",
            case["tcId"]
        );
        assert!(verify_both(kp.public(), &ctx, &msg, &sig));
        // The hedged signer with rnd = 0 is the deterministic one: the
        // construction `sign_hedged` uses is the one Pantheon signs with.
        assert_eq!(sign_hedged(&seed, &ctx, &msg, [0; 32]), sig);
    }
}

#[test]
fn wycheproof_verification() {
    let kat = kat();
    let cases = kat["sigVer"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let pk = PublicKey::from_slice(&bytes(case, "pk")).unwrap();
        let ok = verify_both(
            &pk,
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

        // A hedged AWS-LC signature verifies on both backends ...
        let mut buf = vec![0u8; SIGNATURE_LEN];
        assert_eq!(theirs.sign(message, &mut buf).unwrap(), SIGNATURE_LEN);
        let theirs_sig = signature(&buf);
        assert!(verify_both(ours.public(), b"", message, &theirs_sig));
        // ... and a context string separates domains.
        for context in ALL_CONTEXTS {
            assert!(!verify_both(
                ours.public(),
                context.as_str().as_bytes(),
                message,
                &theirs_sig
            ));
        }
    }
}

#[test]
fn every_sign_context_verifies_on_both_backends_and_only_under_itself() {
    for (i, signed_as) in ALL_CONTEXTS.into_iter().enumerate() {
        for k in 0..4u8 {
            let kp = Keypair::from_seed(&[u8::try_from(i).unwrap() * 16 + k; 32]);
            let message = [b"message ".as_slice(), &[k; 40]].concat();
            let sig = kp.sign(signed_as, &message);
            let keys = [VerifyBackend::AwsLc, VerifyBackend::RustCrypto]
                .map(|b| kp.public().prepare_with(b));
            for verified_as in ALL_CONTEXTS {
                let expected = verified_as == signed_as;
                for key in &keys {
                    assert_eq!(
                        key.verify(verified_as, &message, &sig),
                        expected,
                        "{key:?}: signed as {signed_as:?}, verified as {verified_as:?}"
                    );
                }
                assert_eq!(
                    verify_both(kp.public(), verified_as.as_str().as_bytes(), &message, &sig),
                    expected
                );
            }
            // Hedged signatures with the same context verify too.
            let hedged = sign_hedged(
                &kp.seed(),
                signed_as.as_str().as_bytes(),
                &message,
                [k.wrapping_add(1); 32],
            );
            assert_ne!(hedged, sig);
            assert!(
                keys.iter()
                    .all(|key| key.verify(signed_as, &message, &hedged))
            );
        }
    }
}

#[test]
fn context_strings_up_to_255_bytes() {
    let kp = Keypair::from_seed(&[0x42; 32]);
    let message = b"limit";
    for len in [0usize, 1, 254, 255] {
        let context = vec![0xc5; len];
        let sig = kp.sign_with_context(&context, message).unwrap();
        assert!(verify_both(kp.public(), &context, message, &sig), "{len}");
        // The context's length is signed: a prefix or an extension fails.
        if len > 0 {
            assert!(!verify_both(kp.public(), &context[1..], message, &sig));
        }
        let longer = [context.as_slice(), &[0xc5]].concat();
        assert!(!verify_both(kp.public(), &longer, message, &sig));
    }
    // FIPS 204 has no signatures with longer contexts; both reject them.
    assert!(kp.sign_with_context(&[0; 256], message).is_none());
    let sig = kp.sign_with_context(&[0; 255], message).unwrap();
    for len in [256usize, 1_000] {
        assert!(!verify_both(kp.public(), &vec![0; len], message, &sig));
    }
}

#[test]
fn wrong_lengths_never_reach_a_verifier() {
    // Keys and signatures are fixed-size arrays: bytes of another length
    // are refused where they enter (here the constructors and the codec),
    // so a verifier only ever sees 1,952-byte keys and 3,309-byte
    // signatures (the AWS-LC layer rejects other lengths too: unit tests
    // of `crypto::aws_lc`).
    for len in [0, PUBLIC_KEY_LEN - 1, PUBLIC_KEY_LEN + 1] {
        assert!(PublicKey::from_slice(&vec![0; len]).is_none());
    }
    for len in [0, SIGNATURE_LEN - 1] {
        let bytes = vec![0; len];
        assert!(Signature::decode(&mut Reader::new(&bytes)).is_err());
    }
}

#[test]
fn random_keys_and_signatures_are_rejected_by_both() {
    let kp = Keypair::from_seed(&[0x17; 32]);
    let message = b"random";
    let context = SignContext::SubmitRoot.as_str().as_bytes();
    let sig = kp.sign(SignContext::SubmitRoot, message);
    for fill in [0x00, 0x01, 0x7f, 0xff] {
        let key = PublicKey::from_bytes([fill; PUBLIC_KEY_LEN]);
        assert!(!verify_both(&key, context, message, &sig));
        let junk = Signature::from_bytes([fill; SIGNATURE_LEN]);
        assert!(!verify_both(kp.public(), context, message, &junk));
    }
}

/// The number of hints before the end of each of the `K` polynomials
/// (FIPS 204 Algorithm 21 HintBitUnpack: `y[omega + i]`).
fn hint_cuts(sig: &[u8; SIGNATURE_LEN]) -> [usize; K] {
    std::array::from_fn(|i| usize::from(sig[HINT_START + OMEGA + i]))
}

/// Writes the `j`-th coefficient of `z` (20 bits, encoded as `gamma1 - z`).
fn set_z(sig: &mut [u8; SIGNATURE_LEN], j: usize, z: i32) {
    let encoded = u32::try_from(GAMMA1 - z).unwrap();
    assert!(encoded < 1 << 20);
    let first_bit = 8 * C_TILDE_LEN + 20 * j;
    for b in 0..20 {
        let (byte, bit) = ((first_bit + b) / 8, (first_bit + b) % 8);
        sig[byte] = (sig[byte] & !(1 << bit)) | (u8::try_from((encoded >> b) & 1).unwrap() << bit);
    }
}

/// Signatures that differ from a valid one in the encoding of `h` or `z`:
/// non-canonical hint encodings (which a lax decoder could accept as the
/// same hint), hints moved, added or removed, and `z` at and beyond its
/// bound. FIPS 204 rejects every one.
fn structural_variants(sig: &Signature) -> Vec<(String, Signature)> {
    let valid = *sig.as_bytes();
    let cuts = hint_cuts(&valid);
    let total = cuts[K - 1];
    let mut out = Vec::new();
    let mut variant = |name: String, edit: &dyn Fn(&mut [u8; SIGNATURE_LEN])| {
        let mut bytes = valid;
        edit(&mut bytes);
        assert_ne!(bytes, valid, "{name} changes the signature");
        out.push((name, Signature::from_bytes(bytes)));
    };
    let idx = |i: usize| HINT_START + i;
    let cut = |i: usize| HINT_START + OMEGA + i;
    for p in 0..K {
        let start = if p == 0 { 0 } else { cuts[p - 1] };
        if cuts[p] >= start + 2 {
            variant(format!("poly {p}: two hint indices swapped"), &|s| {
                s.swap(idx(start), idx(start + 1));
            });
            variant(format!("poly {p}: a hint index repeated"), &|s| {
                s[idx(start + 1)] = s[idx(start)];
            });
        }
        if p + 1 < K && cuts[p] > start {
            variant(format!("poly {p}: last hint moved to the next"), &|s| {
                s[cut(p)] -= 1;
            });
        }
        if p + 1 < K && cuts[p + 1] < OMEGA {
            variant(format!("poly {p}: counts decrease"), &|s| {
                s[cut(p)] = u8::try_from(cuts[p + 1] + 1).unwrap();
            });
        }
    }
    if total < OMEGA {
        variant("nonzero padding after the last hint".into(), &|s| {
            s[idx(total)] = 1;
        });
        variant("padding byte 0xff".into(), &|s| {
            s[idx(OMEGA - 1)] = 0xff;
        });
        variant("one more hint at the end".into(), &|s| {
            s[idx(total)] = 0xff;
            s[cut(K - 1)] += 1;
        });
    }
    if total > 0 {
        variant("last hint removed".into(), &|s| {
            s[idx(total - 1)] = 0;
            s[cut(K - 1)] -= 1;
        });
    }
    variant("count beyond omega".into(), &|s| {
        s[cut(K - 1)] = u8::try_from(OMEGA + 1).unwrap();
    });
    variant("count 255".into(), &|s| s[cut(K - 1)] = 0xff);
    variant("no hints at all".into(), &|s| s[HINT_START..].fill(0));
    for j in [0, 1, 255, 256, 777, Z_COEFFICIENTS - 1] {
        for z in [
            GAMMA1 - BETA - 1,
            GAMMA1 - BETA,
            GAMMA1 - 1,
            GAMMA1,
            -(GAMMA1 - BETA - 1),
            -(GAMMA1 - BETA),
            -(GAMMA1 - 1),
        ] {
            variant(format!("z[{j}] = {z}"), &|s| set_z(s, j, z));
        }
    }
    out
}

#[test]
fn non_canonical_hints_and_out_of_range_z_are_rejected_by_both() {
    let mut cases = 0;
    let mut polys_with_two_hints = 0;
    for i in 0..12u8 {
        let kp = Keypair::from_seed(&[i; 32]);
        let context = ALL_CONTEXTS[usize::from(i) % ALL_CONTEXTS.len()];
        let message = [i; 64];
        let sig = kp.sign(context, &message);
        let cuts = hint_cuts(sig.as_bytes());
        polys_with_two_hints += (0..K)
            .filter(|&p| cuts[p] >= if p == 0 { 0 } else { cuts[p - 1] } + 2)
            .count();
        let ctx = context.as_str().as_bytes();
        assert!(verify_both(kp.public(), ctx, &message, &sig));
        for (name, variant) in structural_variants(&sig) {
            assert!(!verify_both(kp.public(), ctx, &message, &variant), "{name}");
            cases += 1;
        }
    }
    // The hint-order cases above did run.
    assert!(polys_with_two_hints >= 12, "{polys_with_two_hints}");
    assert!(cases >= 12 * 50, "{cases}");
}

/// One change to a valid (key, context, message, signature).
#[derive(Debug, Clone)]
enum Tamper {
    Nothing,
    FlipSignatureBit(usize),
    FlipHintBit(usize),
    SetSignatureByte(usize, u8),
    FlipMessageBit(usize),
    ExtendMessage(u8),
    TruncateMessage,
    FlipContextBit(usize),
    ExtendContext(u8),
    DropContext,
    OtherKey([u8; 32]),
    FlipKeyBit(usize),
}

fn tamper() -> impl Strategy<Value = Tamper> {
    let hint_bits = (SIGNATURE_LEN - HINT_START) * 8;
    prop_oneof![
        2 => Just(Tamper::Nothing),
        4 => (0..SIGNATURE_LEN * 8).prop_map(Tamper::FlipSignatureBit),
        3 => (0..hint_bits).prop_map(Tamper::FlipHintBit),
        2 => (0..SIGNATURE_LEN, any::<u8>()).prop_map(|(i, b)| Tamper::SetSignatureByte(i, b)),
        1 => any::<usize>().prop_map(Tamper::FlipMessageBit),
        1 => any::<u8>().prop_map(Tamper::ExtendMessage),
        1 => Just(Tamper::TruncateMessage),
        1 => any::<usize>().prop_map(Tamper::FlipContextBit),
        1 => any::<u8>().prop_map(Tamper::ExtendContext),
        1 => Just(Tamper::DropContext),
        1 => any::<[u8; 32]>().prop_map(Tamper::OtherKey),
        1 => (0..PUBLIC_KEY_LEN * 8).prop_map(Tamper::FlipKeyBit),
    ]
}

fn context() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => prop::sample::select(ALL_CONTEXTS.to_vec())
            .prop_map(|c| c.as_str().as_bytes().to_vec()),
        1 => Just(Vec::new()),
        1 => prop::collection::vec(any::<u8>(), 0..=255),
        1 => prop::collection::vec(any::<u8>(), 250..=255),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    /// Both backends give the same answer for valid signatures
    /// (deterministic and hedged) and for every kind of tampering, and that
    /// answer is the right one: valid verifies, anything changed fails.
    #[test]
    fn backends_agree_on_valid_and_tampered_signatures(
        seed in any::<[u8; 32]>(),
        context in context(),
        message in prop::collection::vec(any::<u8>(), 0..300),
        rnd in prop::option::of(any::<[u8; 32]>()),
        tamper in tamper(),
    ) {
        let kp = Keypair::from_seed(&seed);
        let (original_context, original_message) = (context.clone(), message.clone());
        let sig = match rnd {
            None => kp.sign_with_context(&context, &message).unwrap(),
            Some(rnd) => sign_hedged(&seed, &context, &message, rnd),
        };
        let (mut key, mut context, mut message) =
            (kp.public().clone(), context, message);
        let mut sig_bytes = *sig.as_bytes();
        let flip = |bytes: &mut [u8], bit: usize| bytes[bit / 8] ^= 1 << (bit % 8);
        match tamper {
            Tamper::Nothing => {}
            Tamper::FlipSignatureBit(bit) => flip(&mut sig_bytes, bit),
            Tamper::FlipHintBit(bit) => flip(&mut sig_bytes[HINT_START..], bit),
            Tamper::SetSignatureByte(i, b) => sig_bytes[i] = b,
            Tamper::FlipMessageBit(bit) if !message.is_empty() => {
                let bit = bit % (message.len() * 8);
                flip(&mut message, bit);
            }
            Tamper::FlipMessageBit(_) => message.push(0),
            Tamper::ExtendMessage(b) => message.push(b),
            Tamper::TruncateMessage => {
                if message.pop().is_none() {
                    message.push(0);
                }
            }
            Tamper::FlipContextBit(bit) if !context.is_empty() => {
                let bit = bit % (context.len() * 8);
                flip(&mut context, bit);
            }
            Tamper::FlipContextBit(_) => context.push(0),
            // From 255 bytes, one more is a context FIPS 204 does not allow.
            Tamper::ExtendContext(b) => context.push(b),
            Tamper::DropContext => {
                if context.is_empty() {
                    context.push(0);
                } else {
                    context.clear();
                }
            }
            Tamper::OtherKey(other) => key = Keypair::from_seed(&other).public().clone(),
            Tamper::FlipKeyBit(bit) => {
                let mut bytes = *key.as_bytes();
                flip(&mut bytes, bit);
                key = PublicKey::from_bytes(bytes);
            }
        }
        // Valid if and only if nothing changed (a tampering can be a
        // no-op: the same byte written back, the same seed drawn).
        let unchanged = key == *kp.public()
            && sig_bytes == *sig.as_bytes()
            && (&context, &message) == (&original_context, &original_message);
        let ok = verify_both(&key, &context, &message, &Signature::from_bytes(sig_bytes));
        prop_assert_eq!(ok, unchanged, "{:?}", tamper);
    }
}
