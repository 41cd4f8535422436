//! Wire and WAL encoding of Malachite's messages, in Pantheon's canonical
//! binary style: fixed-width big-endian integers, fixed-size byte strings
//! as is, length prefixes with a per-field maximum, one tag byte per enum,
//! no trailing bytes. No protobuf: Malachite only asks for
//! `Codec<T>: encode(&T) -> Bytes, decode(Bytes) -> T` per message type.
//!
//! ```text
//! Round        = 0x00 (nil) | 0x01 || round:u32
//! ValueId      = 0x00 (nil) | 0x01 || block_hash:[32]
//! Sig          = [3309]                                   (ML-DSA-65)
//! Vote         = vote_type:u8 (1 prevote, 2 precommit) || height:u64 || Round
//!                || ValueId || validator:u16 || ext:u8 (0 | 1 || Sig)
//! Proposal     = height:u64 || Round || pol Round || proposer:u16 || BlockHeader (189)
//! ConsensusMsg = 0x01 || Vote || Sig | 0x02 || Proposal || Sig
//! Liveness     = 0x01 || Vote || Sig | 0x02 || PolkaCert | 0x03 || RoundCert
//! PolkaCert    = height:u64 || Round || block_hash:[32] || n:u16 || (validator:u16 || Sig)*
//! RoundCert    = height:u64 || Round || kind:u8 (1 skip, 2 precommit)
//!                || n:u16 || (vote_type:u8 || ValueId || validator:u16 || Sig)*
//! Part         = 0x01 || height:u64 || Round || pol Round || proposer:u16 || BlockHeader || Sig
//!              | 0x02 || n:u32 || (len:u16 || SignedTx)*
//! Stream       = id_len:u8 || stream_id || sequence:u64 || 0x00 (fin) | 0x01 || Part
//! PeerProof    = key_len:u16 || key || peer_len:u8 || peer_id || Sig
//! ProposedValue= height:u64 || Round || valid Round || proposer:u16 || BlockHeader
//!                || validity:u8 (0 invalid, 1 valid)                        (WAL only)
//! SyncStatus   = peer_len:u8 || peer_id || tip:u64 || history_min:u64
//! SyncRequest  = 0x01 || from:u64 || to:u64
//! SyncResponse = 0x01 || start:u64 || n:u32 || (len:u32 || Block bytes || ExtCert)*
//! ExtCert      = height:u64 || Round || block_hash:[32] || n:u16
//!                || (validator:u16 || Sig || ext:u8 (0 | 1 || Sig))*
//! ```
//!
//! Every count and length is checked against a maximum before anything is
//! allocated; decoders reject trailing bytes.

use bytes::Bytes;
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::PeerId;
use malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use malachitebft_app_channel::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, NilOrVal, PolkaCertificate, PolkaSignature,
    Round, RoundCertificate, RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof,
    Validity, VoteType,
};
use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use malachitebft_sync::{ValueRequest, ValueResponse};
use pantheon_runtime::amount::Height;
use pantheon_runtime::block::{Block, BlockHeader, CommitCertificate, HEADER_LEN};
use pantheon_runtime::codec::{self as rc, CodecError, Decode, Encode, Reader};
use pantheon_runtime::crypto::{PUBLIC_KEY_LEN, SIGNATURE_LEN, Signature};
use pantheon_runtime::genesis::MAX_VALIDATORS;
use pantheon_runtime::hash::BlockHash;
use pantheon_runtime::tx::{MAX_TX_SIZE, SignedTx};

use crate::consensus::context::{
    BlockValue, ConsensusHeight, PantheonContext, Proposal, ProposalInit, ProposalPart, Sig,
    ValidatorIndex, Vote,
};

type Ctx = PantheonContext;

/// Most transactions in one `Txs` proposal part.
pub const MAX_TXS_PER_PART: usize = 1_024;
/// Longest stream id.
pub const MAX_STREAM_ID_LEN: usize = 64;
/// Most decided values in one sync response.
pub const MAX_SYNC_VALUES: usize = 1_024;
/// Largest block accepted over sync (the runtime's own decoding limit).
pub const MAX_BLOCK_BYTES: usize = <Block as Decode>::MAX_SIZE;

