//! ML-DSA-65 verification by AWS-LC, called through `aws-lc-sys` (the same
//! build of AWS-LC that `aws-lc-rs` links): the only `unsafe` code in this
//! crate.
//!
//! `aws-lc-rs`'s safe ML-DSA API verifies with the empty context string
//! only, and every Pantheon signature has a context string ([`SignContext`]),
//! so this module calls AWS-LC's EVP interface directly:
//!
//! ```text
//! VerifyingKey ──owns──> EVP_PKEY         created once per key, read-only after,
//!      │                     ^            shared by threads (refcounted)
//!      │ verify()            │ one reference while verifying
//!      v                     │
//! DigestContext ──owns──> EVP_MD_CTX ──owns──> EVP_PKEY_CTX (context string)
//!                         one per verification, freed when it returns or unwinds
//! ```
//!
//! Every AWS-LC object is owned by exactly one RAII value here and freed in
//! its `Drop`; the only other pointers passed to AWS-LC borrow Rust slices
//! for the duration of one call (AWS-LC copies what it keeps).
//!
//! Accept and reject are those of FIPS 204 `ML-DSA.Verify`, exactly as in
//! the `ml-dsa` crate: a key or signature of the wrong length and a context
//! string over 255 bytes are rejected before AWS-LC is called; the interop
//! tests (`runtime/tests/mldsa_interop.rs`) check that both implementations
//! agree. A failure of AWS-LC that does not depend on the input (it could
//! not allocate) panics instead of rejecting, because a verification result
//! must be the same on every node.
//!
//! [`SignContext`]: super::SignContext

#![allow(
    unsafe_code,
    reason = "calls into AWS-LC through aws-lc-sys; this module is the crate's only unsafe code"
)]
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block,
    reason = "every unsafe operation gets its own block and its own SAFETY comment"
)]

use std::ptr::{self, NonNull};
use std::sync::Once;

use aws_lc_sys as ffi;

use super::{PUBLIC_KEY_LEN, SIGNATURE_LEN};

/// FIPS 204: a context string has at most 255 bytes.
const MAX_CONTEXT_LEN: usize = 255;

/// An ML-DSA-65 public key parsed by AWS-LC.
pub(super) struct VerifyingKey(NonNull<ffi::EVP_PKEY>);

// SAFETY: the `EVP_PKEY` is owned by this value alone (nothing else holds a
// pointer to it outside a `verify` call), and AWS-LC objects are not tied to
// the thread that created them, so it may be freed on any thread.
unsafe impl Send for VerifyingKey {}

// SAFETY: `&self` only reaches `verify`, whose AWS-LC calls do not mutate the
// key: AWS-LC documents `EVP_DigestVerifyInit` as non-mutating on the key
// for thread-safety purposes (it takes a reference with an atomic increment,
// and `EVP_MD_CTX_free` drops it with an atomic decrement), and verification
// only reads the stored public-key bytes. The key is never changed after
// `from_bytes` returns.
unsafe impl Sync for VerifyingKey {}

impl VerifyingKey {
    /// Parses an encoded ML-DSA-65 public key: `None` unless it is 1,952
    /// bytes (every 1,952-byte string is a key; AWS-LC copies the bytes).
    ///
    /// # Panics
    /// If AWS-LC cannot allocate the key.
    pub(super) fn from_bytes(encoded: &[u8]) -> Option<Self> {
        if encoded.len() != PUBLIC_KEY_LEN {
            return None;
        }
        init();
        // SAFETY: `encoded` points to `encoded.len()` readable bytes for the
        // duration of the call, and AWS-LC copies them (it keeps no pointer
        // into them). The result is NULL or a new `EVP_PKEY` with one
        // reference, which `Self` owns from here on.
        let raw = unsafe {
            ffi::EVP_PKEY_pqdsa_new_raw_public_key(
                ffi::NID_MLDSA65,
                encoded.as_ptr(),
                encoded.len(),
            )
        };
        // With the length checked above, AWS-LC fails only to allocate.
        let key = NonNull::new(raw).expect("AWS-LC could not allocate an ML-DSA-65 public key");
        Some(Self(key))
    }

