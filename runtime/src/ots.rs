//! OpenTimestamps export (FORMATS 13.1): a proof bundle's hash path, from
//! the audit root (or from one record's hash, for a record proof) down to
//! the Bitcoin block's Merkle root, as a standard detached timestamp file
//! (`.ots`) that the unmodified OpenTimestamps client checks against its
//! own Bitcoin node.
//!
//! ```text
//! magic (31 bytes) | version 0x01 | 0x08 (sha256) | digest (32 bytes)
//!   | op ... op | 0x00 | 05 88 96 0d 73 d7 19 01 | varbytes(varuint height)
//! op = 0xf0 varbytes (append) | 0xf1 varbytes (prepend) | 0x08 (sha256)
//! ```
//!
//! The operations are exactly FORMATS 13 steps 1 to 4 and 6 to 10 (a record
//! proof adds its record's leaf and batch path before them, FORMATS 24).
//! The writer is pure (no I/O) and follows the path as it writes it: each
//! value it reaches must be the one the bundle's own bytes name (the
//! submission id, the header's log root, the block hash, the commitment,
//! the txid, the first header's Merkle root), or it refuses. It does not
//! check signatures, the certificate or proof of work: call it on a bundle
//! that verified (`pantheon-anchor`'s `verify_bundle`), as `pantheon`
//! does.
//!
//! ```
//! use pantheon_runtime::ots::Timestamp;
//! use pantheon_runtime::proof::ProofBundle;
//! # let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/bundle.json"))?;
//! let bundle: ProofBundle = serde_json::from_str(&text)?;
//! let ots = Timestamp::for_bundle(&bundle, 101)?;
//! let bytes = ots.to_bytes();
//! assert_eq!(Timestamp::from_bytes(&bytes)?, ots);
//! let anchor = bundle.anchor.as_ref().ok_or("anchored")?;
//! assert_eq!(&ots.replay()[..], &anchor.bitcoin.headers[0][36..68]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::codec::decode_exact;
use crate::hash::{Domain, Hash256};
use crate::log::InclusionProof;
use crate::proof::ProofBundle;
use crate::tx::SignedTx;

/// The header of every detached timestamp file.
pub const MAGIC: &[u8; 31] = b"\x00OpenTimestamps\x00\x00Proof\x00\xbf\x89\xe2\xe8\x84\xe8\x92\x94";

/// The file format's major version.
pub const VERSION: u8 = 1;

/// The tag of a Bitcoin block header attestation.
pub const BITCOIN_TAG: [u8; 8] = [0x05, 0x88, 0x96, 0x0d, 0x73, 0xd7, 0x19, 0x01];

const TAG_SHA256: u8 = 0x08;
const TAG_APPEND: u8 = 0xf0;
const TAG_PREPEND: u8 = 0xf1;
const TAG_ATTESTATION: u8 = 0x00;

/// The longest argument, message and result the OpenTimestamps format
/// allows (its `MAX_RESULT_LENGTH` and `MAX_MSG_LENGTH`).
pub const MAX_MESSAGE: usize = 4096;

/// The most operations a reader accepts: the reference reader nests one
/// timestamp per operation and stops at a depth of 256.
pub const MAX_OPS: usize = 255;

/// The most bytes of an attestation's payload (the reference reader's
/// `MAX_PAYLOAD_SIZE`).
const MAX_PAYLOAD: usize = 8192;

/// One operation of the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `msg || arg`.
    Append(Vec<u8>),
    /// `arg || msg`.
    Prepend(Vec<u8>),
    /// `SHA-256(msg)`.
    Sha256,
}

impl Op {
    fn apply(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Self::Append(a) => [msg, a].concat(),
            Self::Prepend(a) => [a, msg].concat(),
            Self::Sha256 => Hash256::digest(msg).as_bytes().to_vec(),
        }
    }
}

/// Why no `.ots` file can be written (or read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtsError {
    /// The bundle has no anchor part: nothing reaches Bitcoin.
    #[error(
        "the bundle is not anchored (no anchor part): an OpenTimestamps proof needs the Bitcoin part; fetch it once the submission is anchored"
    )]
    NotAnchored,
    /// The anchor part carries no Bitcoin header.
    #[error("the anchor part carries no Bitcoin header, so no Merkle root to attest")]
    NoHeader,
    /// A member of the bundle does not decode.
    #[error("{0}")]
    Malformed(String),
    /// Following the path did not reach the value the bundle names.
    #[error("the path does not reach the {what}: got {got}, the bundle names {want}")]
    Mismatch {
        /// Which value.
        what: &'static str,
        /// Hex of the value reached.
        got: String,
        /// Hex of the value the bundle names.
        want: String,
    },
    /// A message, argument or result over [`MAX_MESSAGE`] bytes.
    #[error(
        "an OpenTimestamps message may be at most {MAX_MESSAGE} bytes; this path needs {0} (a Bitcoin transaction that large cannot be exported)"
    )]
    TooLong(usize),
    /// More than [`MAX_OPS`] operations.
    #[error("the path has {0} operations; OpenTimestamps readers accept at most {MAX_OPS}")]
    TooManyOps(usize),
    /// A file that is not a linear timestamp of this module's form.
    #[error("not a linear OpenTimestamps file with a Bitcoin attestation: {0}")]
    Parse(String),
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, OtsError>;