/// A wire or WAL decoding error.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Malformed bytes.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A libp2p peer id that does not parse.
    #[error("invalid peer id")]
    PeerId,
}

/// The codec for everything Malachite sends or logs. Stateless.
#[derive(Clone, Copy, Debug, Default)]
pub struct PantheonCodec;

// ---------------------------------------------------------------------------
// Primitives

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_round(out: &mut Vec<u8>, r: Round) {
    match r.as_u32() {
        None => out.push(0),
        Some(r) => {
            out.push(1);
            put_u32(out, r);
        }
    }
}

fn get_round(r: &mut Reader<'_>) -> rc::Result<Round> {
    Ok(if r.option_tag("round")? {
        Round::new(r.u32()?)
    } else {
        Round::Nil
    })
}

fn put_value_id(out: &mut Vec<u8>, v: &NilOrVal<BlockHash>) {
    match v {
        NilOrVal::Nil => out.push(0),
        NilOrVal::Val(h) => {
            out.push(1);
            h.encode(out);
        }
    }
}

fn get_value_id(r: &mut Reader<'_>) -> rc::Result<NilOrVal<BlockHash>> {
    Ok(if r.option_tag("value")? {
        NilOrVal::Val(BlockHash::decode(r)?)
    } else {
        NilOrVal::Nil
    })
}

fn put_height(out: &mut Vec<u8>, h: ConsensusHeight) {
    h.0.encode(out);
}

fn get_height(r: &mut Reader<'_>) -> rc::Result<ConsensusHeight> {
    Ok(ConsensusHeight(Height::decode(r)?))
}

fn put_sig(out: &mut Vec<u8>, s: &Sig) {
    s.0.encode(out);
}

fn get_sig(r: &mut Reader<'_>) -> rc::Result<Sig> {
    Ok(Sig(Signature::decode(r)?))
}

fn put_addr(out: &mut Vec<u8>, a: ValidatorIndex) {
    put_u16(out, a.0);
}

fn get_addr(r: &mut Reader<'_>) -> rc::Result<ValidatorIndex> {
    Ok(ValidatorIndex(r.u16()?))
}

fn put_vote_type(out: &mut Vec<u8>, t: VoteType) {
    out.push(match t {
        VoteType::Prevote => 1,
        VoteType::Precommit => 2,
    });
}

fn get_vote_type(r: &mut Reader<'_>) -> rc::Result<VoteType> {
    match r.u8()? {
        1 => Ok(VoteType::Prevote),
        2 => Ok(VoteType::Precommit),
        tag => Err(CodecError::InvalidTag {
            field: "vote_type",
            tag,
        }),
    }
}

fn put_ext(out: &mut Vec<u8>, ext: Option<&SignedMessage<Ctx, ()>>) {
    match ext {
        None => out.push(0),
        Some(e) => {
            out.push(1);
            put_sig(out, &e.signature);
        }
    }
}

fn get_ext(r: &mut Reader<'_>) -> rc::Result<Option<SignedMessage<Ctx, ()>>> {
    Ok(if r.option_tag("extension")? {
        Some(SignedMessage::new((), get_sig(r)?))
    } else {
        None
    })
}

fn get_peer_id(r: &mut Reader<'_>) -> Result<PeerId, WireError> {
    let bytes = r.short_bytes("peer_id", 64)?;
    PeerId::from_bytes(bytes).map_err(|_| WireError::PeerId)
}

fn put_peer_id(out: &mut Vec<u8>, p: &PeerId) {
    rc::put_short_bytes(out, &p.to_bytes());
}

