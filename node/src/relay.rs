//! Transaction relay: every transaction a node's clients submit reaches the
//! other nodes' mempools, so whichever validator proposes next can include
//! it.
//!
//! A node relays only what its own clients sent (one hop), to every URL in
//! `[relay] peers`, with the node-to-node method
//! `pantheon_relayTransactions` over the same JSON-RPC port users call.
//!
//! That method is public, so every batch is signed by the sending node's
//! libp2p identity key ([`crate::netkey`], Ed25519) over the network's
//! genesis hash, the time and the SHA-256 of each transaction (FORMATS.md
//! section 27), and a node accepts batches only from the peer ids in its
//! `[relay] accept_from`, signed within [`MAX_SKEW`] of its clock; any other
//! call is refused with `1050` and changes nothing. The signature is not
//! post-quantum and need not be: it decides only, at the moment of the
//! call, which peers may use this admission path (every relayed
//! transaction carries its own ML-DSA-65 signature, checked as always),
//! and nothing kept or proven later rests on it. A batch replayed by a
//! third party within the window only re-offers transactions the accepted
//! node sent, which every mempool and the ledger take at most once.
//! Relayed transactions are checked like any other (signature, seq chain,
//! fee) and are never relayed again, so each transaction crosses each link
//! once. Exactly-once finality does not depend on the relay: the ledger
//! refuses a second copy (seq chain, nonces), and every mempool drops what a
//! committed block carried.
//!
//! Batches of up to [`BATCH`] transactions leave every [`LINGER`] at most;
//! each peer has its own queue and task, so a slow or stopped peer delays
//! nobody. When a peer's queue is full, batches for it are dropped (the
//! transaction is still in this node's mempool and will be proposed from
//! here when this node is a validator).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::http_client::HttpClientBuilder;
use libp2p_identity::{Keypair, PeerId};
use pantheon_rpc::types::{RelayAuth, RelayReport};
use pantheon_runtime::hash::{GenesisHash, Hash256};
use pantheon_runtime::tx::SignedTx;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// Most transactions per relay call (about 7 KB of JSON each, under the
/// default 1 MiB request limit).
pub const BATCH: usize = 128;
/// Longest wait to fill a batch.
pub const LINGER: Duration = Duration::from_millis(20);
/// Batches queued per peer before dropping.
const PEER_QUEUE: usize = 256;
/// Transactions queued from RPC before the relay sheds load.
const INBOX: usize = 100_000;
/// How far a batch's signing time may be from the receiver's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(60);
/// The domain of the signed message (FORMATS.md 27).
pub const DOMAIN: &[u8; 17] = b"pantheon/v1/relay";

/// Who signs this node's relay batches, for which network.
#[derive(Clone)]
pub struct Sender {
    /// The node's libp2p identity key.
    pub key: Keypair,
    /// The network.
    pub genesis: GenesisHash,
}

/// The signed message of a relay batch (FORMATS.md 27): the domain, the
/// genesis hash, the signing time (u64, big-endian), the number of
/// transactions (u32, big-endian) and the SHA-256 of each as sent.
#[must_use]
pub fn message(genesis: &GenesisHash, time_ms: u64, raw: &[&[u8]]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 44 + 32 * raw.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(genesis.as_bytes());
    m.extend_from_slice(&time_ms.to_be_bytes());
    m.extend_from_slice(&u32::try_from(raw.len()).unwrap_or(u32::MAX).to_be_bytes());
    for tx in raw {
        m.extend_from_slice(Hash256::digest(tx).as_bytes());
    }
    m
}

/// Signs a batch as `sender` at `time_ms`.
///
/// # Errors
/// A key that is not Ed25519 (the node only makes Ed25519 keys).
pub fn sign(sender: &Sender, time_ms: u64, raw: &[&[u8]]) -> anyhow::Result<RelayAuth> {
    let key = sender
        .key
        .public()
        .try_into_ed25519()
        .map_err(|e| anyhow::anyhow!("relay key: {e}"))?;
    let signature = sender
        .key
        .sign(&message(&sender.genesis, time_ms, raw))
        .map_err(|e| anyhow::anyhow!("relay signature: {e}"))?;
    Ok(RelayAuth {
        key: hex::encode(key.to_bytes()),
        time_ms,
        signature: hex::encode(signature),
    })
}