/// A linear OpenTimestamps proof: a SHA-256 digest, the operations from
/// it, and the Bitcoin block whose Merkle root they reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    digest: Hash256,
    ops: Vec<Op>,
    bitcoin_height: u64,
}

/// A path being written: the operations so far and the value they reach.
struct Path {
    msg: Vec<u8>,
    ops: Vec<Op>,
}

impl Path {
    fn new(start: &Hash256) -> Self {
        Self {
            msg: start.as_bytes().to_vec(),
            ops: Vec::new(),
        }
    }

    fn op(&mut self, op: Op) -> Result<()> {
        if let Op::Append(a) | Op::Prepend(a) = &op
            && a.is_empty()
        {
            return Ok(()); // an empty argument changes nothing (and is not allowed)
        }
        let next = op.apply(&self.msg);
        if next.len() > MAX_MESSAGE {
            return Err(OtsError::TooLong(next.len()));
        }
        self.msg = next;
        self.ops.push(op);
        Ok(())
    }

    fn prepend(&mut self, a: &[u8]) -> Result<()> {
        self.op(Op::Prepend(a.to_vec()))
    }

    fn append(&mut self, a: &[u8]) -> Result<()> {
        self.op(Op::Append(a.to_vec()))
    }

    fn sha256(&mut self) -> Result<()> {
        self.op(Op::Sha256)
    }

    /// The value reached must be `want`.
    fn expect(&self, what: &'static str, want: &[u8]) -> Result<()> {
        if self.msg == want {
            Ok(())
        } else {
            Err(OtsError::Mismatch {
                what,
                got: hex::encode(&self.msg),
                want: hex::encode(want),
            })
        }
    }

    /// FORMATS 13 step 3: an RFC 9162 inclusion path, the sides those of
    /// the verification algorithm (8.3).
    fn inclusion(&mut self, proof: &InclusionProof, what: &'static str) -> Result<()> {
        let shape = || {
            OtsError::Malformed(format!(
                "the {what} path is not a path for leaf {} of {}",
                proof.leaf_index, proof.tree_size
            ))
        };
        if proof.leaf_index >= proof.tree_size {
            return Err(shape());
        }
        let mut f = proof.leaf_index;
        let mut s = proof.tree_size - 1;
        for p in &proof.path {
            if s == 0 {
                return Err(shape());
            }
            if f & 1 == 1 || f == s {
                self.prepend(&[&[0x01], p.as_bytes().as_slice()].concat())?;
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                self.prepend(&[0x01])?;
                self.append(p.as_bytes())?;
            }
            self.sha256()?;
            f >>= 1;
            s >>= 1;
        }
        if s == 0 { Ok(()) } else { Err(shape()) }
    }

