//! The RPC backend: answers `pantheon-rpc`'s [`Backend`] calls from local
//! state only (the chain, the store, the mempool, the anchor engine's view
//! and the health status), and is the one place that turns the node's
//! types into the RPC's wire types. Nothing here calls bitcoind or another
//! node, so every node answers the same question with the same bytes.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use libp2p_identity::PeerId;
use pantheon_rpc::api::{BLOCK_TXS_PAGE, FinalizedHead};
use pantheon_rpc::error::codes;
use pantheon_rpc::types::{
    AccountStateInfo, AnchorInfo, BalanceInfo, BlockInfo, BlockTxPage, ExportPage, GenesisInfo,
    HeaderInfo, Health, OperatorInfo, OperatorProof, PeerInfo, Receipt, RelayAuth, RelayReport,
    Status, SubmissionInfo, SupplyInfo, TxReceipt, VersionInfo,
};
use pantheon_rpc::{ApiError, Backend};
use pantheon_runtime::amount::{Height, SUPPLY};
use pantheon_runtime::audit::{Checkpoint, LogConsistency, MAX_SUPPLY_ACCOUNTS, SupplyProof};
use pantheon_runtime::block::{BlockHeader, CommitCertificate};
use pantheon_runtime::codec::Encode as _;
use pantheon_runtime::crypto::AccountId;
use pantheon_runtime::hash::{AuditRoot, SubmissionId};
use pantheon_runtime::proof::{AnchorProof, ProofBundle};
use pantheon_runtime::receipt::SignedReceipt;
use pantheon_runtime::tx::{SignedTx, TxBody};
use tokio::sync::broadcast;

use crate::anchoring::{self, AnchorView, CountedAnchor, SharedView};
use crate::chain::Chain;
use crate::health::{self, NetworkStatus, SharedStatus};
use crate::mempool::{Admitted, MempoolError};
use crate::receipts::Intake;

/// The node's RPC backend.
pub struct RpcBackend {
    chain: Arc<Chain>,
    network: SharedStatus,
    anchors: SharedView,
    /// The receipt log's writer: what is answered `received` is durable.
    intake: Intake,
    /// The counted anchors, as of a height: re-read when the chain grows.
    counted: Mutex<(Height, Arc<Vec<CountedAnchor>>)>,
    /// The peers whose relayed batches are accepted (`[relay] accept_from`).
    relay_from: BTreeSet<PeerId>,
}

/// Recorded anchors read per refresh of the counted anchors (the newest).
const COUNTED_WINDOW: usize = 64;

impl RpcBackend {
    /// Serves `chain`, with network status from `network`; client
    /// transactions are made durable through `intake` before the answer.
    pub fn new(
        chain: Arc<Chain>,
        network: SharedStatus,
        anchors: SharedView,
        intake: Intake,
        relay_from: BTreeSet<PeerId>,
    ) -> Self {
        Self {
            chain,
            network,
            anchors,
            intake,
            counted: Mutex::new((Height::GENESIS, Arc::new(Vec::new()))),
            relay_from,
        }
    }

    /// The recorded anchors whose Bitcoin parts verify, from the store.
    fn counted(&self) -> Result<Arc<Vec<CountedAnchor>>, ApiError> {
        let height = self.chain.height();
        let mut cache = self
            .counted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.0 != height {
            let recorded = self
                .chain
                .store()
                .recent_anchors(COUNTED_WINDOW)
                .map_err(ApiError::internal)?;
            *cache = (
                height,
                Arc::new(anchoring::counted(recorded, self.chain.genesis().header())),
            );
        }
        Ok(cache.1.clone())
    }

    /// The anchor covering block `height` (see [`anchoring::covering`]).
    fn covering(&self, height: Height) -> Result<Option<CountedAnchor>, ApiError> {
        let counted = self.counted()?;
        let view = self.anchor_view();
        let k = self
            .chain
            .genesis()
            .header()
            .bitcoin
            .map_or(1, |b| u64::from(b.confirmations));
        Ok(anchoring::covering(&counted, height, &view.judged, k).cloned())
    }

