//! Following Bitcoin: confirmations, reorgs, and finding our unconfirmed
//! transactions in new blocks without a wallet or `-txindex`. Part of the
//! pure core: every question goes through [`Run`]'s answers.

use bitcoin::Txid;

use super::core::{Flow, Run};
use super::state::{BlockRef, Phase};
use super::{AnchorEvent, MAX_SCAN_PER_TICK, SCAN_LOOKBACK};

impl Run<'_> {
    /// Updates confirmations and reorgs, and finds unconfirmed anchors in
    /// new blocks. Returns the txids of our transactions in the mempool.
    pub(super) fn follow_chain(&mut self, tip: BlockRef) -> Flow<Vec<Txid>> {
        self.check_blocks(tip)?;
        self.rewind_scan()?;
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
                if self.in_mempool(*txid)? {
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
            anchor.versions[v].accepted = true;
            anchor.sent_height.get_or_insert(tip.height);
        }
        if all_in_mempool {
            // A transaction in the mempool (read after the tip) is in no
            // block up to the tip, and neither is any conflicting version.
            self.state.scanned = Some(tip);
        } else {
            self.scan_blocks(tip)?;
        }
        Ok(in_mempool)
    }

    /// Confirmations and reorgs of anchors already in a block.
    fn check_blocks(&mut self, tip: BlockRef) -> Flow<()> {
        let mut index = 0;
        while index < self.state.anchors.len() {
            let Phase::InBlock {
                txid, block_hash, ..
            } = self.state.anchors[index].phase
            else {
                index += 1;
                continue;
            };
            let header = self.header(block_hash)?;
            let confirmations = self.policy().confirmations;
            let watch_depth = self.policy().watch_depth;
            let anchor = &mut self.state.anchors[index];
            let Some((depth, block_height)) = header.and_then(|h| {
                u64::try_from(h.confirmations)
                    .ok()
                    .map(|depth| (depth, h.height))
            }) else {
                // The block left the best chain.
                if anchor.reported {
                    self.events.push(AnchorEvent::Reorged {
                        target: anchor.target,
                        txid,
                        block_hash,
                    });
                }
                anchor.phase = Phase::Unconfirmed;
                anchor.reported = false;
                anchor.sent_height = Some(tip.height);
                index += 1;
                continue;
            };
            if depth >= u64::from(confirmations) && !anchor.reported {
                anchor.reported = true;
                self.events.push(AnchorEvent::Confirmed {
                    target: anchor.target,
                    txid,
                    block_hash,
                    block_height,
                    confirmations: depth,
                });
            }
            if depth >= u64::from(watch_depth) && anchor.reported {
                self.state.settle(index);
                continue;
            }
            index += 1;
        }
        Ok(())
    }

    /// Moves the scan cursor back to the best chain after a reorg.
    fn rewind_scan(&mut self) -> Flow<()> {
        while let Some(cursor) = self.state.scanned {
            let Some(header) = self.header(cursor.hash)? else {
                // Unknown block: search the last SCAN_LOOKBACK blocks.
                self.state.scanned = None;
                return Ok(());
            };
            if header.confirmations >= 0 {
                return Ok(());
            }
            self.state.scanned = header.previousblockhash.map(|prev| BlockRef {
                height: header.height.saturating_sub(1),
                hash: prev,
            });
        }
        Ok(())
    }

    /// Searches the blocks after the cursor for our unconfirmed
    /// transactions.
    fn scan_blocks(&mut self, tip: BlockRef) -> Flow<()> {
        let mut cursor = match self.state.scanned {
            Some(c) => c,
            None => {
                let height = tip.height.saturating_sub(SCAN_LOOKBACK);
                BlockRef {
                    height,
                    hash: self.block_hash(height)?,
                }
            }
        };
        let last = tip.height.min(cursor.height + MAX_SCAN_PER_TICK);
        let confirmations = u64::from(self.policy().confirmations);
        while cursor.height < last {
            let height = cursor.height + 1;
            let hash = self.block_hash(height)?;
            let block = self.block(hash)?;
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
                anchor.phase = Phase::InBlock {
                    txid: *txid,
                    block_hash: hash,
                    block_height: height,
                };
                let depth = (tip.height + 1).saturating_sub(height);
                if depth >= confirmations {
                    anchor.reported = true;
                    self.events.push(AnchorEvent::Confirmed {
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
        }
        Ok(())
    }
}
