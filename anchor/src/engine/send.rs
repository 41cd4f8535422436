//! Acting on Bitcoin: choosing coins and fees, signing, persisting and
//! sending anchors, replacing stuck ones, abandoning those whose coins
//! were spent elsewhere. Part of the pure core: a send is a question
//! ([`super::core::Query::Send`]) asked only after the state holding the
//! transaction was written.

use bitcoin::{Amount, FeeRate, Txid};

use super::core::{Flow, Run};
use super::state::{BlockRef, Phase, Tracked, Version};
use super::{AnchorEvent, COINBASE_MATURITY};
use crate::payload::AnchorPayload;
use crate::policy::FeePolicy;
use crate::rpc::codes;
use crate::txbuild::{self, Coin, TxBuildError};

/// What a send attempt came to.
#[derive(Clone, Copy)]
pub(super) enum Sent {
    Accepted,
    FeeTooLow,
    InputsMissing,
    Refused,
}

struct Fees {
    rate: FeeRate,
    incremental: FeeRate,
}

impl Run<'_> {
    /// Sends unconfirmed anchors missing from the mempool, and replaces
    /// those stuck for `bump_after_blocks`.
    pub(super) fn push_unconfirmed(&mut self, tip: BlockRef, in_mempool: &[Txid]) -> Flow<()> {
        let mut index = 0;
        while index < self.state.anchors.len() {
            let anchor = &self.state.anchors[index];
            if !matches!(anchor.phase, Phase::Unconfirmed) {
                index += 1;
                continue;
            }
            let len_before = self.state.anchors.len();
            if anchor.txids().iter().any(|t| in_mempool.contains(t)) {
                let bump_after = u64::from(self.policy().bump_after_blocks);
                let due = anchor
                    .sent_height
                    .is_none_or(|h| tip.height >= h + bump_after);
                if due && !self.has_descendant(index) {
                    self.replace(index, tip)?;
                }
            } else {
                let outcome = self.send(index, tip)?;
                self.after_send(index, outcome, tip)?;
            }
            if self.state.anchors.len() == len_before {
                index += 1;
            }
        }
        Ok(())
    }

    /// Whether another tracked anchor spends an output of anchor `index`
    /// (replacing it would orphan that one).
    fn has_descendant(&self, index: usize) -> bool {
        let txids = self.state.anchors[index].txids();
        self.state.anchors.iter().any(|other| {
            other
                .inputs
                .iter()
                .any(|c| txids.contains(&c.outpoint.txid))
        })
    }

    /// Reacts to a failed send: replace when the fee was too low, abandon
    /// when the inputs are gone.
    pub(super) fn after_send(&mut self, index: usize, outcome: Sent, tip: BlockRef) -> Flow<()> {
        match outcome {
            Sent::Accepted | Sent::Refused => Ok(()),
            Sent::FeeTooLow => self.replace(index, tip),
            Sent::InputsMissing => self.abandon_if_spent(index, tip),
        }
    }

    /// Sends the newest version of anchor `index` (already persisted).
    pub(super) fn send(&mut self, index: usize, tip: BlockRef) -> Flow<Sent> {
        let anchor = &self.state.anchors[index];
        let version = anchor.latest().clone();
        let txid = version.tx.compute_txid();
        if !version.accepted {
            let check = self.test_accept(&version.tx)?;
            if !check.allowed {
                let reason = check.reject_reason.unwrap_or_default();
                if reason.contains("already-in-mempool") || reason.contains("already-known") {
                    // Accepted earlier, before a crash: fall through to
                    // sendrawtransaction, which succeeds.
                } else {
                    return Ok(self.refusal(txid, &reason));
                }
            }
        }
        match self.send_tx(&version.tx)? {
            Ok(()) => {
                let anchor = &mut self.state.anchors[index];
                let count = anchor.versions.len();
                let replaces = (count > 1).then(|| anchor.versions[count - 2].tx.compute_txid());
                let newly = !anchor.versions[count - 1].accepted;
                anchor.versions[count - 1].accepted = true;
                if newly || anchor.sent_height.is_none() {
                    anchor.sent_height = Some(tip.height);
                }
                let fee = anchor.anchor_tx(&version).map_or(Amount::ZERO, |a| a.fee());
                self.events.push(AnchorEvent::Broadcast {
                    target: anchor.target,
                    txid,
                    fee,
                    replaces,
                });
                Ok(Sent::Accepted)
            }
            Err(e) if e.is_unreachable() => Err(e.into()),
            Err(e) if e.code() == Some(codes::VERIFY_ALREADY_IN_UTXO_SET) => {
                // Already confirmed: the block scan will find it.
                Ok(Sent::Refused)
            }
            Err(e) => {
                let message = e.message().unwrap_or_default().to_owned();
                Ok(self.refusal(txid, &message))
            }
        }
    }

    fn refusal(&mut self, txid: Txid, reason: &str) -> Sent {
        let lower = reason.to_ascii_lowercase();
        let outcome = if lower.contains("exceeds maximum") || lower.contains("max-fee") {
            Sent::Refused
        } else if lower.contains("missing") {
            Sent::InputsMissing
        } else if lower.contains("fee") || lower.contains("mempool full") {
            Sent::FeeTooLow
        } else {
            Sent::Refused
        };
        if matches!(outcome, Sent::Refused) {
            self.health.last_error = Some(format!("bitcoind refused anchor {txid}: {reason}"));
        }
        outcome
    }

    /// Signs, persists and sends a BIP 125 replacement of anchor `index`.
    fn replace(&mut self, index: usize, tip: BlockRef) -> Flow<()> {
        let fees = self.fees()?;
        let anchor = &self.state.anchors[index];
        let Some(previous) = anchor.anchor_tx(anchor.latest()) else {
            return Ok(());
        };
        let payload = AnchorPayload::new(anchor.target.commitment);
        let replacement = match txbuild::build_replacement(
            self.key(),
            &previous,
            &anchor.coins(),
            &payload,
            fees.rate,
            fees.incremental,
        ) {
            Ok(tx) => tx,
            Err(e) => {
                self.health.last_error = Some(format!("cannot replace anchor: {e}"));
                return Ok(());
            }
        };
        let cap = self.policy().max_fee_rate;
        if replacement.fee_rate() > cap {
            self.health.last_error = Some(format!(
                "anchor {} is stuck but a replacement would pay {} sat/vB, above the cap of {}",
                previous.txid(),
                replacement.fee_rate().to_sat_per_vb_ceil(),
                cap.to_sat_per_vb_floor()
            ));
            return Ok(());
        }
        self.state.anchors[index].versions.push(Version {
            tx: replacement.tx().clone(),
            accepted: false,
        });
        // Written before bitcoind sees it.
        self.persisted(replacement.txid(), |state| {
            state.anchors[index].versions.pop();
        })?;
        match self.send(index, tip)? {
            Sent::InputsMissing => self.abandon_if_spent(index, tip),
            _ => Ok(()),
        }
    }

    /// Abandons anchor `index` if one of its inputs is spent or gone from
    /// the best chain while no version of it is in a block.
    fn abandon_if_spent(&mut self, index: usize, tip: BlockRef) -> Flow<()> {
        // A confirmed version would have been found by a scan up to the tip.
        if self.state.scanned != Some(tip) {
            return Ok(());
        }
        let own = self.state.own_txids();
        let inputs = self.state.anchors[index].inputs.clone();
        let mut missing = false;
        for coin in &inputs {
            if own.contains(&coin.outpoint.txid) {
                // Waiting for our own parent to confirm again.
                return Ok(());
            }
            if !self.tx_out_unspent(coin.outpoint)? {
                missing = true;
            }
        }
        if !missing || self.best_hash()? != tip.hash {
            return Ok(());
        }
        let anchor = self.state.anchors.remove(index);
        if self
            .state
            .waiting
            .is_none_or(|w| w.height < anchor.target.height)
        {
            self.state.waiting = Some(anchor.target);
        }
        self.events.push(AnchorEvent::Abandoned {
            target: anchor.target,
            txids: anchor.txids(),
        });
        Ok(())
    }

    /// Builds, signs and persists the anchor for the waiting target, when
    /// no anchor is unconfirmed. Returns its index.
    pub(super) fn create_next(&mut self, tip: BlockRef) -> Flow<Option<usize>> {
        if self.state.has_unconfirmed() {
            return Ok(None);
        }
        let Some(target) = self.state.waiting else {
            return Ok(None);
        };
        if self
            .state
            .last_target_height()
            .is_some_and(|h| h >= target.height.get())
        {
            self.state.waiting = None;
            return Ok(None);
        }
        let fees = self.fees()?;
        let coins = self.find_coins(tip)?;
        let selected = match txbuild::select_coins(&coins, fees.rate) {
            Ok(selected) => selected,
            Err(TxBuildError::InsufficientFunds { needed, available }) => {
                self.no_funds(needed, available);
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let payload = AnchorPayload::new(target.commitment);
        let anchor = match txbuild::build_anchor(self.key(), &selected, &payload, fees.rate) {
            Ok(anchor) => anchor,
            Err(TxBuildError::InsufficientFunds { needed, available }) => {
                self.no_funds(needed, available);
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        self.health.no_funds = None;
        self.state.anchors.push(Tracked {
            target,
            inputs: selected.iter().copied().map(Into::into).collect(),
            versions: vec![Version {
                tx: anchor.tx().clone(),
                accepted: false,
            }],
            phase: Phase::Unconfirmed,
            sent_height: None,
            reported: false,
        });
        self.state.waiting = None;
        if self.state.scanned.is_none() {
            self.state.scanned = Some(tip);
        }
        // Written before bitcoind sees it.
        self.persisted(anchor.txid(), |state| {
            state.anchors.pop();
            state.waiting = Some(target);
        })?;
        Ok(Some(self.state.anchors.len() - 1))
    }

    fn no_funds(&mut self, needed: Amount, available: Amount) {
        let address = self.address().clone();
        let message = format!(
            "no funds to anchor: send at least {needed} to {address} (spendable: {available})"
        );
        if self.health.no_funds != Some(needed) {
            self.events.push(AnchorEvent::NoFunds {
                address,
                needed,
                available,
            });
            self.health.no_funds = Some(needed);
        }
        self.health.last_error = Some(message);
    }

    /// Our spendable confirmed coins.
    fn find_coins(&mut self, tip: BlockRef) -> Flow<Vec<Coin>> {
        let unspents = match &self.health.coins {
            Some((at, unspents)) if *at == tip.hash => unspents.clone(),
            _ => {
                let scan = self.coins_scan()?;
                // Cached only when the scan saw the tip we work from.
                if scan.best_block == tip.hash {
                    self.health.coins = Some((tip.hash, scan.unspents.clone()));
                }
                scan.unspents.clone()
            }
        };
        let spent: Vec<_> = self
            .state
            .anchors
            .iter()
            .flat_map(|a| a.inputs.iter().map(|c| c.outpoint))
            .collect();
        let coins: Vec<Coin> = unspents
            .iter()
            .filter(|u| !u.coinbase || tip.height + 1 >= u.height + COINBASE_MATURITY)
            .map(|u| Coin {
                outpoint: bitcoin::OutPoint::new(u.txid, u.vout),
                value: u.value,
            })
            .filter(|c| !spent.contains(&c.outpoint))
            .collect();
        let balance = coins
            .iter()
            .try_fold(Amount::ZERO, |acc, c| acc.checked_add(c.value))
            .unwrap_or(Amount::MAX);
        self.health.balance = Some(balance);
        Ok(coins)
    }

    fn fees(&self) -> Flow<Fees> {
        let info = self.mempool_info()?;
        let rate = match self.policy().fee {
            FeePolicy::Fixed(rate) => rate,
            FeePolicy::Estimate {
                target_blocks,
                floor,
                cap,
            } => self
                .fee_estimate(target_blocks)?
                .unwrap_or(floor)
                .clamp(floor, cap),
        };
        Ok(Fees {
            rate: rate.max(info.mempool_min_fee).max(info.min_relay_fee),
            incremental: info.incremental_relay_fee,
        })
    }
}