    fn anchor_view(&self) -> AnchorView {
        self.anchors
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The finalized submission of `operator` under `seq`, if any.
    fn finalized_at(
        &self,
        operator: AccountId,
        seq: u64,
    ) -> Result<Option<SubmissionInfo>, ApiError> {
        let id = self
            .chain
            .store()
            .submission_at(&operator, seq)
            .map_err(ApiError::internal)?;
        id.map(|id| self.finalized_info(id))
            .transpose()
            .map(Option::flatten)
    }

    /// Admits a client transaction and makes it durable before the caller
    /// answers `received`: the receipt log's entry (and signed receipt)
    /// of an earlier identical submission, else a new durable write.
    fn admit_durably(&self, tx: SignedTx) -> Result<(Admitted, Option<SignedReceipt>), ApiError> {
        if self.intake.drops() {
            // The evidence tests' fault (crate::receipts): sign, then drop.
            self.chain
                .with_ledger(|l| l.check_signature(&tx, self.chain.keys()))?;
            let id = tx.id();
            let receipt = self.intake.persist(tx).map_err(ApiError::internal)?;
            return Ok((Admitted::New(id), receipt));
        }
        // Held from blocks and the relay until the receipt log has it.
        let admitted = self.chain.admit_held(tx.clone()).map_err(mempool_error)?;
        if let Admitted::Duplicate(_) = admitted
            && let Some(entry) =
                crate::receipts::stored(self.chain.store(), &tx).map_err(ApiError::internal)?
        {
            let receipt = (!entry.receipt.is_empty())
                .then(|| serde_json::from_slice(&entry.receipt))
                .transpose()
                .map_err(ApiError::internal)?;
            return Ok((admitted, receipt));
        }
        let receipt = self.intake.persist(tx).map_err(ApiError::internal)?;
        Ok((admitted, receipt))
    }

    /// `finalized` becomes `anchored` when a counted anchor covers the block.
    fn with_anchor(&self, mut info: SubmissionInfo) -> Result<SubmissionInfo, ApiError> {
        if let Some(h) = info.height
            && let Some(anchor) = self.covering(h)?
        {
            info.status = Status::Anchored;
            let view = self.anchor_view();
            info.anchor = self
                .chain
                .store()
                .anchor(anchor.id)
                .map_err(ApiError::internal)?
                .and_then(|tx| self.anchor_info(anchor.id, &tx, &view));
        }
        Ok(info)
    }

    fn anchor_info(&self, id: u64, tx: &SignedTx, view: &AnchorView) -> Option<AnchorInfo> {
        let TxBody::AnchorRecord(r) = tx.body() else {
            return None;
        };
        let block_hash = self.chain.store().header(r.height).ok().flatten()?.hash();
        // This node's bitcoind's answer, else the headers the part carries.
        let carried = r.part.as_ref().map_or(0, |p| p.headers.len() as u64);
        let confirmations = view.judged.get(&id).copied().unwrap_or(carried);
        Some(AnchorInfo {
            id,
            height: r.height,
            block_hash,
            txid: Some(r.bitcoin_txid.to_string()),
            bitcoin_block: Some(r.bitcoin_block.to_string()),
            confirmations,
            bitcoin_height: Some(r.bitcoin_height),
        })
    }

    /// The anchor part for a submission in block `height`, from the
    /// covering anchor's record: local state only.
    fn anchor_part(&self, height: Height) -> Result<Option<AnchorProof>, ApiError> {
        let Some(anchor) = self.covering(height)? else {
            return Ok(None);
        };
        let Some(part) = anchor.record.part.clone() else {
            return Ok(None);
        };
        let history = self
            .chain
            .with_ledger(|l| l.history_proof(height, anchor.record.height))
            .map_err(ApiError::internal)?;
        Ok(Some(AnchorProof::new(
            &history,
            anchor.record.commitment,
            part,
        )))
    }

    fn network(&self) -> NetworkStatus {
        health::lock(&self.network).clone()
    }

    fn finalized_info(&self, id: SubmissionId) -> Result<Option<SubmissionInfo>, ApiError> {
        Ok(self.finalized_submission(id)?.map(|(info, _)| info))
    }

    /// A finalized submission's status and its transaction.
    fn finalized_submission(
        &self,
        id: SubmissionId,
    ) -> Result<Option<(SubmissionInfo, SignedTx)>, ApiError> {
        let store = self.chain.store();
        let Some(loc) = store.location(&id).map_err(ApiError::internal)? else {
            return Ok(None);
        };
        let header = store
            .header(loc.height)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal(format!("block {} missing", loc.height)))?;
        let tx = store
            .tx(loc.height, loc.tx_index)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("submission index out of range"))?;
        let info = self.with_anchor(info(
            &tx,
            Status::Finalized,
            Some(loc.height),
            Some(header.hash()),
            Some(loc.log_index),
        ))?;
        Ok(Some((info, tx)))
    }

    /// Where `operator`'s finalized submission `seq` sits.
    fn located(
        &self,
        operator: &AccountId,
        seq: u64,
    ) -> Result<Option<(SubmissionId, crate::store::Location)>, ApiError> {
        let store = self.chain.store();
        let Some(id) = store
            .submission_at(operator, seq)
            .map_err(ApiError::internal)?
        else {
            return Ok(None);
        };
        Ok(store
            .location(&id)
            .map_err(ApiError::internal)?
            .map(|loc| (id, loc)))
    }

    /// The operator's next sequence number, or `UNKNOWN_OPERATOR`.
    fn next_seq(&self, operator: &AccountId) -> Result<u64, ApiError> {
        self.chain.with_ledger(|l| {
            l.account(operator)
                .and_then(|a| a.operator)
                .map(|op| op.next_seq)
                .ok_or_else(|| {
                    ApiError::new(
                        codes::UNKNOWN_OPERATOR,
                        format!("operator {operator} is not registered"),
                    )
                })
        })
    }

    /// The number of `operator`'s submissions, from seq 0, that an anchor
    /// covers: anchors cover every block up to a height, so the anchored
    /// submissions are a prefix of the sequence, found by bisection.
    fn anchored_count(&self, operator: &AccountId, next_seq: u64) -> Result<u64, ApiError> {
        let (mut lo, mut hi) = (0u64, next_seq); // anchored: [0, lo); not: [hi, next_seq)
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let covered = match self.located(operator, mid)? {
                Some((_, loc)) => self.covering(loc.height)?.is_some(),
                None => false,
            };
            if covered {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The state record of `operator` kept for block `height`.
    fn kept_state(
        &self,
        operator: &AccountId,
        height: Height,
    ) -> Result<
        (
            pantheon_runtime::state::Account,
            pantheon_runtime::smt::StateProof,
        ),
        ApiError,
    > {
        self.chain
            .store()
            .operator_state(operator, height)
            .map_err(ApiError::internal)?
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "no state proof of operator {operator} kept for block {height} (committed \
                     before this node kept them)"
                ))
            })
    }
}

