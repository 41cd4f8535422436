//! SHA-256 and the 32-byte hash newtypes.
//!
//! Every hash in Pantheon is SHA-256. Hashes of different kinds of object are
//! separated in one of two ways, both specified in `docs/FORMATS.md`:
//!
//! - Merkle trees use one-byte prefixes, as in RFC 9162: `0x00` for a log
//!   leaf, `0x01` for a log node, `0x10`/`0x11` for state-tree leaves/nodes.
//! - Every other object is hashed as `SHA-256(tag || 0x00 || bytes)` where
//!   `tag` is an ASCII domain tag from [`Domain`].
//!
//! In both cases the previous value of a proof path appears verbatim in the
//! bytes hashed next, so a proof path is also a plain OpenTimestamps path.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// An error parsing a hash (or any fixed-size id) from hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// The text is not lower- or upper-case hex.
    #[error("not hex: {0}")]
    NotHex(String),
    /// The decoded bytes have the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    WrongLength {
        /// Expected length in bytes.
        expected: usize,
        /// Decoded length in bytes.
        got: usize,
    },
}

/// Decodes hex into exactly `N` bytes.
///
/// # Errors
/// [`HexError`] when the text is not hex or not `N` bytes long.
pub fn decode_hex_array<const N: usize>(text: &str) -> Result<[u8; N], HexError> {
    let bytes = hex::decode(text).map_err(|e| HexError::NotHex(e.to_string()))?;
    let got = bytes.len();
    bytes
        .try_into()
        .map_err(|_| HexError::WrongLength { expected: N, got })
}

/// A 32-byte SHA-256 output. Displayed as 64 lower-case hex digits in the
/// order the bytes come out of SHA-256 (no reversal, unlike Bitcoin txids).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash256([u8; 32]);

impl Hash256 {
    /// The all-zero value, used as "none" (the state tree's empty subtree,
    /// the previous submission of an operator's first submission).
    pub const ZERO: Self = Self([0; 32]);

    /// Wraps 32 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// SHA-256 of `data`.
    #[must_use]
    pub fn digest(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// SHA-256 of the concatenation of `parts`.
    #[must_use]
    pub fn digest_parts(parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        Self(h.finalize().into())
    }

    /// `SHA-256(tag || 0x00 || data)`: the domain-separated hash of one object.
    #[must_use]
    pub fn tagged(domain: Domain, data: &[u8]) -> Self {
        Self::digest_parts(&[domain.tag().as_bytes(), &[0], data])
    }

    /// True for the all-zero value.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl FromStr for Hash256 {
    type Err = HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode_hex_array(s).map(Self)
    }
}

impl serde::Serialize for Hash256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// 32 bytes as 64 lower-case hex digits, as [`Hash256`]'s serde writes them.
impl schemars::JsonSchema for Hash256 {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Hash256".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "32 bytes as 64 lower-case hex digits"
        })
    }
}

impl<'de> serde::Deserialize<'de> for Hash256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl AsRef<[u8]> for Hash256 {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// The domain tags of tagged hashes. Each tag is ASCII, contains no `0x00`,
/// and is followed by `0x00` in the hashed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// An account or operator id: the hash of an ML-DSA-65 public key.
    KeyId,
    /// A block header.
    BlockHeader,
    /// The genesis header.
    Genesis,
    /// The list of genesis allocations.
    GenesisAllocations,
    /// A key of the state tree.
    StateKey,
    /// A value of the state tree.
    StateValue,
    /// The anchor commitment written into Bitcoin.
    Anchor,
    /// A commit certificate carried by the next block (header version 2).
    Certificate,
    /// A sealed audit record (envelope and signature), FORMATS 23.
    Record,
    /// The canonical (RFC 8785) body of an audit record, FORMATS 23.
    RecordBody,
}

impl Domain {
    /// The ASCII tag.
    #[must_use]
    pub const fn tag(self) -> &'static str {
        match self {
            Self::KeyId => "pantheon/v1/key-id",
            Self::BlockHeader => "pantheon/v1/block-header",
            Self::Genesis => "pantheon/v1/genesis",
            Self::GenesisAllocations => "pantheon/v1/genesis-allocations",
            Self::StateKey => "pantheon/v1/state-key",
            Self::StateValue => "pantheon/v1/state-value",
            Self::Anchor => "pantheon/v1/anchor",
            Self::Certificate => "pantheon/v1/certificate",
            Self::Record => "pantheon/v1/record",
            Self::RecordBody => "pantheon/v1/record-body",
        }
    }
}

/// Defines a newtype over [`Hash256`] with hex Display/FromStr and serde as a
/// hex string.
macro_rules! hash_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, ::schemars::JsonSchema)]
        pub struct $name($crate::hash::Hash256);

        impl $name {
            /// Wraps a hash.
            #[must_use]
            pub const fn new(hash: $crate::hash::Hash256) -> Self {
                Self(hash)
            }
            /// Wraps 32 bytes.
            #[must_use]
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self($crate::hash::Hash256::from_bytes(bytes))
            }
            /// The underlying hash.
            #[must_use]
            pub const fn hash(&self) -> $crate::hash::Hash256 {
                self.0
            }
            /// The 32 bytes.
            #[must_use]
            pub const fn as_bytes(&self) -> &[u8; 32] {
                self.0.as_bytes()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::hash::HexError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }

        impl $crate::codec::Encode for $name {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(self.as_bytes());
            }
        }

        impl $crate::codec::Decode for $name {
            fn decode(r: &mut $crate::codec::Reader<'_>) -> $crate::codec::Result<Self> {
                r.array::<32>().map(Self::from_bytes)
            }
        }
    };
}
pub(crate) use hash_newtype;

hash_newtype!(
    /// The id of a block: the tagged hash of its header.
    BlockHash
);
hash_newtype!(
    /// The root of the authenticated state tree.
    StateRoot
);
hash_newtype!(
    /// The RFC 9162 root of the submission log (or of a block's transactions).
    LogRoot
);
hash_newtype!(
    /// The id of a network: the tagged hash of its genesis header.
    GenesisHash
);
hash_newtype!(
    /// The id of a submission: its RFC 9162 leaf hash, `SHA-256(0x00 || bytes)`
    /// of the whole signed transaction.
    SubmissionId
);
hash_newtype!(
    /// A 32-byte Merkle root of an operator's audit batch. Opaque to Pantheon.
    AuditRoot
);
hash_newtype!(
    /// The id of any transaction: its RFC 9162 leaf hash.
    TxId
);
hash_newtype!(
    /// The tagged hash of a commit certificate's encoding, as a version-2
    /// header commits to the certificate of its parent.
    CertificateHash
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answer() {
        // FIPS 180-2 example "abc".
        assert_eq!(
            Hash256::digest(b"abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn tagged_hash_is_tag_nul_data() {
        let h = Hash256::tagged(Domain::BlockHeader, b"x");
        assert_eq!(h, Hash256::digest(b"pantheon/v1/block-header\0x"));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = Hash256::digest(b"abc");
        assert_eq!(h.to_string().parse::<Hash256>(), Ok(h));
        assert!(matches!("zz".parse::<Hash256>(), Err(HexError::NotHex(_))));
        assert_eq!(
            "00ff".parse::<Hash256>(),
            Err(HexError::WrongLength {
                expected: 32,
                got: 2
            })
        );
    }
}
