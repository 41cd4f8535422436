//! The anchor payload: what Pantheon writes into a Bitcoin OP_RETURN output.
//!
//! ```text
//! payload (37 bytes)   = "PNTH" (50 4e 54 48) || version 0x01 || commitment (32 bytes)
//! scriptPubKey (39 B)  = 0x6a (OP_RETURN) || 0x25 (push 37 bytes) || payload
//! output               = value 0 || scriptPubKey
//! ```
//!
//! The commitment is written verbatim, in the byte order it comes out of
//! SHA-256, so it appears unchanged in the transaction bytes that Bitcoin's
//! double SHA-256 hashes into the txid (an OpenTimestamps-style path). 37
//! bytes of data is under every relay policy's OP_RETURN limit (40 bytes in
//! the oldest, 80 since Bitcoin Core 0.12).
//!
//! Decoding is strict: exactly this script and no other spelling of the same
//! push (no `OP_PUSHDATA1`), the magic, and a known version.

use bitcoin::ScriptBuf;
use bitcoin::opcodes::all::OP_RETURN;
use pantheon_runtime::hash::Hash256;

/// The magic that opens every payload: ASCII `PNTH`.
pub const MAGIC: [u8; 4] = *b"PNTH";
/// The payload version this code writes and reads.
pub const VERSION: u8 = 0x01;
/// The payload length: magic, version, commitment.
pub const PAYLOAD_LEN: usize = 4 + 1 + 32;
/// The OP_RETURN script length: `OP_RETURN`, one push opcode, the payload.
pub const SCRIPT_LEN: usize = 2 + PAYLOAD_LEN;

/// Why bytes are not an anchor payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The payload is not 37 bytes long.
    #[error("anchor payload must be {PAYLOAD_LEN} bytes, got {0}")]
    WrongLength(usize),
    /// The payload does not start with `PNTH`.
    #[error("anchor payload magic is {}, expected 504e5448 (PNTH)", hex::encode(.0))]
    BadMagic([u8; 4]),
    /// The version byte is not [`VERSION`].
    #[error("anchor payload version {0} is not supported (expected {VERSION})")]
    UnsupportedVersion(u8),
    /// The script is not `OP_RETURN <push 37 bytes>`.
    #[error("script {} is not OP_RETURN followed by one 37-byte push", hex::encode(.0))]
    NotAnchorScript(Vec<u8>),
}

/// A Pantheon anchor payload: a 32-byte commitment with its magic and
/// version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnchorPayload {
    commitment: Hash256,
}

impl AnchorPayload {
    /// The payload for `commitment`.
    #[must_use]
    pub const fn new(commitment: Hash256) -> Self {
        Self { commitment }
    }

    /// The commitment carried.
    #[must_use]
    pub const fn commitment(&self) -> Hash256 {
        self.commitment
    }