fn get_tx_list(r: &mut Reader<'_>, max: usize) -> rc::Result<Vec<SignedTx>> {
    let n = r.count("txs", true, max)?;
    let mut txs = Vec::with_capacity(n.min(r.remaining() / 64));
    for _ in 0..n {
        let len = usize::from(r.u16()?);
        if len > MAX_TX_SIZE {
            return Err(CodecError::TooLong {
                field: "tx",
                len,
                max: MAX_TX_SIZE,
            });
        }
        txs.push(rc::decode_exact::<SignedTx>(r.take(len)?)?);
    }
    Ok(txs)
}

fn put_tx_list(out: &mut Vec<u8>, txs: &[SignedTx]) {
    rc::put_count32(out, txs.len());
    for tx in txs {
        let len = u16::try_from(tx.as_bytes().len()).expect("transactions are under 64 KiB");
        put_u16(out, len);
        out.extend_from_slice(tx.as_bytes());
    }
}

/// Runs `f` over all of `bytes` and rejects trailing bytes.
fn decode_all<T>(
    bytes: &[u8],
    f: impl FnOnce(&mut Reader<'_>) -> Result<T, WireError>,
) -> Result<T, WireError> {
    let mut r = Reader::new(bytes);
    let v = f(&mut r)?;
    r.finish()?;
    Ok(v)
}

// ---------------------------------------------------------------------------
// Votes, proposals, certificates

fn put_vote(out: &mut Vec<u8>, v: &Vote) {
    put_vote_type(out, v.vote_type);
    put_height(out, v.height);
    put_round(out, v.round);
    put_value_id(out, &v.value);
    put_addr(out, v.validator);
    put_ext(out, v.extension.as_ref());
}

fn get_vote(r: &mut Reader<'_>) -> rc::Result<Vote> {
    Ok(Vote {
        vote_type: get_vote_type(r)?,
        height: get_height(r)?,
        round: get_round(r)?,
        value: get_value_id(r)?,
        validator: get_addr(r)?,
        extension: get_ext(r)?,
    })
}

fn put_signed_vote(out: &mut Vec<u8>, v: &SignedMessage<Ctx, Vote>) {
    put_vote(out, &v.message);
    put_sig(out, &v.signature);
}

fn get_signed_vote(r: &mut Reader<'_>) -> rc::Result<SignedMessage<Ctx, Vote>> {
    let vote = get_vote(r)?;
    Ok(SignedMessage::new(vote, get_sig(r)?))
}

fn put_proposal(out: &mut Vec<u8>, p: &Proposal) {
    put_height(out, p.height);
    put_round(out, p.round);
    put_round(out, p.pol_round);
    put_addr(out, p.proposer);
    p.value.header().encode(out);
}

fn get_proposal(r: &mut Reader<'_>) -> rc::Result<Proposal> {
    Ok(Proposal {
        height: get_height(r)?,
        round: get_round(r)?,
        pol_round: get_round(r)?,
        proposer: get_addr(r)?,
        value: BlockValue::new(BlockHeader::decode(r)?),
    })
}

fn put_polka(out: &mut Vec<u8>, c: &PolkaCertificate<Ctx>) {
    put_height(out, c.height);
    put_round(out, c.round);
    c.value_id.encode(out);
    rc::put_count16(out, c.polka_signatures.len());
    for s in &c.polka_signatures {
        put_addr(out, s.address);
        put_sig(out, &s.signature);
    }
}

fn get_polka(r: &mut Reader<'_>) -> rc::Result<PolkaCertificate<Ctx>> {
    let height = get_height(r)?;
    let round = get_round(r)?;
    let value_id = BlockHash::decode(r)?;
    let n = r.count("polka_signatures", false, MAX_VALIDATORS)?;
    let mut sigs = Vec::with_capacity(n);
    for _ in 0..n {
        let address = get_addr(r)?;
        sigs.push(PolkaSignature::new(address, get_sig(r)?));
    }
    Ok(PolkaCertificate {
        height,
        round,
        value_id,
        polka_signatures: sigs,
    })
}

fn put_round_cert(out: &mut Vec<u8>, c: &RoundCertificate<Ctx>) {
    put_height(out, c.height);
    put_round(out, c.round);
    out.push(match c.cert_type {
        RoundCertificateType::Skip => 1,
        RoundCertificateType::Precommit => 2,
    });
    rc::put_count16(out, c.round_signatures.len());
    for s in &c.round_signatures {
        put_vote_type(out, s.vote_type);
        put_value_id(out, &s.value_id);
        put_addr(out, s.address);
        put_sig(out, &s.signature);
    }
}

fn get_round_cert(r: &mut Reader<'_>) -> rc::Result<RoundCertificate<Ctx>> {
    let height = get_height(r)?;
    let round = get_round(r)?;
    let cert_type = match r.u8()? {
        1 => RoundCertificateType::Skip,
        2 => RoundCertificateType::Precommit,
        tag => {
            return Err(CodecError::InvalidTag {
                field: "round_certificate_type",
                tag,
            });
        }
    };
    // Up to two votes per validator (prevote and precommit) may appear.
    let n = r.count("round_signatures", false, 2 * MAX_VALIDATORS)?;
    let mut sigs = Vec::with_capacity(n);
    for _ in 0..n {
        let vote_type = get_vote_type(r)?;
        let value_id = get_value_id(r)?;
        let address = get_addr(r)?;
        sigs.push(RoundSignature::new(
            vote_type,
            value_id,
            address,
            get_sig(r)?,
        ));
    }
    Ok(RoundCertificate {
        height,
        round,
        cert_type,
        round_signatures: sigs,
    })
}

fn put_ext_cert(out: &mut Vec<u8>, c: &ExtendedCommitCertificate<Ctx>) {
    put_height(out, c.height);
    put_round(out, c.round);
    c.value_id.encode(out);
    rc::put_count16(out, c.commit_signatures.len());
    for s in &c.commit_signatures {
        put_addr(out, s.address);
        put_sig(out, &s.signature);
        put_ext(out, s.extension.as_ref());
    }
}

fn ext_cert_len(c: &ExtendedCommitCertificate<Ctx>) -> usize {
    let sigs: usize = c
        .commit_signatures
        .iter()
        .map(|s| 2 + SIGNATURE_LEN + 1 + s.extension.as_ref().map_or(0, |_| SIGNATURE_LEN))
        .sum();
    8 + round_len(c.round) + 32 + 2 + sigs
}

fn round_len(r: Round) -> usize {
    if r.is_defined() { 5 } else { 1 }
}

fn get_ext_cert(r: &mut Reader<'_>) -> rc::Result<ExtendedCommitCertificate<Ctx>> {
    let height = get_height(r)?;
    let round = get_round(r)?;
    let value_id = BlockHash::decode(r)?;
    let n = r.count("commit_signatures", false, MAX_VALIDATORS)?;
    let mut sigs = Vec::with_capacity(n);
    for _ in 0..n {
        let address = get_addr(r)?;
        let signature = get_sig(r)?;
        sigs.push(ExtendedCommitSignature::new(
            address,
            signature,
            get_ext(r)?,
        ));
    }
    Ok(ExtendedCommitCertificate {
        height,
        round,
        value_id,
        commit_signatures: sigs,
    })
}

// ---------------------------------------------------------------------------
// Proposal parts and streams

fn put_part(out: &mut Vec<u8>, p: &ProposalPart) {
    match p {
        ProposalPart::Init(i) => {
            out.push(1);
            put_height(out, i.height);
            put_round(out, i.round);
            put_round(out, i.pol_round);
            put_addr(out, i.proposer);
            i.header.encode(out);
            match &i.last_certificate {
                None => out.push(0),
                Some(c) => {
                    out.push(1);
                    c.encode(out);
                }
            }
            put_sig(out, &i.signature);
        }
        ProposalPart::Txs(txs) => {
            out.push(2);
            put_tx_list(out, txs);
        }
    }
}

fn get_part(r: &mut Reader<'_>) -> rc::Result<ProposalPart> {
    match r.u8()? {
        1 => Ok(ProposalPart::Init(ProposalInit {
            height: get_height(r)?,
            round: get_round(r)?,
            pol_round: get_round(r)?,
            proposer: get_addr(r)?,
            header: BlockHeader::decode(r)?,
            last_certificate: match r.u8()? {
                0 => None,
                1 => Some(Box::new(CommitCertificate::decode(r)?)),
                tag => {
                    return Err(CodecError::InvalidTag {
                        field: "last_certificate",
                        tag,
                    });
                }
            },
            signature: get_sig(r)?,
        })),
        2 => Ok(ProposalPart::Txs(get_tx_list(r, MAX_TXS_PER_PART)?)),
        tag => Err(CodecError::InvalidTag {
            field: "proposal_part",
            tag,
        }),
    }
}

/// Largest encoded `Txs` part.
const MAX_TXS_PART_SIZE: usize = 1 + 4 + MAX_TXS_PER_PART * (2 + MAX_TX_SIZE);
/// Largest encoded `Init` part (tag, height, rounds, proposer, header, the
/// carried certificate of a full validator set, signature).
const MAX_INIT_PART_SIZE: usize =
    1 + 8 + 4 + 4 + 2 + HEADER_LEN + 1 + CommitCertificate::MAX_SIZE + SIGNATURE_LEN;
/// Largest encoded proposal part.
pub const MAX_PART_SIZE: usize = if MAX_TXS_PART_SIZE > MAX_INIT_PART_SIZE {
    MAX_TXS_PART_SIZE
} else {
    MAX_INIT_PART_SIZE
};

impl Codec<ProposalPart> for PantheonCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<ProposalPart, WireError> {
        decode_all(&bytes, |r| Ok(get_part(r)?))
    }

    fn encode(&self, msg: &ProposalPart) -> Result<Bytes, WireError> {
        let mut out = Vec::new();
        put_part(&mut out, msg);
        Ok(out.into())
    }
}