    /// FORMATS 13 steps 1 to 4 and 6 to 10: from the submission's audit
    /// root (the value reached so far) to the Bitcoin Merkle root.
    fn bundle(&mut self, bundle: &ProofBundle) -> Result<()> {
        let anchor = bundle.anchor.as_ref().ok_or(OtsError::NotAnchored)?;
        let malformed = |what: &str, e: &dyn std::fmt::Display| {
            OtsError::Malformed(format!("{what} does not decode: {e}"))
        };
        let t = &bundle.submission;
        let tx: SignedTx = decode_exact(t).map_err(|e| malformed("submission", &e))?;
        let submission = tx
            .as_submission()
            .ok_or_else(|| OtsError::Malformed("the submission is not a SubmitRoot".into()))?;
        self.expect("audit root", submission.root.as_bytes())?;
        // 1-2: root -> submission -> leaf hash (the submission id).
        self.prepend(&t[..74])?;
        self.append(&t[106..])?;
        self.expect("submission", t)?;
        self.prepend(&[0x00])?;
        self.sha256()?;
        self.expect("submission id", tx.submission_id().as_bytes())?;
        // 3: leaf hash -> log root.
        self.inclusion(&bundle.inclusion, "inclusion")?;
        let b = &bundle.header;
        let header: crate::block::BlockHeader =
            decode_exact(b).map_err(|e| malformed("header", &e))?;
        self.expect("header's log root", header.log_root.as_bytes())?;
        // 4: log root -> block hash.
        let mut tag = Domain::BlockHeader.tag().as_bytes().to_vec();
        tag.push(0x00);
        self.prepend(&[&tag, &b[..95]].concat())?;
        self.append(&b[127..])?;
        self.sha256()?;
        self.expect("block hash", header.hash().as_bytes())?;
        // 6-7: block hash -> history leaf -> history root.
        self.prepend(&[0x00])?;
        self.sha256()?;
        self.inclusion(
            &InclusionProof {
                leaf_index: header.height.get().saturating_sub(1),
                tree_size: anchor.height.get(),
                path: anchor.history_proof.clone(),
            },
            "history",
        )?;
        // 8: history root -> anchor commitment.
        let mut prefix = Domain::Anchor.tag().as_bytes().to_vec();
        prefix.push(0x00);
        prefix.extend_from_slice(bundle.genesis_hash.as_bytes());
        prefix.extend_from_slice(&anchor.height.get().to_be_bytes());
        self.prepend(&prefix)?;
        self.sha256()?;
        self.expect("anchor commitment", anchor.commitment.as_bytes())?;
        // 9: commitment -> txid.
        let part = &anchor.bitcoin;
        let raw = &part.raw_tx;
        let c = commitment_offset(raw, anchor.commitment.as_bytes())?;
        self.prepend(&raw[..c])?;
        self.append(&raw[c + 32..])?;
        self.sha256()?;
        self.sha256()?;
        self.expect("Bitcoin txid", part.txid().as_bytes())?;
        // 10: txid -> Merkle root.
        for (i, s) in part.branch.iter().enumerate() {
            if (u64::from(part.tx_index) >> i) & 1 == 1 {
                self.prepend(s)?;
            } else {
                self.append(s)?;
            }
            self.sha256()?;
            self.sha256()?;
        }
        let first = part.headers.first().ok_or(OtsError::NoHeader)?;
        self.expect("first Bitcoin header's Merkle root", &first[36..68])
    }

    fn finish(self, digest: Hash256, bitcoin_height: u64) -> Result<Timestamp> {
        if self.ops.len() > MAX_OPS {
            return Err(OtsError::TooManyOps(self.ops.len()));
        }
        Ok(Timestamp {
            digest,
            ops: self.ops,
            bitcoin_height,
        })
    }
}

/// The offset of the commitment in `raw` (a legacy-serialized Bitcoin
/// transaction): inside the output whose script is `6a 25 "PNTH" 01
/// commitment` (FORMATS 20.2), 7 bytes after the script's start.
fn commitment_offset(raw: &[u8], commitment: &[u8; 32]) -> Result<usize> {
    let bad = |why: &str| OtsError::Malformed(format!("the Bitcoin transaction {why}"));
    let mut at = 4usize;
    let mut take = |n: usize| -> Result<usize> {
        let start = at;
        at = at
            .checked_add(n)
            .filter(|end| *end <= raw.len())
            .ok_or_else(|| bad("is truncated"))?;
        Ok(start)
    };
    let compact = |take: &mut dyn FnMut(usize) -> Result<usize>| -> Result<usize> {
        let i = take(1)?;
        let (n, len) = match raw[i] {
            0xfd => (2, 0),
            0xfe => (4, 0),
            0xff => (8, 0),
            b => return Ok(usize::from(b)),
        };
        let j = take(n)?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(&raw[j..j + n]);
        usize::try_from(u64::from_le_bytes(v) + len).map_err(|_| bad("has a huge count"))
    };
    let inputs = compact(&mut take)?;
    for _ in 0..inputs {
        take(36)?;
        let n = compact(&mut take)?;
        take(n)?;
        take(4)?;
    }
    let outputs = compact(&mut take)?;
    let mut script = [0x6a, 0x25, b'P', b'N', b'T', b'H', 0x01].to_vec();
    script.extend_from_slice(commitment);
    for _ in 0..outputs {
        take(8)?;
        let n = compact(&mut take)?;
        let s = take(n)?;
        if raw[s..s + n] == script[..] {
            return Ok(s + 7);
        }
    }
    Err(bad("has no output carrying the commitment"))
}

