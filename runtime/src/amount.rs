//! PAN amounts and chain heights.
//!
//! PAN has a fixed supply of exactly 5,000,000,000 PAN, all allocated at
//! genesis. Amounts are integers of the smallest unit, 10^-9 PAN, so the
//! whole supply (5 * 10^18 units) fits in a `u64`. Arithmetic is `checked_*`
//! only: a total that cannot be represented is an error, never a wrap.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::codec::{self, Decode, Encode, Reader};

/// Smallest units per PAN.
pub const UNITS_PER_PAN: u64 = 1_000_000_000;

/// The total supply in whole PAN.
pub const SUPPLY_PAN: u64 = 5_000_000_000;

/// An amount of PAN in smallest units (10^-9 PAN).
///
/// Displayed and parsed as decimal PAN with up to nine fractional digits
/// (`"1.5"`, `"5000000000"`). Serialised in JSON as a decimal string of
/// smallest units, so JavaScript clients lose no precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(u64);

/// The total supply: exactly 5,000,000,000 PAN.
pub const SUPPLY: Amount = Amount(SUPPLY_PAN * UNITS_PER_PAN);

/// Errors of amount arithmetic and parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The result exceeds the representable range.
    #[error("amount overflow: {0} + {1} units")]
    Overflow(u64, u64),
    /// The result would be negative.
    #[error("amount underflow: {0} - {1} units")]
    Underflow(u64, u64),
    /// The text is not a decimal PAN amount.
    #[error("not a PAN amount (decimal with at most 9 fractional digits): {0:?}")]
    Parse(String),
}

impl Amount {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// An amount of `units` smallest units.
    #[must_use]
    pub const fn from_units(units: u64) -> Self {
        Self(units)
    }

    /// An amount of whole PAN, `None` if not representable.
    #[must_use]
    pub const fn from_pan(pan: u64) -> Option<Self> {
        match pan.checked_mul(UNITS_PER_PAN) {
            Some(units) => Some(Self(units)),
            None => None,
        }
    }

    /// Smallest units.
    #[must_use]
    pub const fn units(self) -> u64 {
        self.0
    }

    /// `self + rhs`.
    ///
    /// # Errors
    /// [`AmountError::Overflow`].
    pub fn checked_add(self, rhs: Self) -> Result<Self, AmountError> {
        self.0
            .checked_add(rhs.0)
            .map(Self)
            .ok_or(AmountError::Overflow(self.0, rhs.0))
    }

    /// `self - rhs`.
    ///
    /// # Errors
    /// [`AmountError::Underflow`].
    pub fn checked_sub(self, rhs: Self) -> Result<Self, AmountError> {
        self.0
            .checked_sub(rhs.0)
            .map(Self)
            .ok_or(AmountError::Underflow(self.0, rhs.0))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / UNITS_PER_PAN;
        let frac = self.0 % UNITS_PER_PAN;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:09}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AmountError::Parse(s.to_owned());
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(frac) || frac.len() > 9 {
            return Err(err());
        }
        if s.contains('.') && frac.is_empty() {
            return Err(err());
        }
        let whole: u64 = whole.parse().map_err(|_| err())?;
        let frac_units: u64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().map_err(|_| err())?
        };
        whole
            .checked_mul(UNITS_PER_PAN)
            .and_then(|w| w.checked_add(frac_units))
            .map(Self)
            .ok_or_else(err)
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A decimal string of smallest units, as [`Amount`]'s serde writes it.
impl schemars::JsonSchema for Amount {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Amount".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(0|[1-9][0-9]*)$",
            "description": "An amount of PAN in smallest units (10^-9 PAN), as a decimal string without sign or leading zeros (a u64)"
        })
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let canonical = !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text.len() == 1 || !text.starts_with('0'));
        if !canonical {
            return Err(serde::de::Error::custom(format!(
                "amount {text:?} is not a decimal number of smallest units without sign or leading zeros"
            )));
        }
        text.parse::<u64>()
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

impl Encode for Amount {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}

impl Decode for Amount {
    const MAX_SIZE: usize = 8;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        r.u64().map(Self)
    }
}

/// A block height. Genesis is height 0; the first block is height 1.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct Height(u64);

impl Height {
    /// The genesis height.
    pub const GENESIS: Self = Self(0);

    /// Wraps a height.
    #[must_use]
    pub const fn new(h: u64) -> Self {
        Self(h)
    }

    /// The number.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The next height.
    ///
    /// # Panics
    /// After 2^64 - 1 blocks, which cannot happen.
    #[must_use]
    pub fn next(self) -> Self {
        Self(
            self.0
                .checked_add(1)
                .expect("heights do not reach u64::MAX"),
        )
    }
}

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Encode for Height {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}

impl Decode for Height {
    const MAX_SIZE: usize = 8;
    fn decode(r: &mut Reader<'_>) -> codec::Result<Self> {
        r.u64().map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supply_is_five_billion_pan() {
        assert_eq!(SUPPLY.units(), 5_000_000_000_000_000_000);
        assert_eq!(SUPPLY.to_string(), "5000000000");
    }

    #[test]
    fn display_and_parse() {
        for (text, units) in [
            ("0", 0),
            ("1", UNITS_PER_PAN),
            ("1.5", 1_500_000_000),
            ("0.000000001", 1),
        ] {
            let a: Amount = text.parse().unwrap();
            assert_eq!(a.units(), units);
            assert_eq!(a.to_string(), text);
        }
        for bad in ["", ".5", "1.", "1.0000000001", "-1", "1e9", "18446744074"] {
            assert!(bad.parse::<Amount>().is_err(), "{bad}");
        }
    }

    #[test]
    fn json_amounts_are_canonical_decimal_units() {
        let ok: Amount = serde_json::from_str("\"1500000000\"").unwrap();
        assert_eq!(ok.units(), 1_500_000_000);
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"1500000000\"");
        for bad in ["\"+5\"", "\"05\"", "\"\"", "\"-1\"", "5", "\"1e3\""] {
            assert!(serde_json::from_str::<Amount>(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Amount>("\"0\"").is_ok());
    }

    #[test]
    fn checked_arithmetic() {
        assert!(
            Amount::from_units(u64::MAX)
                .checked_add(Amount::from_units(1))
                .is_err()
        );
        assert!(Amount::ZERO.checked_sub(Amount::from_units(1)).is_err());
    }
}