fn info(
    tx: &SignedTx,
    status: Status,
    height: Option<Height>,
    block_hash: Option<pantheon_runtime::hash::BlockHash>,
    log_index: Option<u64>,
) -> SubmissionInfo {
    let s = tx.as_submission().expect("callers pass submissions");
    SubmissionInfo {
        id: tx.submission_id(),
        operator: s.operator,
        seq: s.seq,
        prev: s.prev,
        root: s.root,
        label: s.metadata.label().to_owned(),
        record_count: s.metadata.record_count(),
        status,
        height,
        block_hash,
        log_index,
        anchor: None,
    }
}

fn mempool_error(e: MempoolError) -> ApiError {
    match e {
        MempoolError::Invalid(tx) => tx.into(),
        MempoolError::Full(_) => ApiError::new(codes::MEMPOOL_FULL, e.to_string()),
        MempoolError::QueueFull(..) => ApiError::new(codes::OPERATOR_QUEUE_FULL, e.to_string()),
        MempoolError::Conflict { recorded, .. } => ApiError {
            code: codes::SUBMISSION_CONFLICT,
            message: e.to_string(),
            data: Some(serde_json::json!({ "recorded": recorded })),
        },
    }
}

fn kind(tx: &SignedTx) -> &'static str {
    match tx.body() {
        TxBody::RegisterOperator(_) => "register_operator",
        TxBody::SubmitRoot(_) => "submit_root",
        TxBody::Transfer(_) => "transfer",
        TxBody::AnchorRecord(_) => "anchor_record",
    }
}