impl Timestamp {
    /// The `.ots` of an anchored bundle: from its audit root to the Merkle
    /// root of the Bitcoin block at `bitcoin_height` (FORMATS 13 steps 1 to
    /// 4 and 6 to 10). The height only locates the block: a reader checks
    /// the Merkle root against the header its own node has there.
    ///
    /// # Errors
    /// [`OtsError::NotAnchored`] for a bundle without an anchor part;
    /// [`OtsError::Malformed`] or [`OtsError::Mismatch`] for a bundle that
    /// would not verify; [`OtsError::TooLong`], [`OtsError::TooManyOps`]
    /// for a path the format cannot hold.
    pub fn for_bundle(bundle: &ProofBundle, bitcoin_height: u64) -> Result<Self> {
        let tx: SignedTx = decode_exact(&bundle.submission)
            .map_err(|e| OtsError::Malformed(format!("submission does not decode: {e}")))?;
        let root = tx
            .as_submission()
            .ok_or_else(|| OtsError::Malformed("the submission is not a SubmitRoot".into()))?
            .root
            .hash();
        let mut path = Path::new(&root);
        path.bundle(bundle)?;
        path.finish(root, bitcoin_height)
    }

    /// The `.ots` of a record proof: from the record's hash, through its
    /// leaf `SHA-256(0x00 || hash)` and its batch path (FORMATS 24) to the
    /// batch root, then as [`Self::for_bundle`] with the batch's bundle.
    ///
    /// # Errors
    /// As [`Self::for_bundle`]; the batch path must lead to the
    /// submission's root.
    pub fn for_record(
        record_hash: &Hash256,
        batch: &InclusionProof,
        bundle: &ProofBundle,
        bitcoin_height: u64,
    ) -> Result<Self> {
        let mut path = Path::new(record_hash);
        path.prepend(&[0x00])?;
        path.sha256()?;
        path.inclusion(batch, "batch")?;
        path.bundle(bundle)?;
        path.finish(*record_hash, bitcoin_height)
    }

    /// The digest the file timestamps (`ots verify -d HEX`).
    #[must_use]
    pub const fn digest(&self) -> &Hash256 {
        &self.digest
    }

    /// The operations, in order.
    #[must_use]
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The Bitcoin block height the attestation names.
    #[must_use]
    pub const fn bitcoin_height(&self) -> u64 {
        self.bitcoin_height
    }

    /// The value the operations reach from the digest: the Merkle root the
    /// attested block's header must carry (internal byte order).
    #[must_use]
    pub fn replay(&self) -> Vec<u8> {
        self.ops
            .iter()
            .fold(self.digest.as_bytes().to_vec(), |msg, op| op.apply(&msg))
    }

    /// The `.ots` file's bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(VERSION);
        out.push(TAG_SHA256);
        out.extend_from_slice(self.digest.as_bytes());
        for op in &self.ops {
            match op {
                Op::Append(a) => {
                    out.push(TAG_APPEND);
                    put_varbytes(&mut out, a);
                }
                Op::Prepend(a) => {
                    out.push(TAG_PREPEND);
                    put_varbytes(&mut out, a);
                }
                Op::Sha256 => out.push(TAG_SHA256),
            }
        }
        out.push(TAG_ATTESTATION);
        out.extend_from_slice(&BITCOIN_TAG);
        let mut payload = Vec::new();
        put_varuint(&mut payload, self.bitcoin_height);
        put_varbytes(&mut out, &payload);
        out
    }

    /// Reads a file of the form [`Self::to_bytes`] writes: one linear
    /// path (no forks), SHA-256 file hash, ending in one Bitcoin
    /// attestation, nothing after it.
    ///
    /// # Errors
    /// [`OtsError::Parse`] naming what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Cursor { bytes, at: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(parse("bad magic"));
        }
        if r.varuint()? != u64::from(VERSION) {
            return Err(parse("unsupported major version"));
        }
        if r.byte()? != TAG_SHA256 {
            return Err(parse("the file hash is not SHA-256"));
        }
        let mut digest = [0u8; 32];
        digest.copy_from_slice(r.take(32)?);
        let mut ops = Vec::new();
        let mut len = 32usize;
        loop {
            let op = match r.byte()? {
                TAG_SHA256 => Op::Sha256,
                TAG_APPEND => Op::Append(r.varbytes(1, MAX_MESSAGE)?.to_vec()),
                TAG_PREPEND => Op::Prepend(r.varbytes(1, MAX_MESSAGE)?.to_vec()),
                TAG_ATTESTATION => break,
                0xff => return Err(parse("a forked timestamp")),
                t => return Err(parse(&format!("unsupported operation 0x{t:02x}"))),
            };
            len = match &op {
                Op::Sha256 => 32,
                Op::Append(a) | Op::Prepend(a) => len + a.len(),
            };
            if len > MAX_MESSAGE {
                return Err(parse("a message over 4096 bytes"));
            }
            ops.push(op);
            if ops.len() > MAX_OPS {
                return Err(parse("too many operations"));
            }
        }
        if r.take(8)? != BITCOIN_TAG {
            return Err(parse(
                "the attestation is not a Bitcoin block header attestation",
            ));
        }
        let payload = r.varbytes(0, MAX_PAYLOAD)?;
        let mut p = Cursor {
            bytes: payload,
            at: 0,
        };
        let bitcoin_height = p.varuint()?;
        if p.at != payload.len() || r.at != bytes.len() {
            return Err(parse("trailing bytes"));
        }
        Ok(Self {
            digest: Hash256::from_bytes(digest),
            ops,
            bitcoin_height,
        })
    }
}

