//! The node's consensus codec (`node/src/consensus/codec.rs`, compiled
//! by path into `pantheon_fuzz::consensus`): every message type Malachite
//! hands it from the network or the WAL. An accepted input re-encodes to
//! the same bytes.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use malachitebft_app_channel::app::consensus::{LivenessMsg, ProposedValue, SignedConsensusMsg};
use malachitebft_app_channel::app::streaming::StreamMessage;
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{PolkaCertificate, ValidatorProof};
use malachitebft_app_channel::app::types::sync::{Request, Response, Status};
use pantheon_fuzz::consensus::codec::PantheonCodec;
use pantheon_fuzz::consensus::context::{PantheonContext, ProposalPart};

type Ctx = PantheonContext;

/// Decodes `data` as a `T`; if it decodes, encoding gives `data` back.
fn round_trip<T>(data: &[u8])
where
    PantheonCodec: Codec<T>,
{
    let codec = PantheonCodec;
    let Ok(value) = Codec::<T>::decode(&codec, Bytes::copy_from_slice(data)) else {
        return;
    };
    let again = Codec::<T>::encode(&codec, &value).expect("a decoded message encodes");
    assert!(
        again.as_ref() == data,
        "{}: decoding then encoding {} bytes gave {} different bytes",
        std::any::type_name::<T>(),
        data.len(),
        again.len()
    );
}

fuzz_target!(|data: &[u8]| {
    round_trip::<ProposalPart>(data);
    round_trip::<StreamMessage<ProposalPart>>(data);
    round_trip::<SignedConsensusMsg<Ctx>>(data);
    round_trip::<LivenessMsg<Ctx>>(data);
    round_trip::<PolkaCertificate<Ctx>>(data);
    round_trip::<ValidatorProof<Ctx>>(data);
    round_trip::<ProposedValue<Ctx>>(data);
    round_trip::<Status<Ctx>>(data);
    round_trip::<Request<Ctx>>(data);
    round_trip::<Response<Ctx>>(data);
});
