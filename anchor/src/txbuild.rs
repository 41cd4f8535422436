//! Building and signing the anchor transaction.
//!
//! ```text
//! version 2, locktime 0
//! inputs   our P2WPKH coins, nSequence 0xfffffffd (BIP 125 replaceable)
//! output 0 value 0, OP_RETURN <PNTH 01 commitment>
//! output 1 change to our P2WPKH address (omitted, into the fee, if dust)
//! ```
//!
//! The fee is the fee rate times an upper bound of the signed size (a 72-byte
//! signature per input); signatures are ground to low R, so the real size is
//! never above the bound. One input with change weighs 629 WU: 158 vB.
//!
//! A replacement ([`build_replacement`]) spends exactly the same inputs, so
//! at most one version can ever confirm, and pays what BIP 125 asks: at
//! least the old fee plus the incremental relay fee rate times its own size.

use bitcoin::absolute::LockTime;
use bitcoin::consensus::encode;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::Message;
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, FeeRate, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};

use crate::key::AnchorKey;
use crate::payload::AnchorPayload;

/// The largest virtual size an anchor with one input and change may have.
pub const MAX_ONE_INPUT_VSIZE: u64 = 160;

/// Transaction building errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxBuildError {
    /// The coins do not cover the fee.
    #[error("coins worth {available} cannot pay the fee of {needed}")]
    InsufficientFunds {
        /// The fee needed.
        needed: Amount,
        /// What the coins are worth.
        available: Amount,
    },
    /// No input was given.
    #[error("an anchor transaction needs at least one input")]
    NoInputs,
    /// An amount overflowed (coins worth more than 21 million BTC).
    #[error("amount overflow")]
    Overflow,
    /// Signing failed (a sighash could not be computed).
    #[error("signing failed: {0}")]
    Signing(String),
}

/// A coin our key can spend: a confirmed P2WPKH output to our address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Coin {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value.
    pub value: Amount,
}

/// A signed anchor transaction and the fee it pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorTx {
    tx: Transaction,
    fee: Amount,
}

impl AnchorTx {
    /// Rebuilds from a signed transaction and the values of its inputs.
    ///
    /// # Errors
    /// [`TxBuildError::Overflow`] when the outputs exceed the inputs.
    pub fn from_parts(tx: Transaction, input_total: Amount) -> Result<Self, TxBuildError> {
        let out = tx
            .output
            .iter()
            .try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value))
            .ok_or(TxBuildError::Overflow)?;
        let fee = input_total.checked_sub(out).ok_or(TxBuildError::Overflow)?;
        Ok(Self { tx, fee })
    }

    /// The signed transaction.
    #[must_use]
    pub const fn tx(&self) -> &Transaction {
        &self.tx
    }

    /// Its txid.
    #[must_use]
    pub fn txid(&self) -> Txid {
        self.tx.compute_txid()
    }

    /// The fee paid.
    #[must_use]
    pub const fn fee(&self) -> Amount {
        self.fee
    }

    /// The virtual size in vB.
    #[must_use]
    pub fn vsize(&self) -> u64 {
        self.tx.vsize() as u64
    }

    /// The fee rate actually paid, rounded down.
    #[must_use]
    pub fn fee_rate(&self) -> FeeRate {
        // sat/kwu = fee * 1000 / weight
        let weight = self.tx.weight().to_wu().max(1);
        FeeRate::from_sat_per_kwu(self.fee.to_sat().saturating_mul(1000) / weight)
    }

    /// The full serialization (with witness), for `sendrawtransaction`.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        encode::serialize(&self.tx)
    }

    /// The inputs it spends.
    #[must_use]
    pub fn outpoints(&self) -> Vec<OutPoint> {
        self.tx.input.iter().map(|i| i.previous_output).collect()
    }
}

/// The fee for `vsize` vB at `rate`, rounded up.
#[must_use]
pub fn fee_for(rate: FeeRate, vsize: u64) -> Amount {
    // sat/kwu * vB * 4 WU/vB / 1000, rounded up.
    let numerator = u128::from(rate.to_sat_per_kwu()) * u128::from(vsize) * 4;
    let sat = numerator.div_ceil(1000);
    Amount::from_sat(u64::try_from(sat).unwrap_or(u64::MAX))
}

/// An upper bound of the virtual size of an anchor with `inputs` P2WPKH
/// inputs, with or without a change output.
#[must_use]
pub fn estimate_vsize(inputs: usize, change: bool) -> u64 {
    let n = inputs as u64;
    let count_len = |c: u64| if c < 0xfd { 1 } else { 3 };
    // version, input count, inputs (outpoint 36, empty script 1, sequence 4),
    // output count, OP_RETURN output (value 8, script length 1, script 39),
    // change output (value 8, length 1, P2WPKH script 22), locktime.
    let outputs = if change { 2 } else { 1 };
    let base = 4
        + count_len(n)
        + 41 * n
        + count_len(outputs)
        + (8 + 1 + crate::payload::SCRIPT_LEN as u64)
        + if change { 8 + 1 + 22 } else { 0 }
        + 4;
    // marker and flag, then per input: item count, signature push (1 + 72),
    // public key push (1 + 33).
    let witness = 2 + n * (1 + 1 + 72 + 1 + 33);
    (base * 4 + witness).div_ceil(4)
}

