//! The one conversion between Bitcoin's ids and types and ours.
//!
//! `pantheon-runtime` keeps Bitcoin values as plain bytes
//! ([`BitcoinTxid`], [`BitcoinBlockHash`], both in Bitcoin's internal byte
//! order, and [`BitcoinNetwork`]) so that it needs no `bitcoin` crate; this
//! module is where they become `bitcoin`'s types and back, so that no
//! other module reverses or copies bytes by hand.

use bitcoin::hashes::Hash as _;
use bitcoin::{BlockHash, Network, Txid};
use pantheon_runtime::anchor::{BitcoinBlockHash, BitcoinNetwork, BitcoinTxid};

/// Our txid as `bitcoin`'s.
#[must_use]
pub fn txid(id: &BitcoinTxid) -> Txid {
    Txid::from_byte_array(*id.as_bytes())
}

/// `bitcoin`'s txid as ours.
#[must_use]
pub fn our_txid(id: &Txid) -> BitcoinTxid {
    BitcoinTxid::from_bytes(id.to_byte_array())
}

/// Our block hash as `bitcoin`'s.
#[must_use]
pub fn block_hash(hash: &BitcoinBlockHash) -> BlockHash {
    BlockHash::from_byte_array(*hash.as_bytes())
}

/// `bitcoin`'s block hash as ours.
#[must_use]
pub fn our_block_hash(hash: &BlockHash) -> BitcoinBlockHash {
    BitcoinBlockHash::from_bytes(hash.to_byte_array())
}

/// A genesis's Bitcoin network as `bitcoin`'s.
#[must_use]
pub const fn network(network: BitcoinNetwork) -> Network {
    match network {
        BitcoinNetwork::Bitcoin => Network::Bitcoin,
        BitcoinNetwork::Testnet4 => Network::Testnet4,
        BitcoinNetwork::Signet => Network::Signet,
        BitcoinNetwork::Regtest => Network::Regtest,
    }
}

/// `bitcoin`'s network as a genesis's (`None` for testnet3, which no
/// genesis names).
#[must_use]
pub const fn our_network(network: Network) -> Option<BitcoinNetwork> {
    match network {
        Network::Bitcoin => Some(BitcoinNetwork::Bitcoin),
        Network::Testnet4 => Some(BitcoinNetwork::Testnet4),
        Network::Signet => Some(BitcoinNetwork::Signet),
        Network::Regtest => Some(BitcoinNetwork::Regtest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip_and_keep_the_displayed_order() {
        let bytes: [u8; 32] = std::array::from_fn(|i| u8::try_from(i).unwrap_or(0));
        let ours = BitcoinTxid::from_bytes(bytes);
        assert_eq!(our_txid(&txid(&ours)), ours);
        assert_eq!(txid(&ours).to_string(), ours.to_string());
        let ours = BitcoinBlockHash::from_bytes(bytes);
        assert_eq!(our_block_hash(&block_hash(&ours)), ours);
        assert_eq!(block_hash(&ours).to_string(), ours.to_string());
        for n in BitcoinNetwork::ALL {
            assert_eq!(our_network(network(n)), Some(n));
            assert_eq!(
                network(n).to_core_arg(),
                if n == BitcoinNetwork::Bitcoin {
                    "main"
                } else {
                    n.name()
                }
            );
        }
    }
}