/// Why a relay batch was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    /// The key is not a 32-byte Ed25519 public key.
    #[error("relay refused: key is not an Ed25519 public key")]
    Key,
    /// The sender is not in `[relay] accept_from`.
    #[error("relay refused: peer {0} is not in this node's [relay] accept_from")]
    NotAccepted(PeerId),
    /// The signature does not verify.
    #[error("relay refused: the signature of peer {0} does not verify over this batch")]
    Signature(PeerId),
    /// Signed too far from this node's clock.
    #[error("relay refused: signed at {signed} ms, {skew_ms} ms from this node's clock (limit {} ms)", MAX_SKEW.as_millis())]
    Time {
        /// The batch's signing time.
        signed: u64,
        /// Its distance from now.
        skew_ms: u64,
    },
}

/// Checks a batch's `auth` against the senders this node accepts.
///
/// # Errors
/// [`Refused`] naming the first check that failed.
pub fn check(
    auth: &RelayAuth,
    raw: &[&[u8]],
    genesis: &GenesisHash,
    accept: &BTreeSet<PeerId>,
    now_ms: u64,
) -> Result<PeerId, Refused> {
    let key = hex::decode(&auth.key)
        .ok()
        .and_then(|b| libp2p_identity::ed25519::PublicKey::try_from_bytes(&b).ok())
        .ok_or(Refused::Key)?;
    let peer = libp2p_identity::PublicKey::from(key.clone()).to_peer_id();
    if !accept.contains(&peer) {
        return Err(Refused::NotAccepted(peer));
    }
    let skew_ms = now_ms.abs_diff(auth.time_ms);
    if u128::from(skew_ms) > MAX_SKEW.as_millis() {
        return Err(Refused::Time {
            signed: auth.time_ms,
            skew_ms,
        });
    }
    let signature = hex::decode(&auth.signature).map_err(|_| Refused::Signature(peer))?;
    if !key.verify(&message(genesis, auth.time_ms, raw), &signature) {
        return Err(Refused::Signature(peer));
    }
    Ok(peer)
}

/// Starts the relay to `peers` (JSON-RPC URLs), signing as `sender`;
/// returns the inbox that [`crate::chain::Chain::set_relay`] takes, or
/// `None` without peers.
#[must_use]
pub fn spawn(peers: &[String], sender: Sender) -> Option<mpsc::Sender<SignedTx>> {
    if peers.is_empty() {
        return None;
    }
    let (tx, rx) = mpsc::channel(INBOX);
    let outs: Vec<_> = peers
        .iter()
        .map(|url| {
            let (out, inbox) = mpsc::channel(PEER_QUEUE);
            tokio::spawn(send_to(url.clone(), inbox));
            (url.clone(), out)
        })
        .collect();
    tokio::spawn(batch(rx, outs, sender));
    Some(tx)
}

async fn batch(
    mut rx: mpsc::Receiver<SignedTx>,
    outs: Vec<(String, mpsc::Sender<Params>)>,
    sender: Sender,
) {
    while let Some(first) = rx.recv().await {
        let mut txs = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while txs.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(tx)) => txs.push(tx),
                Ok(None) | Err(_) => break,
            }
        }
        let params = match params(&txs, &sender) {
            Ok(p) => Params(Arc::new(p)),
            Err(e) => {
                warn!(target: "pantheon::relay", "relay batch not encoded: {e}");
                continue;
            }
        };
        for (url, out) in &outs {
            if out.try_send(params.clone()).is_err() {
                warn!(target: "pantheon::relay", peer = %url, n = txs.len(), "peer queue full; batch not relayed");
            }
        }
    }
}