impl RpcBackend {
    /// The header and certificate of block `height` (default: the latest).
    fn certified(
        &self,
        height: Option<Height>,
    ) -> Result<(BlockHeader, CommitCertificate), ApiError> {
        let head = self
            .chain
            .with_ledger(pantheon_runtime::ledger::Ledger::height);
        let height = height.unwrap_or(head);
        if height == Height::GENESIS || height > head {
            return Err(ApiError::not_found(format!(
                "block {height} (the chain is at height {head})"
            )));
        }
        let store = self.chain.store();
        let header = store
            .header(height)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("block missing"))?;
        let cert = store
            .certificate(height)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("certificate missing"))?;
        Ok((header, cert))
    }

    /// The first block whose log holds `size` leaves (log sizes never
    /// decrease, so a binary search over the stored headers finds it).
    fn first_block_with_log_size(&self, size: u64) -> Result<Height, ApiError> {
        let head = self
            .chain
            .with_ledger(pantheon_runtime::ledger::Ledger::height);
        let store = self.chain.store();
        let log_size = |h: u64| -> Result<u64, ApiError> {
            Ok(store
                .header(Height::new(h))
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::internal("block missing"))?
                .log_size)
        };
        // The first height in 1..=head whose log has at least `size` leaves.
        let (mut lo, mut hi) = (1, head.get() + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if log_size(mid)? < size {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo > head.get() || log_size(lo)? != size {
            return Err(ApiError::not_found(format!(
                "a block whose log ends at {size} leaves (every size a checkpoint was \
                 certified at is some block's log_size: see log_getCheckpoint)"
            )));
        }
        Ok(Height::new(lo))
    }
}

impl RpcBackend {
    /// Counts an admission result for `/metrics`.
    fn admission<T>(&self, result: Result<T, ApiError>) -> Result<T, ApiError> {
        let admissions = &self.chain.counters().admissions;
        match &result {
            Ok(_) => admissions.accepted(),
            Err(e) => admissions.refused(e.code),
        }
        result
    }

    fn submit_root_uncounted(&self, tx: SignedTx) -> Result<Receipt, ApiError> {
        let s = tx
            .as_submission()
            .expect("the RPC layer checked the kind")
            .clone();
        let receipt = |id, status, height, signed| Receipt {
            id,
            operator: s.operator,
            seq: s.seq,
            root: s.root,
            status,
            height,
            receipt: signed,
        };
        // Finalized already: the same (operator, seq, root) is idempotent.
        let next_seq = self.chain.with_ledger(|l| {
            l.account(&s.operator)
                .and_then(|a| a.operator)
                .map(|o| o.next_seq)
        });
        if next_seq.is_some_and(|n| s.seq < n) {
            self.chain
                .with_ledger(|l| l.check_signature(&tx, self.chain.keys()))?;
            let existing = self
                .chain
                .store()
                .submission_at(&s.operator, s.seq)
                .map_err(ApiError::internal)?;
            if let Some((info, recorded)) = existing
                .map(|id| self.finalized_submission(id))
                .transpose()?
                .flatten()
            {
                // Idempotent only for the same signed content.
                if recorded.body() != tx.body() {
                    return Err(mempool_error(MempoolError::Conflict {
                        operator: s.operator,
                        seq: s.seq,
                        recorded: info.id,
                    }));
                }
                return Ok(receipt(info.id, Status::Finalized, info.height, None));
            }
        }
        match self.admit_durably(tx)? {
            (Admitted::New(id) | Admitted::Duplicate(id), signed) => Ok(receipt(
                SubmissionId::new(id.hash()),
                Status::Received,
                None,
                signed,
            )),
        }
    }

    fn submit_transaction_uncounted(&self, tx: SignedTx) -> Result<TxReceipt, ApiError> {
        let kind = kind(&tx);
        let id = match self.admit_durably(tx)?.0 {
            Admitted::New(id) | Admitted::Duplicate(id) => id,
        };
        Ok(TxReceipt {
            id,
            kind: kind.into(),
            status: Status::Received,
            height: None,
        })
    }
}

impl Backend for RpcBackend {
    fn submit_root(&self, tx: SignedTx) -> Result<Receipt, ApiError> {
        self.admission(self.submit_root_uncounted(tx))
    }

    fn submit_transaction(&self, tx: SignedTx) -> Result<TxReceipt, ApiError> {
        self.admission(self.submit_transaction_uncounted(tx))
    }

    fn relay(&self, raw: Vec<Vec<u8>>, auth: RelayAuth) -> Result<RelayReport, ApiError> {
        let slices: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
        let genesis = self.chain.genesis().hash();
        let peer = crate::relay::check(&auth, &slices, &genesis, &self.relay_from, crate::now_ms())
            .map_err(|e| {
                tracing::debug!(target: "pantheon::relay", "{e}");
                ApiError::new(codes::RELAY_REFUSED, e.to_string())
            })?;
        let mut malformed = 0u32;
        let txs: Vec<SignedTx> = slices
            .iter()
            .filter_map(|b| {
                pantheon_runtime::codec::decode_exact(b)
                    .inspect_err(|_| malformed = malformed.saturating_add(1))
                    .ok()
            })
            .collect();
        let r = self.chain.admit_relayed(txs, malformed);
        tracing::trace!(target: "pantheon::relay", %peer, accepted = r.accepted, "relayed batch");
        Ok(RelayReport {
            accepted: r.accepted,
            known: r.known,
            rejected: r.rejected,
        })
    }