    /// FIPS 204 `ML-DSA.Verify(pk, message, signature, context)`. Rejects a
    /// signature that is not 3,309 bytes and a context over 255 bytes.
    ///
    /// # Panics
    /// If AWS-LC cannot allocate a verification context.
    pub(super) fn verify(&self, context: &[u8], message: &[u8], signature: &[u8]) -> bool {
        if context.len() > MAX_CONTEXT_LEN || signature.len() != SIGNATURE_LEN {
            return false;
        }
        let digest = DigestContext::begin(self.0, context, Purpose::Verify);
        // SAFETY: `digest` was initialised for verification above; the
        // signature and message pointers are valid for their lengths for
        // the duration of the call, and AWS-LC only reads them.
        let verified = unsafe {
            ffi::EVP_DigestVerify(
                digest.as_ptr(),
                c_bytes(signature),
                signature.len(),
                c_bytes(message),
                message.len(),
            )
        } == 1;
        if !verified {
            // A rejection leaves an entry on this thread's AWS-LC error
            // queue; clear it so that no other AWS-LC user on this thread
            // (e.g. a TLS stack) reads it as its own.
            // SAFETY: no preconditions; touches only this thread's queue.
            unsafe { ffi::ERR_clear_error() };
        }
        verified
    }
}

impl Drop for VerifyingKey {
    fn drop(&mut self) {
        // SAFETY: `self.0` is the key created in `from_bytes` and owned by
        // `self`; each `verify` call has dropped its own reference before
        // returning, so this frees it exactly once and nothing uses it after.
        unsafe { ffi::EVP_PKEY_free(self.0.as_ptr()) };
    }
}

/// An ML-DSA-65 private key held by AWS-LC, for hedged signing (FIPS 204's
/// default: fresh randomness in every signature).
pub(super) struct SigningKey(NonNull<ffi::EVP_PKEY>);

// SAFETY: the `EVP_PKEY` is owned by this value alone, and AWS-LC objects
// are not tied to the thread that created them.
unsafe impl Send for SigningKey {}

// SAFETY: `&self` only reaches `sign`, which (like verification) takes a
// reference to the key with an atomic increment and reads it; the key is
// never changed after `from_seed` returns.
unsafe impl Sync for SigningKey {}

impl SigningKey {
    /// `ML-DSA.KeyGen_internal(seed)` by AWS-LC.
    ///
    /// # Panics
    /// If AWS-LC cannot allocate the key.
    pub(super) fn from_seed(seed: &[u8; 32]) -> Self {
        init();
        // SAFETY: `seed` points to 32 readable bytes for the duration of the
        // call, which AWS-LC copies (a 32-byte raw private key is the seed
        // form). The result is NULL or a new `EVP_PKEY`, owned by `Self`.
        let raw = unsafe {
            ffi::EVP_PKEY_pqdsa_new_raw_private_key(ffi::NID_MLDSA65, seed.as_ptr(), seed.len())
        };
        Self(NonNull::new(raw).expect("AWS-LC could not make an ML-DSA-65 key from a seed"))
    }

    /// FIPS 204 hedged `ML-DSA.Sign(sk, message, context)`: `None` for a
    /// context over 255 bytes.
    ///
    /// # Panics
    /// If AWS-LC cannot allocate or fails to sign (it does not for a valid
    /// key and context).
    pub(super) fn sign(&self, context: &[u8], message: &[u8]) -> Option<[u8; SIGNATURE_LEN]> {
        if context.len() > MAX_CONTEXT_LEN {
            return None;
        }
        let digest = DigestContext::begin(self.0, context, Purpose::Sign);
        let mut signature = [0u8; SIGNATURE_LEN];
        let mut len = SIGNATURE_LEN;
        // SAFETY: `digest` was initialised for signing above; `signature`
        // has `len` writable bytes (AWS-LC writes at most that and stores
        // the length written in `len`); the message is readable for its
        // length for the duration of the call.
        let signed = unsafe {
            ffi::EVP_DigestSign(
                digest.as_ptr(),
                signature.as_mut_ptr(),
                &raw mut len,
                c_bytes(message),
                message.len(),
            )
        };
        assert!(
            signed == 1 && len == SIGNATURE_LEN,
            "AWS-LC failed to sign with ML-DSA-65"
        );
        Some(signature)
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        // SAFETY: `self.0` was created in `from_seed` and is owned by
        // `self`; every `sign` call dropped its reference before returning.
        unsafe { ffi::EVP_PKEY_free(self.0.as_ptr()) };
    }
}

