//! Following Bitcoin: confirmations, reorgs, and finding our unconfirmed
//! transactions in new blocks without a wallet or `-txindex`.

use bitcoin::Txid;

use super::state::{BlockRef, Phase};
use super::{AnchorEngine, AnchorEvent, MAX_SCAN_PER_TICK, Result, SCAN_LOOKBACK};
use crate::rpc::codes;

impl AnchorEngine {
    /// Updates confirmations and reorgs, and finds unconfirmed anchors in
    /// new blocks. Returns the txids of our transactions in the mempool.
    pub(super) async fn follow_chain(
        &mut self,
        tip: BlockRef,
        events: &mut Vec<AnchorEvent>,
    ) -> Result<Vec<Txid>> {
        self.check_blocks(tip, events).await?;
        self.rewind_scan().await?;
        if !self.state.has_unconfirmed() {
            // Nothing to look for: follow the tip, persisted with the next
            // change.
            self.state.scanned = Some(tip);
            return Ok(Vec::new());
        }
        let mut in_mempool = Vec::new();
        let mut all_in_mempool = true;
        for index in 0..self.state.anchors.len() {
            let anchor = &self.state.anchors[index];
            if !matches!(anchor.phase, Phase::Unconfirmed) {
                continue;
            }
            let mut found = None;
            for (v, txid) in anchor.txids().iter().enumerate().rev() {
                if self.rpc.get_mempool_entry(txid).await?.is_some() {
                    found = Some((v, *txid));
                    break;
                }
            }
            let Some((v, txid)) = found else {
                all_in_mempool = false;
                continue;
            };
            in_mempool.push(txid);
            // Sent before a crash that came before its state was written.
            let anchor = &mut self.state.anchors[index];
            if !anchor.versions[v].accepted || anchor.sent_height.is_none() {
                anchor.versions[v].accepted = true;
                anchor.sent_height.get_or_insert(tip.height);
                self.dirty = true;
            }
        }
        if all_in_mempool {
            // A transaction in the mempool (read after the tip) is in no
            // block up to the tip, and neither is any conflicting version.
            if self.state.scanned != Some(tip) {
                self.state.scanned = Some(tip);
                self.dirty = true;
            }
        } else {
            self.scan_blocks(tip, events).await?;
        }
        Ok(in_mempool)
    }

    /// Confirmations and reorgs of anchors already in a block.
    async fn check_blocks(&mut self, tip: BlockRef, events: &mut Vec<AnchorEvent>) -> Result<()> {
        let mut index = 0;
        while index < self.state.anchors.len() {
            let Phase::InBlock {
                txid, block_hash, ..
            } = self.state.anchors[index].phase
            else {
                index += 1;
                continue;
            };
            let header = match self.rpc.get_block_header_info(&block_hash).await {
                Ok(header) => Some(header),
                // A block bitcoind does not know (its data directory was
                // replaced) is not in its best chain either.
                Err(e) if e.code() == Some(codes::INVALID_ADDRESS_OR_KEY) => None,
                Err(e) => return Err(e.into()),
            };
            let anchor = &mut self.state.anchors[index];
            let Some((depth, block_height)) = header.and_then(|h| {
                u64::try_from(h.confirmations)
                    .ok()
                    .map(|depth| (depth, h.height))
            }) else {
                tracing::warn!(target: "pantheon::anchor", %txid, block = %block_hash, "anchor block left the best chain");
                if anchor.reported {
                    events.push(AnchorEvent::Reorged {
                        target: anchor.target,
                        txid,
                        block_hash,
                    });
                }
                anchor.phase = Phase::Unconfirmed;
                anchor.reported = false;
                anchor.sent_height = Some(tip.height);
                self.dirty = true;
                index += 1;
                continue;
            };
            if depth >= u64::from(self.policy.confirmations) && !anchor.reported {
                anchor.reported = true;
                self.dirty = true;
                events.push(AnchorEvent::Confirmed {
                    target: anchor.target,
                    txid,
                    block_hash,
                    block_height,
                    confirmations: depth,
                });
            }
            if depth >= u64::from(self.policy.watch_depth) && anchor.reported {
                self.state.settle(index);
                self.dirty = true;
                continue;
            }
            index += 1;
        }
        Ok(())
    }

    /// Moves the scan cursor back to the best chain after a reorg.
    async fn rewind_scan(&mut self) -> Result<()> {
        while let Some(cursor) = self.state.scanned {
            let header = match self.rpc.get_block_header_info(&cursor.hash).await {
                Ok(header) => header,
                Err(e) if e.code() == Some(codes::INVALID_ADDRESS_OR_KEY) => {
                    // Unknown block: search the last SCAN_LOOKBACK blocks.
                    self.state.scanned = None;
                    self.dirty = true;
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            };
            if header.confirmations >= 0 {
                return Ok(());
            }
            self.dirty = true;
            self.state.scanned = header.previousblockhash.map(|prev| BlockRef {
                height: header.height.saturating_sub(1),
                hash: prev,
            });
        }
        Ok(())
    }

    /// Searches the blocks after the cursor for our unconfirmed
    /// transactions.
    async fn scan_blocks(&mut self, tip: BlockRef, events: &mut Vec<AnchorEvent>) -> Result<()> {
        let mut cursor = match self.state.scanned {
            Some(c) => c,
            None => {
                let height = tip.height.saturating_sub(SCAN_LOOKBACK);
                BlockRef {
                    height,
                    hash: self.rpc.get_block_hash(height).await?,
                }
            }
        };
        let last = tip.height.min(cursor.height + MAX_SCAN_PER_TICK);
        while cursor.height < last {
            let height = cursor.height + 1;
            let hash = self.rpc.get_block_hash(height).await?;
            let block = self.rpc.get_block_info(&hash).await?;
            if block.previousblockhash != Some(cursor.hash) {
                // The chain moved under us; the next tick rewinds.
                break;
            }
            for anchor in &mut self.state.anchors {
                if !matches!(anchor.phase, Phase::Unconfirmed) {
                    continue;
                }
                let txids = anchor.txids();
                let Some(txid) = block.tx.iter().find(|t| txids.contains(t)) else {
                    continue;
                };
                tracing::info!(target: "pantheon::anchor", %txid, block = %hash, height, "anchor in block");
                anchor.phase = Phase::InBlock {
                    txid: *txid,
                    block_hash: hash,
                    block_height: height,
                };
                let depth = (tip.height + 1).saturating_sub(height);
                if depth >= u64::from(self.policy.confirmations) {
                    anchor.reported = true;
                    events.push(AnchorEvent::Confirmed {
                        target: anchor.target,
                        txid: *txid,
                        block_hash: hash,
                        block_height: height,
                        confirmations: depth,
                    });
                }
            }
            cursor = BlockRef { height, hash };
            self.state.scanned = Some(cursor);
            self.dirty = true;
        }
        Ok(())
    }
}