/// The JSON parameters of `pantheon_relayTransactions` for `txs`,
/// `[["<hex>", ...], auth]`, written once per batch and shared by every
/// peer's request (hex needs no escaping, so the text is assembled
/// directly).
fn params(txs: &[SignedTx], sender: &Sender) -> anyhow::Result<Box<RawValue>> {
    let raw: Vec<&[u8]> = txs.iter().map(SignedTx::as_bytes).collect();
    let auth = sign(sender, crate::now_ms(), &raw)?;
    let len: usize = txs.iter().map(|tx| 2 * tx.as_bytes().len() + 3).sum();
    let mut text = String::with_capacity(len + 400);
    text.push_str("[[");
    for (i, tx) in txs.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push('"');
        text.push_str(&faster_hex::hex_string(tx.as_bytes()));
        text.push('"');
    }
    text.push_str("],");
    text.push_str(&serde_json::to_string(&auth)?);
    text.push(']');
    Ok(RawValue::from_string(text)?)
}

/// One batch's encoded parameters, shared between the peers' queues.
#[derive(Clone)]
struct Params(Arc<Box<RawValue>>);

impl ToRpcParams for Params {
    fn to_rpc_params(self) -> Result<Option<Box<RawValue>>, serde_json::Error> {
        Ok(Some(Box::clone(&self.0)))
    }
}

