//! ML-DSA-65 (FIPS 204) keys, signatures and the verifying-key cache.
//!
//! - A key is a 32-byte FIPS 204 seed `xi`; the key pair is `ML-DSA.KeyGen_internal(xi)`.
//!   Key files are PKCS#8 PEM holding the seed only (the `seed [0]` choice of
//!   the IETF LAMPS ML-DSA private-key format, OID 2.16.840.1.101.3.4.3.18).
//! - Every signature is pure ML-DSA-65 with a FIPS 204 context string that
//!   names the message kind ([`SignContext`]), so a signature for one kind
//!   of message can never be replayed as another.
//! - Signing is the deterministic variant (`rnd = 0^32`): the runtime has no
//!   randomness, and test vectors are reproducible. Verifiers accept hedged
//!   signatures from other implementations just the same.
//! - The id of a key ([`AccountId`]) is the tagged hash of its encoded
//!   public key; it names both the account and the operator of that key.
//! - Two implementations, one answer. Keys and signatures are made by the
//!   RustCrypto `ml-dsa` crate (AWS-LC's signing API is hedged only, so it
//!   could not reproduce deterministic signatures). Signatures are verified
//!   by AWS-LC (about 2.8 times faster; module `aws_lc`, the crate's only
//!   `unsafe` code) unless a caller asks for `ml-dsa` ([`VerifyBackend`]);
//!   both accept exactly the same inputs (`runtime/tests/mldsa_interop.rs`).
//! - [`KeyCache`] keeps keys prepared for verification ([`PreparedKey`]) by
//!   id, and remembers which transactions verified.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use ml_dsa::{EncodedVerifyingKey, MlDsa65, Seed, SigningKey, VerifyingKey};
use pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};

mod aws_lc;

use crate::codec::{self, Decode, Encode, Reader};
use crate::hash::{Domain, Hash256, hash_newtype};

/// Bytes in an encoded ML-DSA-65 public key.
pub const PUBLIC_KEY_LEN: usize = 1952;
/// Bytes in an encoded ML-DSA-65 signature.
pub const SIGNATURE_LEN: usize = 3309;
/// Bytes in a key seed.
pub const SEED_LEN: usize = 32;

hash_newtype!(
    /// The id of an ML-DSA-65 key: `SHA-256("pantheon/v1/key-id" || 0x00 || public_key)`.
    /// It names both the account and the operator of that key.
    AccountId
);

/// An operator is named by the id of its key; see [`AccountId`].
pub type OperatorId = AccountId;

/// Errors of key handling.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM document is not an ML-DSA-65 PKCS#8 seed key.
    #[error("not an ML-DSA-65 PKCS#8 key: {0}")]
    Pkcs8(String),
}

/// FIPS 204 context strings, one per kind of signed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignContext {
    /// A root submission.
    SubmitRoot,
    /// A PAN transfer.
    Transfer,
    /// An operator registration.
    RegisterOperator,
    /// A consensus vote (prevote or precommit).
    Vote,
    /// A consensus proposal.
    Proposal,
    /// A validator's proof that a libp2p peer id is its own.
    ValidatorProof,
    /// A validator's record of a Bitcoin anchor (transaction kind 4).
    AnchorRecord,
    /// An operator's audit record (FORMATS 23).
    Record,
    /// A governance approval of an audit record by another key (FORMATS 23).
    Approval,
    /// A validator's signed group of submission receipts (FORMATS 26).
    Receipt,
}

impl SignContext {
    /// The context string passed to ML-DSA.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SubmitRoot => "pantheon/v1/submit-root",
            Self::Transfer => "pantheon/v1/transfer",
            Self::RegisterOperator => "pantheon/v1/register-operator",
            Self::Vote => "pantheon/v1/vote",
            Self::Proposal => "pantheon/v1/proposal",
            Self::ValidatorProof => "pantheon/v1/validator-proof",
            Self::AnchorRecord => "pantheon/v1/anchor-record",
            Self::Record => "pantheon/v1/record",
            Self::Approval => "pantheon/v1/approval",
            Self::Receipt => "pantheon/v1/receipt",
        }
    }
}

/// An encoded ML-DSA-65 public key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey(Box<[u8; PUBLIC_KEY_LEN]>);

impl PublicKey {
    /// Wraps encoded bytes. Every 1,952-byte string is a valid encoding.
    #[must_use]
    pub fn from_bytes(bytes: [u8; PUBLIC_KEY_LEN]) -> Self {
        Self(Box::new(bytes))
    }