impl Codec<StreamMessage<ProposalPart>> for PantheonCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<StreamMessage<ProposalPart>, WireError> {
        if bytes.len() > 1 + MAX_STREAM_ID_LEN + 8 + 1 + MAX_PART_SIZE {
            return Err(CodecError::Oversize {
                size: bytes.len(),
                limit: 1 + MAX_STREAM_ID_LEN + 8 + 1 + MAX_PART_SIZE,
            }
            .into());
        }
        decode_all(&bytes, |r| {
            let id = r.short_bytes("stream_id", MAX_STREAM_ID_LEN)?;
            let stream_id = StreamId::new(Bytes::copy_from_slice(id));
            let sequence = r.u64()?;
            let content = if r.option_tag("stream_content")? {
                StreamContent::Data(get_part(r)?)
            } else {
                StreamContent::Fin
            };
            Ok(StreamMessage::new(stream_id, sequence, content))
        })
    }

    fn encode(&self, msg: &StreamMessage<ProposalPart>) -> Result<Bytes, WireError> {
        let mut out = Vec::new();
        let id = msg.stream_id.to_bytes();
        if id.len() > MAX_STREAM_ID_LEN {
            return Err(CodecError::TooLong {
                field: "stream_id",
                len: id.len(),
                max: MAX_STREAM_ID_LEN,
            }
            .into());
        }
        rc::put_short_bytes(&mut out, &id);
        put_u64(&mut out, msg.sequence);
        match &msg.content {
            StreamContent::Fin => out.push(0),
            StreamContent::Data(p) => {
                out.push(1);
                put_part(&mut out, p);
            }
        }
        Ok(out.into())
    }
}

