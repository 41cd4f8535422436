//! Commit certificates, votes and proposals (the runtime's signed
//! consensus messages): canonical; a certificate's vote is canonical too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pantheon_fuzz::canonical;
use pantheon_runtime::block::{CommitCertificate, ProposalMessage, VoteMessage};
use pantheon_runtime::codec::Encode;
use pantheon_runtime::hash::GenesisHash;

fuzz_target!(|data: &[u8]| {
    if let Some(cert) = canonical::<CommitCertificate>(data) {
        let _ = cert.hash();
        let vote = cert.vote_message(GenesisHash::default());
        canonical::<VoteMessage>(&vote.to_bytes()).expect("a certificate's vote decodes");
    }
    let _ = canonical::<VoteMessage>(data);
    let _ = canonical::<ProposalMessage>(data);
});