    /// From a slice, `None` unless it is exactly 1,952 bytes.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; PUBLIC_KEY_LEN] = bytes.try_into().ok()?;
        Some(Self::from_bytes(array))
    }

    /// The encoded bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }

    /// The id of this key.
    #[must_use]
    pub fn id(&self) -> AccountId {
        AccountId::new(Hash256::tagged(Domain::KeyId, &self.0[..]))
    }

    /// Prepares the key for verification with the default backend
    /// (AWS-LC); prefer [`KeyCache`], which keeps prepared keys.
    #[must_use]
    pub fn prepare(&self) -> PreparedKey {
        self.prepare_with(VerifyBackend::default())
    }

    /// Prepares the key for verification with `backend`. With
    /// [`VerifyBackend::RustCrypto`] this decodes the key (expands the
    /// matrix `A`), which costs about as much as a verification; AWS-LC
    /// copies the bytes and expands `A` in every verification.
    ///
    /// # Panics
    /// If AWS-LC cannot allocate the key (out of memory).
    #[must_use]
    pub fn prepare_with(&self, backend: VerifyBackend) -> PreparedKey {
        PreparedKey(match backend {
            VerifyBackend::AwsLc => Prepared::AwsLc(Arc::new(
                aws_lc::VerifyingKey::from_bytes(&self.0[..])
                    .expect("a 1952-byte array is an encoded ML-DSA-65 key"),
            )),
            VerifyBackend::RustCrypto => {
                let enc = EncodedVerifyingKey::<MlDsa65>::try_from(&self.0[..])
                    .expect("a 1952-byte array is an encoded ML-DSA-65 key");
                Prepared::RustCrypto(Arc::new(VerifyingKey::<MlDsa65>::decode(&enc)))
            }
        })
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(id {})", self.id())
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0[..]))
    }
}

/// The 1952-byte key as lower-case hex, as [`PublicKey`]'s serde writes it.
impl schemars::JsonSchema for PublicKey {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PublicKey".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9a-f]{3904}$",
            "description": "An ML-DSA-65 public key, 1952 bytes as lower-case hex"
        })
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = crate::hash::decode_hex_array::<PUBLIC_KEY_LEN>(&text)
            .map_err(serde::de::Error::custom)?;
        Ok(Self::from_bytes(bytes))
    }
}

impl Encode for PublicKey {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0[..]);
    }
}

impl Decode for PublicKey {
    const MAX_SIZE: usize = PUBLIC_KEY_LEN;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        r.array::<PUBLIC_KEY_LEN>().map(Self::from_bytes)
    }
}

/// An encoded ML-DSA-65 signature.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature(Box<[u8; SIGNATURE_LEN]>);

impl Signature {
    /// Wraps encoded bytes (validity is checked by verification).
    #[must_use]
    pub fn from_bytes(bytes: [u8; SIGNATURE_LEN]) -> Self {
        Self(Box::new(bytes))
    }

    /// The encoded bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({}..)", hex::encode(&self.0[..8]))
    }
}

impl Encode for Signature {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0[..]);
    }
}

impl Decode for Signature {
    const MAX_SIZE: usize = SIGNATURE_LEN;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        r.array::<SIGNATURE_LEN>().map(Self::from_bytes)
    }
}

/// The implementation that verifies ML-DSA-65 signatures. Both accept and
/// reject exactly the same inputs (FIPS 204 `ML-DSA.Verify`); they differ
/// in speed only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VerifyBackend {
    /// AWS-LC, through `aws-lc-sys`: about 2.8 times faster than `ml-dsa`.
    /// What [`PublicKey::prepare`] and [`KeyCache`] use.
    #[default]
    AwsLc,
    /// The RustCrypto `ml-dsa` crate, which also makes every key and
    /// signature: the reference the tests hold AWS-LC to.
    RustCrypto,
}

/// A public key prepared for verification by one [`VerifyBackend`]. Cheap to
/// clone, and shared by threads: every verification has its own state.
#[derive(Clone)]
pub struct PreparedKey(Prepared);

#[derive(Clone)]
enum Prepared {
    AwsLc(Arc<aws_lc::VerifyingKey>),
    RustCrypto(Arc<VerifyingKey<MlDsa65>>),
}

impl PreparedKey {
    /// The backend that verifies with this key.
    #[must_use]
    pub fn backend(&self) -> VerifyBackend {
        match self.0 {
            Prepared::AwsLc(_) => VerifyBackend::AwsLc,
            Prepared::RustCrypto(_) => VerifyBackend::RustCrypto,
        }
    }