fn parse(why: &str) -> OtsError {
    OtsError::Parse(why.to_owned())
}

/// Unsigned LEB128, as the OpenTimestamps serializer writes it.
fn put_varuint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = u8::try_from(v & 0x7f).expect("seven bits");
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_varbytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varuint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| parse("truncated"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn varuint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(parse("a varuint over 64 bits"));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                // One encoding per value, as `put_varuint` writes it: a
                // last byte of zero after others would be a second one.
                if b == 0 && shift > 0 {
                    return Err(parse("a varuint not in its shortest form"));
                }
                return Ok(v);
            }
        }
        Err(parse("a varuint over 64 bits"))
    }

    fn varbytes(&mut self, min: usize, max: usize) -> Result<&'a [u8]> {
        let n = usize::try_from(self.varuint()?).map_err(|_| parse("a huge length"))?;
        if n < min || n > max {
            return Err(parse(&format!("a length of {n}, not in {min}..={max}")));
        }
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn vector_bundle() -> ProofBundle {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
        let text = std::fs::read_to_string(format!("{dir}/../docs/vectors/bundle.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn unanchored_or_inconsistent_bundles_get_no_file() {
        let b = vector_bundle();
        assert!(Timestamp::for_bundle(&b, 101).is_ok());
        let plain = ProofBundle {
            anchor: None,
            ..b.clone()
        };
        assert_eq!(
            Timestamp::for_bundle(&plain, 101),
            Err(OtsError::NotAnchored)
        );
        let mut moved = b.clone();
        if let Some(a) = moved.anchor.as_mut() {
            a.bitcoin.tx_index ^= 2;
        }
        assert!(matches!(
            Timestamp::for_bundle(&moved, 101),
            Err(OtsError::Mismatch { what, .. }) if what.contains("Merkle root")
        ));
        let mut header = b.clone();
        header.header[100] ^= 1;
        assert!(matches!(
            Timestamp::for_bundle(&header, 101),
            Err(OtsError::Mismatch {
                what: "header's log root",
                ..
            })
        ));
        let mut history = b;
        if let Some(a) = history.anchor.as_mut() {
            a.history_proof.push(Hash256::ZERO);
        }
        assert!(matches!(
            Timestamp::for_bundle(&history, 101),
            Err(OtsError::Malformed(_))
        ));
    }

    #[test]
    fn varuints_are_leb128() {
        for (v, want) in [
            (0u64, vec![0x00]),
            (1, vec![0x01]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (300, vec![0xac, 0x02]),
            (
                u64::MAX,
                vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ] {
            let mut out = Vec::new();
            put_varuint(&mut out, v);
            assert_eq!(out, want);
            let mut c = Cursor { bytes: &out, at: 0 };
            assert_eq!(c.varuint().unwrap(), v);
        }
        let mut c = Cursor {
            bytes: &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            at: 0,
        };
        assert!(c.varuint().is_err());
    }

    #[test]
    fn a_file_round_trips_and_refuses_trailing_bytes() {
        let t = Timestamp {
            digest: Hash256::digest(b"x"),
            ops: vec![Op::Prepend(vec![1, 2]), Op::Sha256, Op::Append(vec![3])],
            bitcoin_height: 300,
        };
        let bytes = t.to_bytes();
        assert_eq!(&bytes[..31], MAGIC);
        assert_eq!(bytes[31..33], [0x01, 0x08]);
        assert_eq!(
            bytes[65..],
            [
                0xf1, 2, 1, 2, 0x08, 0xf0, 1, 3, 0x00, 0x05, 0x88, 0x96, 0x0d, 0x73, 0xd7, 0x19,
                0x01, 2, 0xac, 0x02
            ]
        );
        assert_eq!(Timestamp::from_bytes(&bytes).unwrap(), t);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Timestamp::from_bytes(&longer).is_err());
        assert!(Timestamp::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    }
}