    /// The 37 payload bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; PAYLOAD_LEN] {
        let mut out = [0u8; PAYLOAD_LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5..].copy_from_slice(self.commitment.as_bytes());
        out
    }

    /// Decodes exactly 37 payload bytes.
    ///
    /// # Errors
    /// [`PayloadError`] naming the wrong length, magic or version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PayloadError> {
        if bytes.len() != PAYLOAD_LEN {
            return Err(PayloadError::WrongLength(bytes.len()));
        }
        let mut magic = [0u8; 4];
        magic.copy_from_slice(&bytes[..4]);
        if magic != MAGIC {
            return Err(PayloadError::BadMagic(magic));
        }
        if bytes[4] != VERSION {
            return Err(PayloadError::UnsupportedVersion(bytes[4]));
        }
        let mut commitment = [0u8; 32];
        commitment.copy_from_slice(&bytes[5..]);
        Ok(Self::new(Hash256::from_bytes(commitment)))
    }

    /// The 39-byte script `OP_RETURN <push 37>`.
    #[must_use]
    pub fn to_script_bytes(&self) -> [u8; SCRIPT_LEN] {
        let mut out = [0u8; SCRIPT_LEN];
        out[0] = OP_RETURN.to_u8();
        out[1] = 0x25; // a direct push of 37 bytes
        out[2..].copy_from_slice(&self.to_bytes());
        out
    }

    /// The OP_RETURN output script.
    #[must_use]
    pub fn script_pubkey(&self) -> ScriptBuf {
        ScriptBuf::from_bytes(self.to_script_bytes().to_vec())
    }

    /// Decodes an output script that must be exactly `OP_RETURN <push 37>`
    /// with a valid payload.
    ///
    /// # Errors
    /// [`PayloadError::NotAnchorScript`] for any other script shape, then
    /// the payload errors of [`Self::from_bytes`].
    pub fn from_script(script: &[u8]) -> Result<Self, PayloadError> {
        if !Self::looks_like_anchor(script) {
            return Err(PayloadError::NotAnchorScript(script.to_vec()));
        }
        Self::from_bytes(&script[2..])
    }

    /// True when `script` has the anchor shape (`6a 25` then 37 bytes),
    /// whatever the magic and version say.
    #[must_use]
    pub fn looks_like_anchor(script: &[u8]) -> bool {
        script.len() == SCRIPT_LEN && script[0] == OP_RETURN.to_u8() && script[1] == 0x25
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commitment() -> Hash256 {
        Hash256::digest(b"pantheon anchor payload test")
    }

    #[test]
    fn golden_encoding() {
        let p = AnchorPayload::new(Hash256::from_bytes([0xab; 32]));
        assert_eq!(
            hex::encode(p.to_script_bytes()),
            format!("6a25504e544801{}", "ab".repeat(32))
        );
        assert_eq!(p.script_pubkey().len(), SCRIPT_LEN);
        assert!(p.script_pubkey().is_op_return());
        // At most 40 bytes of data, the strictest relay policy ever shipped.
        const { assert!(PAYLOAD_LEN <= 40) };
    }

    #[test]
    fn round_trip() {
        let p = AnchorPayload::new(commitment());
        assert_eq!(AnchorPayload::from_bytes(&p.to_bytes()), Ok(p));
        assert_eq!(AnchorPayload::from_script(&p.to_script_bytes()), Ok(p));
        assert_eq!(p.commitment(), commitment());
    }

    #[test]
    fn rejects_bad_payloads() {
        let good = AnchorPayload::new(commitment()).to_bytes();
        assert_eq!(
            AnchorPayload::from_bytes(&good[..36]),
            Err(PayloadError::WrongLength(36))
        );
        let mut bad = good;
        bad[0] = b'X';
        assert_eq!(
            AnchorPayload::from_bytes(&bad),
            Err(PayloadError::BadMagic(*b"XNTH"))
        );
        let mut bad = good;
        bad[4] = 2;
        assert_eq!(
            AnchorPayload::from_bytes(&bad),
            Err(PayloadError::UnsupportedVersion(2))
        );
    }

    #[test]
    fn rejects_other_script_shapes() {
        let payload = AnchorPayload::new(commitment()).to_bytes();
        // OP_RETURN OP_PUSHDATA1 37 <payload>: same data, not canonical here.
        let mut pushdata1 = vec![0x6a, 0x4c, 0x25];
        pushdata1.extend_from_slice(&payload);
        assert!(matches!(
            AnchorPayload::from_script(&pushdata1),
            Err(PayloadError::NotAnchorScript(_))
        ));
        // Trailing byte.
        let mut long = AnchorPayload::new(commitment()).to_script_bytes().to_vec();
        long.push(0);
        assert!(AnchorPayload::from_script(&long).is_err());
        // Not OP_RETURN.
        let mut other = AnchorPayload::new(commitment()).to_script_bytes();
        other[0] = 0x00;
        assert!(AnchorPayload::from_script(&other).is_err());
    }
}