/// An `EVP_MD_CTX` (and the `EVP_PKEY_CTX` it owns) for one signature or
/// verification.
struct DigestContext(NonNull<ffi::EVP_MD_CTX>);

impl DigestContext {
    /// # Panics
    /// If AWS-LC cannot allocate it.
    fn new() -> Self {
        // SAFETY: no preconditions. The result is NULL or a new
        // `EVP_MD_CTX`, which `Self` owns from here on.
        let raw = unsafe { ffi::EVP_MD_CTX_new() };
        Self(NonNull::new(raw).expect("AWS-LC could not allocate a verification context"))
    }

    /// A context set up for `purpose` with `key` and `context` (at most
    /// 255 bytes, checked by the callers).
    ///
    /// # Panics
    /// If AWS-LC cannot allocate or refuses the set-up (it does not for an
    /// ML-DSA-65 key and a short context).
    fn begin(key: NonNull<ffi::EVP_PKEY>, context: &[u8], purpose: Purpose) -> Self {
        let digest = Self::new();
        let mut pkey_ctx: *mut ffi::EVP_PKEY_CTX = ptr::null_mut();
        // SAFETY: `digest` holds a fresh `EVP_MD_CTX` that it owns;
        // `pkey_ctx` is a valid place for AWS-LC to write a pointer; a NULL
        // digest selects pure ML-DSA (no pre-hash) and a NULL engine is
        // AWS-LC's only engine. `key` is a valid key for as long as its
        // owner (the caller's `self`) lives, which outlives `digest`;
        // AWS-LC does not mutate it, only takes a reference, which the
        // `EVP_MD_CTX` drops when `digest` frees it. The `EVP_PKEY_CTX`
        // written to `pkey_ctx` is owned by the `EVP_MD_CTX`.
        let initialised = match purpose {
            // SAFETY: see above.
            Purpose::Verify => unsafe {
                ffi::EVP_DigestVerifyInit(
                    digest.as_ptr(),
                    &raw mut pkey_ctx,
                    ptr::null(),
                    ptr::null_mut(),
                    key.as_ptr(),
                )
            },
            // SAFETY: as above, for signing.
            Purpose::Sign => unsafe {
                ffi::EVP_DigestSignInit(
                    digest.as_ptr(),
                    &raw mut pkey_ctx,
                    ptr::null(),
                    ptr::null_mut(),
                    key.as_ptr(),
                )
            },
        };
        assert!(
            initialised == 1 && !pkey_ctx.is_null(),
            "AWS-LC could not set up an ML-DSA-65 {purpose:?}"
        );
        // SAFETY: `pkey_ctx` is the live `EVP_PKEY_CTX` of `digest` (checked
        // non-NULL above, freed only when `digest` drops). `context` points
        // to `context.len()` <= 255 readable bytes, which AWS-LC copies.
        let context_set = unsafe {
            ffi::EVP_PKEY_CTX_set1_signature_context_string(
                pkey_ctx,
                c_bytes(context),
                context.len(),
            )
        };
        // A context of at most 255 bytes is always accepted.
        assert_eq!(
            context_set,
            1,
            "AWS-LC refused an ML-DSA-65 context string of {} bytes",
            context.len()
        );
        digest
    }

    fn as_ptr(&self) -> *mut ffi::EVP_MD_CTX {
        self.0.as_ptr()
    }
}

/// What a [`DigestContext`] is set up for.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    Sign,
    Verify,
}

impl Drop for DigestContext {
    fn drop(&mut self) {
        // SAFETY: `self.0` was created by `EVP_MD_CTX_new` and is owned by
        // `self`, so this frees it exactly once. It also frees the
        // `EVP_PKEY_CTX` of `EVP_DigestVerifyInit`, if any, which drops
        // that context's reference to the key.
        unsafe { ffi::EVP_MD_CTX_free(self.0.as_ptr()) };
    }
}

/// A pointer to `bytes` for C. An empty slice's pointer is dangling, and C
/// (`memcpy` and friends) wants a valid pointer even for zero bytes, so an
/// empty slice gets the address of a real byte (AWS-LC reads none of it).
fn c_bytes(bytes: &[u8]) -> *const u8 {
    static NOTHING: u8 = 0;
    if bytes.is_empty() {
        &raw const NOTHING
    } else {
        bytes.as_ptr()
    }
}