/// Picks the coins to spend: largest first, until they pay for an anchor
/// without change at `rate`.
///
/// # Errors
/// [`TxBuildError::InsufficientFunds`] with the fee of a one-input anchor
/// when there are no coins, else with the fee of spending all of them.
pub fn select_coins(coins: &[Coin], rate: FeeRate) -> Result<Vec<Coin>, TxBuildError> {
    let mut sorted = coins.to_vec();
    sorted.sort_by(|a, b| b.value.cmp(&a.value).then(a.outpoint.cmp(&b.outpoint)));
    let mut total = Amount::ZERO;
    let mut picked = Vec::new();
    for coin in sorted {
        total = total
            .checked_add(coin.value)
            .ok_or(TxBuildError::Overflow)?;
        picked.push(coin);
        if total >= fee_for(rate, estimate_vsize(picked.len(), false)) {
            return Ok(picked);
        }
    }
    Err(TxBuildError::InsufficientFunds {
        needed: fee_for(rate, estimate_vsize(picked.len().max(1), false)),
        available: total,
    })
}

/// Builds and signs an anchor spending `inputs`, paying `rate`.
///
/// # Errors
/// [`TxBuildError`] when the inputs cannot pay the fee.
pub fn build_anchor(
    key: &AnchorKey,
    inputs: &[Coin],
    payload: &AnchorPayload,
    rate: FeeRate,
) -> Result<AnchorTx, TxBuildError> {
    build_with(key, inputs, payload, |vsize| fee_for(rate, vsize))
}

/// Builds and signs a BIP 125 replacement of `previous`: the same `inputs`,
/// a fee of at least `previous.fee() + incremental × vsize` and at least
/// `rate × vsize`.
///
/// # Errors
/// [`TxBuildError`] when the inputs cannot pay the higher fee.
pub fn build_replacement(
    key: &AnchorKey,
    previous: &AnchorTx,
    inputs: &[Coin],
    payload: &AnchorPayload,
    rate: FeeRate,
    incremental: FeeRate,
) -> Result<AnchorTx, TxBuildError> {
    let old = previous.fee();
    build_with(key, inputs, payload, |vsize| {
        let bump = old
            .checked_add(fee_for(incremental, vsize))
            .unwrap_or(Amount::MAX);
        bump.max(fee_for(rate, vsize))
    })
}