// ---------------------------------------------------------------------------
// Consensus and liveness messages

impl Codec<SignedConsensusMsg<Ctx>> for PantheonCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<SignedConsensusMsg<Ctx>, WireError> {
        decode_all(&bytes, |r| match r.u8()? {
            1 => Ok(SignedConsensusMsg::Vote(get_signed_vote(r)?)),
            2 => {
                let p = get_proposal(r)?;
                Ok(SignedConsensusMsg::Proposal(SignedMessage::new(
                    p,
                    get_sig(r)?,
                )))
            }
            tag => Err(CodecError::InvalidTag {
                field: "consensus_msg",
                tag,
            }
            .into()),
        })
    }

    fn encode(&self, msg: &SignedConsensusMsg<Ctx>) -> Result<Bytes, WireError> {
        let mut out = Vec::with_capacity(64 + HEADER_LEN + SIGNATURE_LEN);
        match msg {
            SignedConsensusMsg::Vote(v) => {
                out.push(1);
                put_signed_vote(&mut out, v);
            }
            SignedConsensusMsg::Proposal(p) => {
                out.push(2);
                put_proposal(&mut out, &p.message);
                put_sig(&mut out, &p.signature);
            }
        }
        Ok(out.into())
    }
}

impl Codec<LivenessMsg<Ctx>> for PantheonCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<LivenessMsg<Ctx>, WireError> {
        decode_all(&bytes, |r| match r.u8()? {
            1 => Ok(LivenessMsg::Vote(get_signed_vote(r)?)),
            2 => Ok(LivenessMsg::PolkaCertificate(get_polka(r)?)),
            3 => Ok(LivenessMsg::SkipRoundCertificate(get_round_cert(r)?)),
            tag => Err(CodecError::InvalidTag {
                field: "liveness_msg",
                tag,
            }
            .into()),
        })
    }

    fn encode(&self, msg: &LivenessMsg<Ctx>) -> Result<Bytes, WireError> {
        let mut out = Vec::new();
        match msg {
            LivenessMsg::Vote(v) => {
                out.push(1);
                put_signed_vote(&mut out, v);
            }
            LivenessMsg::PolkaCertificate(c) => {
                out.push(2);
                put_polka(&mut out, c);
            }
            LivenessMsg::SkipRoundCertificate(c) => {
                out.push(3);
                put_round_cert(&mut out, c);
            }
        }
        Ok(out.into())
    }
}