    /// Verifies `signature` over `message` under `context`.
    #[must_use]
    pub fn verify(&self, context: SignContext, message: &[u8], signature: &Signature) -> bool {
        self.verify_with_context(context.as_str().as_bytes(), message, signature)
    }

    /// Verifies with an arbitrary FIPS 204 context string (for test vectors
    /// and interoperability checks; Pantheon messages use [`PreparedKey::verify`]).
    /// A context over 255 bytes is rejected.
    ///
    /// # Panics
    /// If AWS-LC cannot allocate a verification context (out of memory):
    /// a node must not reject a valid signature for want of memory.
    #[must_use]
    pub fn verify_with_context(
        &self,
        context: &[u8],
        message: &[u8],
        signature: &Signature,
    ) -> bool {
        match &self.0 {
            Prepared::AwsLc(key) => key.verify(context, message, &signature.0[..]),
            Prepared::RustCrypto(key) => {
                let Ok(sig) = ml_dsa::Signature::<MlDsa65>::try_from(&signature.0[..]) else {
                    return false;
                };
                key.verify_with_context(message, context, &sig)
            }
        }
    }
}

impl std::fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PreparedKey({:?})", self.backend())
    }
}

/// An ML-DSA-65 key pair derived from a 32-byte seed.
pub struct Keypair {
    signing: SigningKey<MlDsa65>,
    public: PublicKey,
    /// The same key in AWS-LC, made on the first hedged signature.
    hedged: std::sync::OnceLock<aws_lc::SigningKey>,
}

impl Keypair {
    /// `ML-DSA.KeyGen_internal(seed)`.
    #[must_use]
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
        let signing = SigningKey::<MlDsa65>::from_seed(&Seed::from(*seed));
        let encoded = signing.expanded_key().verifying_key().encode();
        let public = PublicKey::from_slice(&encoded).expect("ML-DSA-65 keys encode to 1952 bytes");
        Self {
            signing,
            public,
            hedged: std::sync::OnceLock::new(),
        }
    }

    /// The public key.
    #[must_use]
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The id of the key.
    #[must_use]
    pub fn id(&self) -> AccountId {
        self.public.id()
    }

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> [u8; SEED_LEN] {
        self.signing.to_seed().into()
    }

    /// Deterministic ML-DSA-65 signature of `message` under `context`.
    #[must_use]
    pub fn sign(&self, context: SignContext, message: &[u8]) -> Signature {
        self.sign_with_context(context.as_str().as_bytes(), message)
            .expect("Pantheon context strings are shorter than 256 bytes")
    }

    /// Hedged ML-DSA-65 signature of `message` under `context` (FIPS 204's
    /// default, fresh randomness in each), made by AWS-LC, which signs about
    /// 8 times faster than the `ml-dsa` crate on this machine's cores. For
    /// signatures that are stored once made (audit records): two signings
    /// of the same message differ, so the signed bytes, and any id over
    /// them, are not reproducible. Verifies like any other signature.
    #[must_use]
    pub fn sign_hedged(&self, context: SignContext, message: &[u8]) -> Signature {
        let key = self
            .hedged
            .get_or_init(|| aws_lc::SigningKey::from_seed(&self.seed()));
        Signature::from_bytes(
            key.sign(context.as_str().as_bytes(), message)
                .expect("Pantheon context strings are shorter than 256 bytes"),
        )
    }

    /// Deterministic signature with an arbitrary FIPS 204 context string (for
    /// test vectors; Pantheon messages use [`Keypair::sign`]). `None` if the
    /// context is longer than 255 bytes.
    #[must_use]
    pub fn sign_with_context(&self, context: &[u8], message: &[u8]) -> Option<Signature> {
        let sig = self
            .signing
            .expanded_key()
            .sign_deterministic(message, context)
            .ok()?;
        let encoded = sig.encode();
        let mut bytes = [0u8; SIGNATURE_LEN];
        bytes.copy_from_slice(&encoded);
        Some(Signature::from_bytes(bytes))
    }

    /// The key as a PKCS#8 PEM document (seed form).
    ///
    /// # Errors
    /// [`KeyError::Pkcs8`] if encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        self.signing
            .to_pkcs8_pem(LineEnding::LF)
            .map(|doc| doc.to_string())
            .map_err(|e| KeyError::Pkcs8(e.to_string()))
    }

    /// Reads a PKCS#8 PEM document (seed form).
    ///
    /// # Errors
    /// [`KeyError::Pkcs8`] if it is not an ML-DSA-65 seed key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let signing = SigningKey::<MlDsa65>::from_pkcs8_pem(pem)
            .map_err(|e| KeyError::Pkcs8(e.to_string()))?;
        Ok(Self::from_seed(&signing.to_seed().into()))
    }
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keypair(id {})", self.id())
    }
}