    fn submission(&self, id: SubmissionId) -> Result<SubmissionInfo, ApiError> {
        if let Some(found) = self.finalized_info(id)? {
            return Ok(found);
        }
        let tx_id = pantheon_runtime::hash::TxId::new(id.hash());
        if let Some(tx) = self
            .chain
            .with_mempool(|m| m.get(&tx_id).cloned())
            .filter(|tx| tx.as_submission().is_some())
        {
            return Ok(info(&tx, Status::Received, None, None, None));
        }
        // Finalized between the two looks (the block commits to the store
        // before it leaves the mempool): look again.
        if let Some(found) = self.finalized_info(id)? {
            return Ok(found);
        }
        // Durable but not (yet, or no longer) in the mempool: written by
        // the receipt log before its admission raced a restart.
        match self
            .chain
            .store()
            .received_entry(&tx_id)
            .map_err(ApiError::internal)?
        {
            Some(entry) if entry.tx.as_submission().is_some() => {
                Ok(info(&entry.tx, Status::Received, None, None, None))
            }
            _ => Err(ApiError::not_found(format!("submission {id}"))),
        }
    }

    fn submission_at(&self, operator: AccountId, seq: u64) -> Result<SubmissionInfo, ApiError> {
        if let Some(info) = self.finalized_at(operator, seq)? {
            return Ok(info);
        }
        if let Some(tx) = self
            .chain
            .with_mempool(|m| m.queued_submission(&operator, seq).cloned())
        {
            return Ok(info(&tx, Status::Received, None, None, None));
        }
        // Finalized between the two looks (the block commits to the store
        // before it leaves the mempool): look again.
        self.finalized_at(operator, seq)?
            .ok_or_else(|| ApiError::not_found(format!("submission {seq} of operator {operator}")))
    }

    fn submissions_of(
        &self,
        operator: AccountId,
        from: u64,
        to: u64,
    ) -> Result<(u64, Vec<SubmissionInfo>), ApiError> {
        let next = self.operator(operator)?.next_seq;
        let to = to
            .min(next)
            .min(from.saturating_add(pantheon_rpc::api::OPERATOR_WINDOW));
        let store = self.chain.store();
        let mut out = Vec::new();
        for seq in from..to {
            if let Some(id) = store
                .submission_at(&operator, seq)
                .map_err(ApiError::internal)?
                && let Some(info) = self.finalized_info(id)?
            {
                out.push(info);
            }
        }
        Ok((next, out))
    }