fn build_with(
    key: &AnchorKey,
    inputs: &[Coin],
    payload: &AnchorPayload,
    required_fee: impl Fn(u64) -> Amount,
) -> Result<AnchorTx, TxBuildError> {
    if inputs.is_empty() {
        return Err(TxBuildError::NoInputs);
    }
    let total = inputs
        .iter()
        .try_fold(Amount::ZERO, |acc, c| acc.checked_add(c.value))
        .ok_or(TxBuildError::Overflow)?;
    let our_script = key.script_pubkey();
    let dust = our_script.minimal_non_dust();
    let fee_with_change = required_fee(estimate_vsize(inputs.len(), true));
    let change = total
        .checked_sub(fee_with_change)
        .filter(|change| *change >= dust);
    if change.is_none() {
        let needed = required_fee(estimate_vsize(inputs.len(), false));
        if total < needed {
            return Err(TxBuildError::InsufficientFunds {
                needed,
                available: total,
            });
        }
    }
    let mut output = vec![TxOut {
        value: Amount::ZERO,
        script_pubkey: payload.script_pubkey(),
    }];
    if let Some(value) = change {
        output.push(TxOut {
            value,
            script_pubkey: our_script.clone(),
        });
    }
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: inputs
            .iter()
            .map(|c| TxIn {
                previous_output: c.outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output,
    };
    sign(key, &mut tx, inputs, &our_script)?;
    AnchorTx::from_parts(tx, total)
}

fn sign(
    key: &AnchorKey,
    tx: &mut Transaction,
    inputs: &[Coin],
    our_script: &ScriptBuf,
) -> Result<(), TxBuildError> {
    let mut witnesses = Vec::with_capacity(inputs.len());
    {
        let mut cache = SighashCache::new(&*tx);
        for (index, coin) in inputs.iter().enumerate() {
            let sighash = cache
                .p2wpkh_signature_hash(index, our_script, coin.value, EcdsaSighashType::All)
                .map_err(|e| TxBuildError::Signing(e.to_string()))?;
            let message = Message::from_digest(sighash.to_byte_array());
            let signature = key.secp().sign_ecdsa_low_r(&message, key.secret());
            let signature = bitcoin::ecdsa::Signature {
                signature,
                sighash_type: EcdsaSighashType::All,
            };
            witnesses.push(Witness::p2wpkh(&signature, &key.public_secp()));
        }
    }
    for (input, witness) in tx.input.iter_mut().zip(witnesses) {
        input.witness = witness;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::SecretKey;
    use pantheon_runtime::hash::Hash256;

    fn key() -> AnchorKey {
        AnchorKey::from_secret(SecretKey::from_slice(&[7; 32]).unwrap())
    }

    fn coin(n: u8, sat: u64) -> Coin {
        Coin {
            outpoint: OutPoint {
                txid: Txid::from_byte_array([n; 32]),
                vout: u32::from(n),
            },
            value: Amount::from_sat(sat),
        }
    }

    fn payload() -> AnchorPayload {
        AnchorPayload::new(Hash256::digest(b"txbuild"))
    }

    #[test]
    fn one_input_with_change_is_at_most_160_vbytes() {
        let rate = FeeRate::from_sat_per_vb_u32(10);
        let anchor = build_anchor(&key(), &[coin(1, 100_000)], &payload(), rate).unwrap();
        let tx = anchor.tx();
        assert_eq!(tx.output.len(), 2);
        assert_eq!(tx.output[0].value, Amount::ZERO);
        assert_eq!(tx.output[0].script_pubkey, payload().script_pubkey());
        assert_eq!(tx.output[1].script_pubkey, key().script_pubkey());
        assert_eq!(tx.version, Version::TWO);
        assert!(tx.input[0].sequence.is_rbf());
        let vsize = anchor.vsize();
        assert!(vsize <= MAX_ONE_INPUT_VSIZE, "anchor is {vsize} vB");
        assert_eq!(vsize, 158);
        assert_eq!(tx.weight().to_wu(), 629);
        assert!(vsize <= estimate_vsize(1, true));
        assert_eq!(estimate_vsize(1, true), 158);
        assert_eq!(anchor.fee(), Amount::from_sat(1580));
        assert!(anchor.fee_rate() >= rate);
        // Non-witness size is above the 64/65-byte minimum.
        assert!(tx.base_size() > 65);
    }

    #[test]
    fn dust_change_goes_to_the_fee() {
        let rate = FeeRate::from_sat_per_vb_u32(1);
        // 158 sat fee with change: 300 sat leaves 142 < 294 dust.
        let anchor = build_anchor(&key(), &[coin(1, 300)], &payload(), rate).unwrap();
        assert_eq!(anchor.tx().output.len(), 1);
        assert_eq!(anchor.fee(), Amount::from_sat(300));
        assert!(anchor.vsize() <= estimate_vsize(1, false));
    }

    #[test]
    fn insufficient_funds_says_what_is_needed() {
        let rate = FeeRate::from_sat_per_vb_u32(10);
        let err = build_anchor(&key(), &[coin(1, 100)], &payload(), rate).unwrap_err();
        assert_eq!(
            err,
            TxBuildError::InsufficientFunds {
                needed: fee_for(rate, estimate_vsize(1, false)),
                available: Amount::from_sat(100)
            }
        );
        assert!(matches!(
            select_coins(&[], rate),
            Err(TxBuildError::InsufficientFunds { .. })
        ));
    }

    #[test]
    fn coin_selection_prefers_one_large_coin() {
        let rate = FeeRate::from_sat_per_vb_u32(2);
        let coins = [coin(1, 500), coin(2, 50_000), coin(3, 200)];
        let picked = select_coins(&coins, rate).unwrap();
        assert_eq!(picked, vec![coin(2, 50_000)]);
        let small = [coin(1, 200), coin(2, 200), coin(3, 200)];
        assert_eq!(select_coins(&small, rate).unwrap().len(), 2);
    }

    #[test]
    fn replacement_pays_bip125_fee_on_same_inputs() {
        let rate = FeeRate::from_sat_per_vb_u32(2);
        let inputs = [coin(1, 100_000)];
        let first = build_anchor(&key(), &inputs, &payload(), rate).unwrap();
        let incremental = FeeRate::from_sat_per_vb_u32(1);
        let second =
            build_replacement(&key(), &first, &inputs, &payload(), rate, incremental).unwrap();
        assert_ne!(first.txid(), second.txid());
        assert_eq!(first.outpoints(), second.outpoints());
        assert!(second.fee() >= first.fee() + fee_for(incremental, second.vsize()));
        assert!(second.fee_rate() > first.fee_rate());
    }

    #[test]
    fn fee_rounds_up() {
        let rate = FeeRate::from_sat_per_kwu(25); // 0.1 sat/vB
        assert_eq!(fee_for(rate, 158), Amount::from_sat(16));
        assert_eq!(fee_for(FeeRate::ZERO, 158), Amount::ZERO);
    }
}