/// Initialises AWS-LC once per process (a no-op unless it was built without
/// static initialisers; `aws-lc-rs` does the same before its first call).
fn init() {
    static INIT: Once = Once::new();
    // SAFETY: no preconditions; AWS-LC allows it any number of times.
    INIT.call_once(|| unsafe { ffi::CRYPTO_library_init() });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Keypair, SignContext};

    #[test]
    fn wrong_lengths_are_rejected_without_calling_aws_lc() {
        let kp = Keypair::from_seed(&[3; 32]);
        let pk = kp.public().as_bytes();
        assert!(VerifyingKey::from_bytes(&pk[..PUBLIC_KEY_LEN - 1]).is_none());
        assert!(VerifyingKey::from_bytes(&[pk.as_slice(), &[0]].concat()).is_none());
        assert!(VerifyingKey::from_bytes(&[]).is_none());

        let key = VerifyingKey::from_bytes(pk).unwrap();
        let ctx = SignContext::Vote.as_str().as_bytes();
        let sig = kp.sign(SignContext::Vote, b"m");
        let sig = sig.as_bytes();
        assert!(key.verify(ctx, b"m", sig));
        assert!(!key.verify(ctx, b"m", &sig[..SIGNATURE_LEN - 1]));
        assert!(!key.verify(ctx, b"m", &[sig.as_slice(), &[0]].concat()));
        assert!(!key.verify(ctx, b"m", &[]));
        assert!(!key.verify(&[0; 256], b"m", sig));
    }

    #[test]
    fn hedged_signatures_verify_under_both_implementations_and_differ() {
        let kp = Keypair::from_seed(&[5; 32]);
        let signer = SigningKey::from_seed(&[5; 32]);
        let key = VerifyingKey::from_bytes(kp.public().as_bytes()).unwrap();
        let ctx = SignContext::Record.as_str().as_bytes();
        let a = signer.sign(ctx, b"record").unwrap();
        let b = signer.sign(ctx, b"record").unwrap();
        assert_ne!(a, b, "hedged: fresh randomness each time");
        assert!(key.verify(ctx, b"record", &a));
        assert!(!key.verify(b"pantheon/v1/vote", b"record", &a));
        let sig = crate::crypto::Signature::from_bytes(a);
        assert!(
            kp.public()
                .prepare_with(crate::crypto::VerifyBackend::RustCrypto)
                .verify(SignContext::Record, b"record", &sig)
        );
        assert!(signer.sign(&[0; 256], b"m").is_none());
    }

    #[test]
    fn empty_and_maximal_context_and_message() {
        let kp = Keypair::from_seed(&[4; 32]);
        let key = VerifyingKey::from_bytes(kp.public().as_bytes()).unwrap();
        for (ctx, msg) in [
            (&[][..], &[][..]),
            (&[0xab; 255][..], &[][..]),
            (&[][..], &[7; 100_000][..]),
        ] {
            let sig = kp.sign_with_context(ctx, msg).unwrap();
            assert!(key.verify(ctx, msg, sig.as_bytes()));
            assert!(!key.verify(&[ctx, &[0]].concat(), msg, sig.as_bytes()));
            assert!(!key.verify(ctx, &[msg, &[0]].concat(), sig.as_bytes()));
        }
    }

    #[test]
    fn one_key_verifies_on_many_threads() {
        use rayon::prelude::*;
        let kp = Keypair::from_seed(&[5; 32]);
        let key = VerifyingKey::from_bytes(kp.public().as_bytes()).unwrap();
        let signed: Vec<(Vec<u8>, crate::crypto::Signature)> = (0..64u32)
            .map(|i| {
                let m = i.to_be_bytes().to_vec();
                let s = kp.sign(SignContext::Transfer, &m);
                (m, s)
            })
            .collect();
        let ctx = SignContext::Transfer.as_str().as_bytes();
        for _ in 0..4 {
            let good = signed
                .par_iter()
                .filter(|(m, s)| key.verify(ctx, m, s.as_bytes()))
                .count();
            assert_eq!(good, signed.len());
            let bad = signed
                .par_iter()
                .filter(|(m, s)| key.verify(ctx, &[m.as_slice(), b"x"].concat(), s.as_bytes()))
                .count();
            assert_eq!(bad, 0);
        }
    }
}