    fn operator_proof(
        &self,
        operator: AccountId,
        seq: Option<u64>,
    ) -> Result<OperatorProof, ApiError> {
        let next = self.next_seq(&operator)?;
        let seq = match seq {
            Some(s) => s,
            None => next.checked_sub(1).ok_or_else(|| {
                ApiError::not_found(format!("operator {operator} has no finalized submission"))
            })?,
        };
        let Some((_, loc)) = self.located(&operator, seq)? else {
            return Err(ApiError::not_found(format!(
                "finalized submission {seq} of operator {operator}"
            )));
        };
        let (record, proof) = self.kept_state(&operator, loc.height)?;
        let header = self
            .chain
            .store()
            .header(loc.height)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("block missing"))?;
        Ok(OperatorProof {
            operator,
            height: loc.height,
            state_root: header.state_root,
            account: base64::engine::general_purpose::STANDARD.encode(record.to_bytes()),
            record,
            proof,
        })
    }

    fn export_operator(
        &self,
        operator: AccountId,
        from: u64,
        max: usize,
    ) -> Result<ExportPage, ApiError> {
        let next_seq = self.next_seq(&operator)?;
        let anchored = self.anchored_count(&operator, next_seq)?;
        if from >= anchored {
            return Err(ApiError::not_found(format!(
                "no anchored submission of operator {operator} from seq {from}: {anchored} of its \
                 {next_seq} finalized submissions are anchored"
            )));
        }
        let mut bundles = Vec::new();
        let mut seq = from;
        let mut last_height = None;
        while seq < anchored {
            let Some((id, loc)) = self.located(&operator, seq)? else {
                return Err(ApiError::internal(format!(
                    "anchored submission {seq} missing"
                )));
            };
            // A page ends at the last submission of a block: the state
            // record of that block names it.
            if bundles.len() >= max && last_height != Some(loc.height) {
                break;
            }
            bundles.push(self.proof(id, false)?);
            last_height = Some(loc.height);
            seq += 1;
        }
        let height = last_height.ok_or_else(|| ApiError::internal("empty page"))?;
        let (account, proof) = self.kept_state(&operator, height)?;
        let genesis = self.chain.genesis();
        let export = pantheon_runtime::export::write(&pantheon_runtime::export::Parts {
            operator,
            genesis: Some(genesis.header()),
            submissions: &bundles,
            account: &account,
            proof: &proof,
        })
        .map_err(ApiError::internal)?;
        Ok(ExportPage {
            export,
            next_from: (seq < anchored).then_some(seq),
            anchored_to: anchored - 1,
            next_seq,
        })
    }

    fn proof(&self, id: SubmissionId, embed_genesis: bool) -> Result<ProofBundle, ApiError> {
        let store = self.chain.store();
        let Some(loc) = store.location(&id).map_err(ApiError::internal)? else {
            let queued = self.submission(id).is_ok();
            return Err(if queued {
                ApiError::new(
                    codes::NOT_FINALIZED,
                    format!("submission {id} is not finalized yet"),
                )
            } else {
                ApiError::not_found(format!("submission {id}"))
            });
        };
        let header = store
            .header(loc.height)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("block missing"))?;
        let cert = store
            .certificate(loc.height)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("certificate missing"))?;
        let tx = store
            .tx(loc.height, loc.tx_index)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("submission index out of range"))?;
        let tx = &tx;
        let operator = tx
            .as_submission()
            .expect("indexed as a submission")
            .operator;
        let (key, inclusion) = self.chain.with_ledger(|l| {
            (
                l.operator_key(&operator).cloned(),
                l.log().inclusion_proof(loc.log_index, header.log_size),
            )
        });
        let key = key.ok_or_else(|| ApiError::internal("operator key missing"))?;
        let inclusion = inclusion.map_err(ApiError::internal)?;
        let genesis = self.chain.genesis();
        let mut bundle = ProofBundle::new(
            genesis.hash(),
            tx,
            key,
            inclusion,
            &header,
            &cert.quorum(&genesis.header().validators),
        );
        if embed_genesis {
            bundle = bundle.with_genesis(genesis.header());
        }
        Ok(match self.anchor_part(loc.height)? {
            Some(anchor) => bundle.with_anchor(anchor),
            None => bundle,
        })
    }

    fn find_root(&self, root: AuditRoot) -> Result<Vec<SubmissionInfo>, ApiError> {
        let ids = self
            .chain
            .store()
            .submissions_with_root(&root)
            .map_err(ApiError::internal)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.finalized_info(id)?);
        }
        Ok(out)
    }

    fn operator(&self, id: AccountId) -> Result<OperatorInfo, ApiError> {
        let queued = self.chain.with_mempool(|m| m.last_queued_submission(&id));
        self.chain.with_ledger(|l| {
            let account = l.account(&id).copied().unwrap_or_default();
            let op = account.operator.ok_or_else(|| {
                ApiError::new(
                    codes::UNKNOWN_OPERATOR,
                    format!("operator {id} is not registered"),
                )
            })?;
            let key = l
                .operator_key(&id)
                .ok_or_else(|| ApiError::internal("operator key missing"))?;
            let (pending_next_seq, pending_prev) = match queued {
                Some((seq, prev)) => (seq + 1, prev),
                None => (op.next_seq, op.last.map(|l| l.id).unwrap_or_default()),
            };
            Ok(OperatorInfo {
                id,
                public_key: hex::encode(key.as_bytes()),
                next_seq: op.next_seq,
                last_submission: op.last,
                pending_next_seq,
                pending_prev,
                balance: account.balance,
                balance_pan: account.balance.to_string(),
                nonce: account.nonce,
            })
        })
    }

    fn head(&self) -> Result<HeaderInfo, ApiError> {
        let h = self.chain.height();
        if h == Height::GENESIS {
            return Err(ApiError::not_found("no block yet; head"));
        }
        self.block(h, false).map(|b| b.head)
    }

    fn block(&self, height: Height, include_txs: bool) -> Result<BlockInfo, ApiError> {
        let store = self.chain.store();
        let cert = |header| -> Result<HeaderInfo, ApiError> {
            let cert = store
                .certificate(height)
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::internal("certificate missing"))?;
            Ok(HeaderInfo::new(&header, &cert))
        };
        let header = store
            .header(height)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("block {height}")))?;
        if include_txs && header.tx_count > BLOCK_TXS_PAGE {
            return Err(too_large_block(height, header.tx_count));
        }
        let txs = if include_txs {
            self.block_txs(height, 0, BLOCK_TXS_PAGE)?.txs
        } else {
            Vec::new()
        };
        Ok(BlockInfo {
            head: cert(header)?,
            tx_ids: store.tx_ids(height).map_err(ApiError::internal)?,
            txs,
        })
    }

    fn block_txs(&self, height: Height, offset: u32, limit: u32) -> Result<BlockTxPage, ApiError> {
        let store = self.chain.store();
        let header = store
            .header(height)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("block {height}")))?;
        let total = header.tx_count;
        if offset >= total && !(offset == 0 && total == 0) {
            return Err(ApiError::not_found(format!(
                "transaction {offset} of block {height} (it holds {total})"
            )));
        }
        let end = offset.saturating_add(limit).min(total);
        let txs = (offset..end)
            .map(|i| {
                store
                    .tx(height, i)
                    .map_err(ApiError::internal)?
                    .map(|t| hex::encode(t.as_bytes()))
                    .ok_or_else(|| {
                        ApiError::internal(format!("transaction {i} of block {height} missing"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BlockTxPage {
            height,
            offset,
            total,
            txs,
            next: (end < total).then_some(end),
        })
    }

    fn balance(&self, account: AccountId) -> Result<BalanceInfo, ApiError> {
        let queued = self.chain.with_mempool(|m| m.queued_account_txs(&account)) as u64;
        Ok(self.chain.with_ledger(|l| {
            let a = l.account(&account).copied().unwrap_or_default();
            BalanceInfo {
                account,
                balance: a.balance,
                balance_pan: a.balance.to_string(),
                nonce: a.nonce,
                pending_nonce: a.nonce + queued,
                height: l.height(),
            }
        }))
    }

    fn supply(&self) -> Result<SupplyInfo, ApiError> {
        Ok(self.chain.with_ledger(|l| {
            let total = l.total_balance();
            SupplyInfo {
                height: l.height(),
                supply: SUPPLY,
                sum_of_balances: total.to_string(),
                accounts: l.accounts().count() as u64,
                conserved: total == u128::from(SUPPLY.units()),
            }
        }))
    }

    fn supply_proof(
        &self,
        height: Option<Height>,
        embed_genesis: bool,
    ) -> Result<SupplyProof, ApiError> {
        let (header, cert) = self.certified(height)?;
        let store = self.chain.store();
        let genesis = self.chain.genesis();
        let Some(accounts) = store
            .accounts_at(genesis, header.height)
            .map_err(ApiError::internal)?
        else {
            let from = store.history_from().map_err(ApiError::internal)?;
            return Err(ApiError::not_found(format!(
                "the state at height {}: this node keeps account history from height {from}",
                header.height
            )));
        };
        if accounts.len() > MAX_SUPPLY_ACCOUNTS {
            return Err(ApiError::new(
                codes::TOO_LARGE,
                format!(
                    "the state holds {} accounts; a supply proof holds at most {MAX_SUPPLY_ACCOUNTS}",
                    accounts.len()
                ),
            ));
        }
        Ok(SupplyProof::new(
            genesis.hash(),
            embed_genesis.then(|| genesis.header()),
            &header,
            &cert,
            accounts,
        ))
    }

    fn checkpoint(
        &self,
        height: Option<Height>,
        embed_genesis: bool,
    ) -> Result<Checkpoint, ApiError> {
        let (header, cert) = self.certified(height)?;
        let genesis = self.chain.genesis();
        Ok(Checkpoint::new(
            genesis.hash(),
            embed_genesis.then(|| genesis.header()),
            &header,
            &cert,
        ))
    }

    fn consistency(
        &self,
        old_size: u64,
        new_size: u64,
        embed_genesis: bool,
    ) -> Result<LogConsistency, ApiError> {
        let old = self.certified(Some(self.first_block_with_log_size(old_size)?))?;
        let new = self.certified(Some(self.first_block_with_log_size(new_size)?))?;
        let proof = self
            .chain
            .with_ledger(|l| l.log().consistency_proof(old_size, new_size))
            .map_err(ApiError::internal)?;
        let genesis = self.chain.genesis();
        Ok(LogConsistency::new(
            genesis.hash(),
            embed_genesis.then(|| genesis.header()),
            (&old.0, &old.1),
            (&new.0, &new.1),
            &proof,
        ))
    }

    fn anchors(&self, from: u64, to: u64) -> Result<Vec<AnchorInfo>, ApiError> {
        let view = self.anchor_view();
        let store = self.chain.store();
        let count = store.anchor_count().map_err(ApiError::internal)?;
        let to = to
            .min(count.saturating_sub(1))
            .min(from.saturating_add(999));
        let mut out = Vec::new();
        for id in from..=to {
            if id >= count {
                break;
            }
            if let Some(tx) = store.anchor(id).map_err(ApiError::internal)?
                && let Some(info) = self.anchor_info(id, &tx, &view)
            {
                out.push(info);
            }
        }
        Ok(out)
    }

    fn anchor(&self, id: u64) -> Result<AnchorInfo, ApiError> {
        let view = self.anchor_view();
        self.chain
            .store()
            .anchor(id)
            .map_err(ApiError::internal)?
            .and_then(|tx| self.anchor_info(id, &tx, &view))
            .ok_or_else(|| ApiError::not_found(format!("anchor {id}")))
    }

    fn anchor_status(&self) -> serde_json::Value {
        self.anchor_view()
            .status
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    fn health(&self) -> Health {
        let net = self.network();
        let (height, hash) = self.chain.with_ledger(|l| (l.height(), l.last_block()));
        let last_block_time_ms = self
            .chain
            .store()
            .header(height)
            .ok()
            .flatten()
            .map_or(self.chain.genesis().header().time_ms, |h| h.time_ms);
        Health {
            height,
            finalized_hash: hash,
            last_block_time_ms,
            syncing: net.syncing(std::time::Instant::now()),
            peers: net.peers.len(),
            mempool: self.chain.with_mempool(|m| m.len()),
            equivocations: net.equivocations,
            warnings: net.warnings,
            bitcoind: net.bitcoind.map(|b| pantheon_rpc::types::ManagedBitcoind {
                running: b.running,
                restarts: b.restarts,
                last_exit: b.last_exit,
            }),
        }
    }

    fn peers(&self) -> Vec<PeerInfo> {
        self.network()
            .peers
            .into_iter()
            .map(|p| PeerInfo {
                peer_id: p.id,
                address: p.address,
            })
            .collect()
    }

    fn version(&self) -> VersionInfo {
        VersionInfo {
            version: env!("CARGO_PKG_VERSION").into(),
            genesis_hash: self.chain.genesis().hash(),
            chain_id: self.chain.genesis().header().chain_id.clone(),
        }
    }

    fn genesis(&self) -> GenesisInfo {
        GenesisInfo {
            hash: self.chain.genesis().hash(),
            header: base64::engine::general_purpose::STANDARD
                .encode(self.chain.genesis().header().to_bytes()),
        }
    }

    fn account_state(&self, account: AccountId) -> Result<AccountStateInfo, ApiError> {
        use base64::engine::general_purpose::STANDARD;
        // The record, its proof and the height from one look at the
        // ledger; the block is in the store before the ledger moves to it.
        let (height, record, proof) = self.chain.with_ledger(|l| {
            let (record, proof) = l.prove_account(&account);
            (l.height(), record, proof)
        });
        let store = self.chain.store();
        let header = store
            .header(height)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("block {height}")))?;
        let cert = store
            .certificate(height)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::not_found(format!("certificate of block {height}")))?;
        Ok(AccountStateInfo {
            height,
            header: STANDARD.encode(header.to_bytes()),
            certificate: STANDARD.encode(cert.to_bytes()),
            state: pantheon_runtime::receipt::AccountState {
                account: record.map(|r| STANDARD.encode(r.to_bytes())),
                proof,
            },
        })
    }

    fn subscribe_finalized(&self) -> broadcast::Receiver<FinalizedHead> {
        self.chain.subscribe()
    }
}

/// The answer to `chain_getBlock(h, true)` for a block too large for one
/// answer.
fn too_large_block(height: Height, count: u32) -> ApiError {
    let mut e = ApiError::new(
        codes::TOO_LARGE,
        format!(
            "block {height} holds {count} transactions, more than {BLOCK_TXS_PAGE} in one answer: \
             read them with chain_getBlockTransactions({height}, offset, limit)"
        ),
    );
    e.data = Some(serde_json::json!({ "total": count, "limit": BLOCK_TXS_PAGE }));
    e
}