async fn send_to(url: String, mut inbox: mpsc::Receiver<Params>) {
    let client = match HttpClientBuilder::default()
        .max_request_size(8 << 20)
        .request_timeout(Duration::from_secs(10))
        .build(&url)
    {
        Ok(c) => c,
        Err(e) => {
            warn!(target: "pantheon::relay", peer = %url, "bad relay peer URL: {e}");
            return;
        }
    };
    let mut failing = false;
    while let Some(params) = inbox.recv().await {
        let result: Result<RelayReport, _> = client
            .request(pantheon_rpc::api::RELAY_TRANSACTIONS, params)
            .await;
        match result {
            Ok(report) => {
                if failing {
                    debug!(target: "pantheon::relay", peer = %url, "relay peer reachable again");
                }
                failing = false;
                debug!(target: "pantheon::relay", peer = %url, ?report, "relayed");
            }
            Err(e) => {
                if !failing {
                    warn!(target: "pantheon::relay", peer = %url, "relay peer unreachable: {e}");
                }
                failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The network of `docs/vectors/genesis.json`.
    const GENESIS: &str = "27c11c8ed9aa7bd581e9f01c694c2a94ee83ff1086d7697309d92c7a5509000a";
    const TIME_MS: u64 = 1_767_225_600_000;

    fn sender(seed: u8) -> Sender {
        Sender {
            key: Keypair::ed25519_from_bytes([seed; 32]).unwrap(),
            genesis: GENESIS.parse().unwrap(),
        }
    }

    fn txs() -> Vec<Vec<u8>> {
        vec![b"first relayed transaction".to_vec(), b"second".to_vec()]
    }

    fn slices(raw: &[Vec<u8>]) -> Vec<&[u8]> {
        raw.iter().map(Vec::as_slice).collect()
    }

    /// `docs/vectors/relay.json` (FORMATS.md 27), built from the code:
    /// a signed batch and the refusals the receiver must make.
    fn vectors() -> serde_json::Value {
        let s = sender(0x07);
        let raw = txs();
        let auth = sign(&s, TIME_MS, &slices(&raw)).unwrap();
        let peer = s.key.public().to_peer_id();
        let accept: BTreeSet<PeerId> = [peer].into();
        let other = sender(0x08);
        let mut forged = auth.clone();
        forged.key = sign(&other, TIME_MS, &slices(&raw)).unwrap().key;
        let mut cases = vec![(
            "valid",
            auth.clone(),
            raw.clone(),
            TIME_MS + 1_000,
            None::<Refused>,
        )];
        cases.push((
            "another batch under the signature",
            auth.clone(),
            vec![raw[0].clone()],
            TIME_MS,
            Some(Refused::Signature(peer)),
        ));
        cases.push((
            "a key not accepted",
            forged,
            raw.clone(),
            TIME_MS,
            Some(Refused::NotAccepted(other.key.public().to_peer_id())),
        ));
        cases.push((
            "signed 61 s before the receiver's clock",
            auth.clone(),
            raw.clone(),
            TIME_MS + 61_000,
            Some(Refused::Time {
                signed: TIME_MS,
                skew_ms: 61_000,
            }),
        ));
        let mut short = auth.clone();
        short.key.truncate(62);
        cases.push((
            "a key of 31 bytes",
            short,
            raw.clone(),
            TIME_MS,
            Some(Refused::Key),
        ));
        let genesis: GenesisHash = GENESIS.parse().unwrap();
        let cases: Vec<serde_json::Value> = cases
            .into_iter()
            .map(|(name, auth, raw, now, refused)| {
                let got = check(&auth, &slices(&raw), &genesis, &accept, now);
                assert_eq!(got.as_ref().err(), refused.as_ref(), "{name}");
                serde_json::json!({
                    "name": name,
                    "auth": auth,
                    "txs": raw.iter().map(hex::encode).collect::<Vec<_>>(),
                    "now_ms": now,
                    "refused": refused.map(|r| match r {
                        Refused::Key => "key",
                        Refused::NotAccepted(_) => "not_accepted",
                        Refused::Signature(_) => "signature",
                        Refused::Time { .. } => "time",
                    }),
                })
            })
            .collect();
        serde_json::json!({
            "description": "FORMATS.md 27: a relay batch signed by the libp2p key of Ed25519 seed 0x07..07 for the network of genesis.json; the receiver accepts only accept_from and refuses each case at its link",
            "genesis_hash": GENESIS,
            "seed": hex::encode([0x07u8; 32]),
            "public_key": auth.key,
            "peer_id": peer.to_string(),
            "accept_from": [peer.to_string()],
            "time_ms": TIME_MS,
            "txs": raw.iter().map(hex::encode).collect::<Vec<_>>(),
            "message": hex::encode(message(&genesis, TIME_MS, &slices(&raw))),
            "signature": auth.signature,
            "max_skew_ms": MAX_SKEW.as_millis(),
            "cases": cases,
        })
    }

    /// The committed vectors match the code; `PANTHEON_WRITE_VECTORS=1`
    /// rewrites them (only on purpose: a change breaks every verifier).
    #[test]
    fn committed_relay_vectors_match_the_code() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors/relay.json");
        let made = vectors();
        if std::env::var_os("PANTHEON_WRITE_VECTORS").is_some() {
            let mut text = serde_json::to_string_pretty(&made).unwrap();
            text.push('\n');
            std::fs::write(&path, text).unwrap();
        }
        let committed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            committed == made,
            "{} differs from the code",
            path.display()
        );
    }

    #[test]
    fn a_batch_signed_by_an_accepted_peer_passes_and_nothing_else_does() {
        let s = sender(0x11);
        let raw = txs();
        let auth = sign(&s, TIME_MS, &slices(&raw)).unwrap();
        let genesis = s.genesis;
        let peer = s.key.public().to_peer_id();
        let accept: BTreeSet<PeerId> = [peer].into();
        assert_eq!(
            check(&auth, &slices(&raw), &genesis, &accept, TIME_MS),
            Ok(peer)
        );
        // Nobody accepted: refused.
        assert_eq!(
            check(&auth, &slices(&raw), &genesis, &BTreeSet::new(), TIME_MS),
            Err(Refused::NotAccepted(peer))
        );
        // Another network.
        let elsewhere = GenesisHash::new(Hash256::digest(b"another network"));
        assert_eq!(
            check(&auth, &slices(&raw), &elsewhere, &accept, TIME_MS),
            Err(Refused::Signature(peer))
        );
        // A flipped signature bit, or a signature of the wrong length.
        let mut bad = auth.clone();
        bad.signature.replace_range(0..2, "ff");
        assert!(check(&bad, &slices(&raw), &genesis, &accept, TIME_MS).is_err());
        bad.signature.truncate(10);
        assert_eq!(
            check(&bad, &slices(&raw), &genesis, &accept, TIME_MS),
            Err(Refused::Signature(peer))
        );
        // The batch's own parameters, as the relay sends them.
        let txs: Vec<SignedTx> = Vec::new();
        let text = params(&txs, &s).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(text.get()).unwrap();
        assert_eq!(parsed[0], serde_json::json!([]));
        assert_eq!(parsed[1]["key"], auth.key);
    }
}