impl Codec<PolkaCertificate<Ctx>> for PantheonCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<PolkaCertificate<Ctx>, WireError> {
        decode_all(&bytes, |r| Ok(get_polka(r)?))
    }

    fn encode(&self, msg: &PolkaCertificate<Ctx>) -> Result<Bytes, WireError> {
        let mut out = Vec::new();
        put_polka(&mut out, msg);
        Ok(out.into())
    }
}

impl Codec<ValidatorProof<Ctx>> for PantheonCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<Ctx>, WireError> {
        decode_all(&bytes, |r| {
            let n = r.count("public_key", false, PUBLIC_KEY_LEN)?;
            let public_key = r.take(n)?.to_vec();
            let peer_id = r.short_bytes("peer_id", 64)?.to_vec();
            Ok(ValidatorProof::new(public_key, peer_id, get_sig(r)?))
        })
    }

    fn encode(&self, msg: &ValidatorProof<Ctx>) -> Result<Bytes, WireError> {
        let mut out = Vec::new();
        rc::put_count16(&mut out, msg.public_key.len());
        out.extend_from_slice(&msg.public_key);
        rc::put_short_bytes(&mut out, &msg.peer_id);
        put_sig(&mut out, &msg.signature);
        Ok(out.into())
    }
}

// ---------------------------------------------------------------------------
// WAL-only

impl Codec<ProposedValue<Ctx>> for PantheonCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<ProposedValue<Ctx>, WireError> {
        decode_all(&bytes, |r| {
            Ok(ProposedValue {
                height: get_height(r)?,
                round: get_round(r)?,
                valid_round: get_round(r)?,
                proposer: get_addr(r)?,
                value: BlockValue::new(BlockHeader::decode(r)?),
                validity: match r.u8()? {
                    0 => Validity::Invalid,
                    1 => Validity::Valid,
                    tag => {
                        return Err(CodecError::InvalidTag {
                            field: "validity",
                            tag,
                        }
                        .into());
                    }
                },
            })
        })
    }

    fn encode(&self, msg: &ProposedValue<Ctx>) -> Result<Bytes, WireError> {
        let mut out = Vec::new();
        put_height(&mut out, msg.height);
        put_round(&mut out, msg.round);
        put_round(&mut out, msg.valid_round);
        put_addr(&mut out, msg.proposer);
        msg.value.header().encode(&mut out);
        out.push(u8::from(msg.validity.is_valid()));
        Ok(out.into())
    }
}