/// A bounded cache of prepared verifying keys, keyed by key id, and of the
/// ids of transactions whose signatures already verified.
///
/// Results never depend on the cache: a miss prepares the key or verifies
/// the signature again. A transaction id covers its signature and body, and
/// the key that must sign it never changes (an operator's key is fixed by
/// its id), so "this id verified" is a permanent fact.
#[derive(Debug)]
pub struct KeyCache {
    inner: Mutex<lru::LruCache<AccountId, PreparedKey>>,
    verified: Mutex<lru::LruCache<crate::hash::TxId, ()>>,
}

impl KeyCache {
    /// A cache holding at most `capacity` keys (about 2 KiB each, prepared
    /// for AWS-LC) and the ids of `16 * capacity` verified transactions.
    ///
    /// # Panics
    /// If `capacity` is zero.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity).expect("key cache capacity must be positive");
        let verified = NonZeroUsize::new(capacity.saturating_mul(16)).expect("positive");
        Self {
            inner: Mutex::new(lru::LruCache::new(cap)),
            verified: Mutex::new(lru::LruCache::new(verified)),
        }
    }

    /// Records that transaction `id`'s signature verified.
    pub fn mark_verified(&self, id: crate::hash::TxId) {
        lock(&self.verified).put(id, ());
    }

    /// Forgets every verified transaction (keeps the prepared keys).
    pub fn clear_verified(&self) {
        lock(&self.verified).clear();
    }

    /// True if transaction `id`'s signature is known to verify.
    #[must_use]
    pub fn is_verified(&self, id: &crate::hash::TxId) -> bool {
        lock(&self.verified).get(id).is_some()
    }

    /// The prepared key for `key` (default backend), from the cache or
    /// prepared now.
    #[must_use]
    pub fn get(&self, key: &PublicKey) -> PreparedKey {
        let id = key.id();
        self.get_by_id(id, key)
    }

    /// Like [`KeyCache::get`] when the caller already knows `key`'s id.
    #[must_use]
    pub fn get_by_id(&self, id: AccountId, key: &PublicKey) -> PreparedKey {
        if let Some(found) = self.lock().get(&id) {
            return found.clone();
        }
        let prepared = key.prepare();
        self.lock().put(id, prepared.clone());
        prepared
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, lru::LruCache<AccountId, PreparedKey>> {
        lock(&self.inner)
    }
}

/// A panic while holding a cache lock leaves the cache consistent (each
/// operation is a single map call), so a poisoned lock is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::new(16_384)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_context_separation() {
        let kp = Keypair::from_seed(&[7; 32]);
        let sig = kp.sign(SignContext::SubmitRoot, b"hello");
        let other = Keypair::from_seed(&[8; 32]);
        for backend in [VerifyBackend::AwsLc, VerifyBackend::RustCrypto] {
            let key = kp.public().prepare_with(backend);
            assert_eq!(key.backend(), backend);
            assert!(key.verify(SignContext::SubmitRoot, b"hello", &sig));
            assert!(!key.verify(SignContext::Transfer, b"hello", &sig));
            assert!(!key.verify(SignContext::SubmitRoot, b"hellp", &sig));
            assert!(!key.verify_with_context(&[0; 256], b"hello", &sig));
            let other = other.public().prepare_with(backend);
            assert!(!other.verify(SignContext::SubmitRoot, b"hello", &sig));
        }
        assert_eq!(kp.public().prepare().backend(), VerifyBackend::AwsLc);
    }

    #[test]
    fn prepared_keys_are_shared_by_threads() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<PreparedKey>();
        shareable::<KeyCache>();
    }

    #[test]
    fn pem_round_trip() {
        let kp = Keypair::from_seed(&[9; 32]);
        let pem = kp.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = Keypair::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.public(), kp.public());
        assert_eq!(back.seed(), [9; 32]);
        assert!(Keypair::from_pkcs8_pem("not a key").is_err());
    }

    #[test]
    fn cache_returns_equivalent_keys() {
        let cache = KeyCache::new(1);
        let a = Keypair::from_seed(&[1; 32]);
        let b = Keypair::from_seed(&[2; 32]);
        let sig = a.sign(SignContext::Vote, b"m");
        assert!(cache.get(a.public()).verify(SignContext::Vote, b"m", &sig));
        assert!(!cache.get(b.public()).verify(SignContext::Vote, b"m", &sig));
        assert!(cache.get(a.public()).verify(SignContext::Vote, b"m", &sig));
    }
}
