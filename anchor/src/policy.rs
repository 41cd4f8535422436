//! The anchoring policy: network, depth, fees.

use bitcoin::{FeeRate, Network};

/// How the fee rate of a new anchor is chosen. Whatever the choice, it is
/// raised to bitcoind's current mempool minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeePolicy {
    /// Always this rate.
    Fixed(FeeRate),
    /// `estimatesmartfee target_blocks`, clamped to `[floor, cap]`; `floor`
    /// when bitcoind has no estimate (always on regtest).
    Estimate {
        /// The confirmation target in blocks.
        target_blocks: u16,
        /// The lowest rate used.
        floor: FeeRate,
        /// The highest rate used.
        cap: FeeRate,
    },
}

/// How the engine anchors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The Bitcoin network; bitcoind must run it.
    pub network: Network,
    /// Confirmations before an anchor is reported confirmed.
    pub confirmations: u32,
    /// The fee rate of new anchors.
    pub fee: FeePolicy,
    /// Blocks an anchor may stay unconfirmed before it is replaced with a
    /// higher fee (BIP 125).
    pub bump_after_blocks: u32,
    /// No replacement pays more than this rate.
    pub max_fee_rate: FeeRate,
    /// Confirmed anchors are watched for reorgs until this deep, then
    /// forgotten (kept only in the short history of the status).
    pub watch_depth: u32,
}

/// An invalid policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// `confirmations` is 0.
    #[error("anchor confirmations must be at least 1")]
    NoConfirmations,
    /// `bump_after_blocks` is 0.
    #[error("bump_after_blocks must be at least 1")]
    NoBumpDelay,
    /// `watch_depth` is below `confirmations`.
    #[error("watch_depth {watch_depth} is below the confirmations required ({confirmations})")]
    ShallowWatch {
        /// The watch depth.
        watch_depth: u32,
        /// The confirmations.
        confirmations: u32,
    },
    /// A floor above its cap, or a zero rate.
    #[error("fee policy: {0}")]
    Fee(&'static str),
}

impl Policy {
    /// The defaults for `network`: 1 confirmation and a fixed 1 sat/vB on
    /// regtest; elsewhere 6 confirmations and `estimatesmartfee 6` between
    /// 1 and 50 sat/vB. Replacement after 3 blocks, up to 100 sat/vB;
    /// reorgs watched for 100 blocks.
    #[must_use]
    pub const fn for_network(network: Network) -> Self {
        let regtest = matches!(network, Network::Regtest);
        Self {
            network,
            confirmations: if regtest { 1 } else { 6 },
            fee: if regtest {
                FeePolicy::Fixed(FeeRate::from_sat_per_vb_u32(1))
            } else {
                FeePolicy::Estimate {
                    target_blocks: 6,
                    floor: FeeRate::from_sat_per_vb_u32(1),
                    cap: FeeRate::from_sat_per_vb_u32(50),
                }
            },
            bump_after_blocks: 3,
            max_fee_rate: FeeRate::from_sat_per_vb_u32(100),
            watch_depth: 100,
        }
    }

    /// Checks the policy.
    ///
    /// # Errors
    /// [`PolicyError`].
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.confirmations == 0 {
            return Err(PolicyError::NoConfirmations);
        }
        if self.bump_after_blocks == 0 {
            return Err(PolicyError::NoBumpDelay);
        }
        if self.watch_depth < self.confirmations {
            return Err(PolicyError::ShallowWatch {
                watch_depth: self.watch_depth,
                confirmations: self.confirmations,
            });
        }
        match self.fee {
            FeePolicy::Fixed(rate) if rate == FeeRate::ZERO => {
                return Err(PolicyError::Fee("a fixed rate of 0"));
            }
            FeePolicy::Estimate { floor, cap, .. } if floor > cap => {
                return Err(PolicyError::Fee("floor above cap"));
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_per_network() {
        let regtest = Policy::for_network(Network::Regtest);
        assert_eq!(regtest.confirmations, 1);
        assert!(regtest.validate().is_ok());
        for network in [Network::Signet, Network::Testnet4, Network::Bitcoin] {
            let p = Policy::for_network(network);
            assert_eq!(p.confirmations, 6);
            assert!(matches!(p.fee, FeePolicy::Estimate { .. }));
            assert!(p.validate().is_ok());
        }
    }

    #[test]
    fn rejects_nonsense() {
        let mut p = Policy::for_network(Network::Regtest);
        p.confirmations = 0;
        assert_eq!(p.validate(), Err(PolicyError::NoConfirmations));
        let mut p = Policy::for_network(Network::Signet);
        p.watch_depth = 2;
        assert!(matches!(
            p.validate(),
            Err(PolicyError::ShallowWatch { .. })
        ));
        p.watch_depth = 100;
        p.fee = FeePolicy::Estimate {
            target_blocks: 6,
            floor: FeeRate::from_sat_per_vb_u32(10),
            cap: FeeRate::from_sat_per_vb_u32(1),
        };
        assert!(matches!(p.validate(), Err(PolicyError::Fee(_))));
    }
}