// ---------------------------------------------------------------------------
// Value sync

impl Codec<Status<Ctx>> for PantheonCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<Status<Ctx>, WireError> {
        decode_all(&bytes, |r| {
            Ok(Status {
                peer_id: get_peer_id(r)?,
                tip_height: get_height(r)?,
                history_min_height: get_height(r)?,
            })
        })
    }

    fn encode(&self, msg: &Status<Ctx>) -> Result<Bytes, WireError> {
        let mut out = Vec::new();
        put_peer_id(&mut out, &msg.peer_id);
        put_height(&mut out, msg.tip_height);
        put_height(&mut out, msg.history_min_height);
        Ok(out.into())
    }
}

impl Codec<Request<Ctx>> for PantheonCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<Request<Ctx>, WireError> {
        decode_all(&bytes, |r| match r.u8()? {
            1 => {
                let from = get_height(r)?;
                let to = get_height(r)?;
                Ok(Request::ValueRequest(ValueRequest::new(from..=to)))
            }
            tag => Err(CodecError::InvalidTag {
                field: "sync_request",
                tag,
            }
            .into()),
        })
    }

    fn encode(&self, msg: &Request<Ctx>) -> Result<Bytes, WireError> {
        let Request::ValueRequest(req) = msg;
        let mut out = Vec::with_capacity(17);
        out.push(1);
        put_height(&mut out, *req.range.start());
        put_height(&mut out, *req.range.end());
        Ok(out.into())
    }
}

fn response_len(msg: &Response<Ctx>) -> usize {
    let Response::ValueResponse(resp) = msg;
    1 + 8
        + 4
        + resp
            .values
            .iter()
            .map(|v| 4 + v.value_bytes.len() + ext_cert_len(&v.certificate))
            .sum::<usize>()
}

impl Codec<Response<Ctx>> for PantheonCodec {
    type Error = WireError;

    fn decode(&self, bytes: Bytes) -> Result<Response<Ctx>, WireError> {
        decode_all(&bytes, |r| match r.u8()? {
            1 => {
                let start = get_height(r)?;
                let n = r.count("values", true, MAX_SYNC_VALUES)?;
                let mut values = Vec::with_capacity(n.min(16));
                for _ in 0..n {
                    let len = r.count("value_bytes", true, MAX_BLOCK_BYTES)?;
                    let value_bytes = Bytes::copy_from_slice(r.take(len)?);
                    let certificate = get_ext_cert(r)?;
                    values.push(RawDecidedValue::new(value_bytes, certificate));
                }
                Ok(Response::ValueResponse(ValueResponse::new(start, values)))
            }
            tag => Err(CodecError::InvalidTag {
                field: "sync_response",
                tag,
            }
            .into()),
        })
    }

    fn encode(&self, msg: &Response<Ctx>) -> Result<Bytes, WireError> {
        let Response::ValueResponse(resp) = msg;
        let mut out = Vec::with_capacity(response_len(msg));
        out.push(1);
        put_height(&mut out, resp.start_height);
        rc::put_count32(&mut out, resp.values.len());
        for v in &resp.values {
            rc::put_count32(&mut out, v.value_bytes.len());
            out.extend_from_slice(&v.value_bytes);
            put_ext_cert(&mut out, &v.certificate);
        }
        Ok(out.into())
    }
}

impl HasEncodedLen<Response<Ctx>> for PantheonCodec {
    fn encoded_len(&self, msg: &Response<Ctx>) -> Result<usize, WireError> {
        Ok(response_len(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use malachitebft_app_channel::app::types::core::Context;
    use pantheon_runtime::amount::Height;
    use pantheon_runtime::hash::{LogRoot, StateRoot};

    fn header() -> BlockHeader {
        BlockHeader {
            height: Height::new(7),
            parent: BlockHash::default(),
            time_ms: 1,
            proposer: 2,
            tx_count: 0,
            tx_root: LogRoot::default(),
            log_size: 0,
            log_root: LogRoot::default(),
            state_root: StateRoot::default(),
            last_certificate: None,
        }
    }

    fn sig(b: u8) -> Sig {
        Sig(Signature::from_bytes([b; SIGNATURE_LEN]))
    }

    #[test]
    fn consensus_messages_round_trip() {
        let ctx = PantheonContext::new(Default::default());
        let c = PantheonCodec;
        let vote = ctx.new_precommit(
            ConsensusHeight::new(7),
            Round::new(3),
            NilOrVal::Val(header().hash()),
            ValidatorIndex(1),
        );
        let msg = SignedConsensusMsg::<Ctx>::Vote(SignedMessage::new(vote, sig(9)));
        let bytes = Codec::<SignedConsensusMsg<Ctx>>::encode(&c, &msg).unwrap();
        assert_eq!(bytes.len(), 1 + 1 + 8 + 5 + 33 + 2 + 1 + SIGNATURE_LEN);
        assert_eq!(
            Codec::<SignedConsensusMsg<Ctx>>::decode(&c, bytes).unwrap(),
            msg
        );

        let p = ctx.new_proposal(
            ConsensusHeight::new(7),
            Round::new(0),
            BlockValue::new(header()),
            Round::Nil,
            ValidatorIndex(2),
        );
        let msg = SignedConsensusMsg::<Ctx>::Proposal(SignedMessage::new(p, sig(1)));
        let bytes = Codec::<SignedConsensusMsg<Ctx>>::encode(&c, &msg).unwrap();
        assert_eq!(
            Codec::<SignedConsensusMsg<Ctx>>::decode(&c, bytes).unwrap(),
            msg
        );

        let mut bad = Codec::<SignedConsensusMsg<Ctx>>::encode(&c, &msg)
            .unwrap()
            .to_vec();
        bad.push(0);
        assert!(Codec::<SignedConsensusMsg<Ctx>>::decode(&c, bad.into()).is_err());
    }

    #[test]
    fn stream_messages_round_trip() {
        let c = PantheonCodec;
        let init = ProposalPart::Init(ProposalInit {
            height: ConsensusHeight::new(7),
            round: Round::new(1),
            pol_round: Round::new(0),
            proposer: ValidatorIndex(3),
            header: header(),
            last_certificate: None,
            signature: sig(4),
        });
        // A version-2 block's Init carries its parent's certificate.
        let mut v2 = header();
        let carried = pantheon_runtime::block::CommitCertificate {
            height: Height::new(6),
            round: 0,
            block_hash: BlockHash::default(),
            signatures: vec![pantheon_runtime::block::CommitSignature {
                validator: 1,
                signature: Signature::from_bytes([5; SIGNATURE_LEN]),
            }],
        };
        v2.last_certificate = Some(carried.hash());
        let carrying = ProposalPart::Init(ProposalInit {
            height: ConsensusHeight::new(7),
            round: Round::new(1),
            pol_round: Round::new(0),
            proposer: ValidatorIndex(3),
            header: v2,
            last_certificate: Some(Box::new(carried)),
            signature: sig(4),
        });
        for content in [
            StreamContent::Data(init),
            StreamContent::Data(carrying),
            StreamContent::Data(ProposalPart::Txs(vec![])),
            StreamContent::Fin,
        ] {
            let m = StreamMessage::new(StreamId::new(Bytes::from_static(b"id")), 5, content);
            let bytes = Codec::<StreamMessage<ProposalPart>>::encode(&c, &m).unwrap();
            assert_eq!(
                Codec::<StreamMessage<ProposalPart>>::decode(&c, bytes).unwrap(),
                m
            );
        }
    }
}
