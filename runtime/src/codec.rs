//! The canonical binary codec.
//!
//! One encoding per value, no options: integers are fixed-width big-endian,
//! fixed-size byte strings are written as is, variable-size ones carry a
//! length prefix whose width and maximum are fixed per field, sequences carry
//! a count with a fixed maximum, and an optional value is a `0x00`/`0x01` tag.
//! Every object that is signed or hashed on its own (transaction, block
//! header, vote, certificate, genesis header, account record) starts with a
//! version byte; `docs/FORMATS.md` lists them.
//!
//! Decoding untrusted bytes goes through [`decode_exact`], which refuses
//! input over the type's size limit, checks every length against its
//! maximum before allocating, and fails unless the whole input is consumed.
//! Because the encoding is canonical, `encode(decode(b)) == b` for every
//! accepted `b`.

/// Codec errors. Each carries enough to name the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ended before the value did.
    #[error("truncated: needed {needed} more bytes at offset {offset}")]
    Truncated {
        /// Offset where the read started.
        offset: usize,
        /// Bytes missing.
        needed: usize,
    },
    /// Bytes were left after the value.
    #[error("{count} trailing bytes after the value")]
    TrailingBytes {
        /// Number of unread bytes.
        count: usize,
    },
    /// The whole input is larger than the type allows.
    #[error("input of {size} bytes exceeds the limit of {limit}")]
    Oversize {
        /// Input size.
        size: usize,
        /// Limit for this type.
        limit: usize,
    },
    /// A length or count is above its field's maximum.
    #[error("{field}: length {len} exceeds the maximum {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// The length found.
        len: usize,
        /// The maximum allowed.
        max: usize,
    },
    /// The version byte is not one this code understands.
    #[error("{what}: unsupported version {version}")]
    UnsupportedVersion {
        /// The object.
        what: &'static str,
        /// The version found.
        version: u8,
    },
    /// A tag byte (enum discriminant, option flag) has no meaning.
    #[error("{field}: invalid tag {tag}")]
    InvalidTag {
        /// The field.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A value is well-formed but violates a rule of its type.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Codec result.
pub type Result<T> = std::result::Result<T, CodecError>;

/// A value with a canonical encoding.
pub trait Encode {
    /// Appends the canonical encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// The canonical encoding.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A value that can be read from its canonical encoding.
pub trait Decode: Sized {
    /// The largest encoding of this type; [`decode_exact`] refuses larger
    /// input before reading it.
    const MAX_SIZE: usize = usize::MAX;

    /// Reads one value from `r`.
    ///
    /// # Errors
    /// Any [`CodecError`].
    fn decode(r: &mut Reader<'_>) -> Result<Self>;
}

/// Decodes exactly one `T` from `bytes`: refuses oversize input and
/// trailing bytes.
///
/// # Errors
/// Any [`CodecError`].
pub fn decode_exact<T: Decode>(bytes: &[u8]) -> Result<T> {
    if bytes.len() > T::MAX_SIZE {
        return Err(CodecError::Oversize {
            size: bytes.len(),
            limit: T::MAX_SIZE,
        });
    }
    let mut r = Reader::new(bytes);
    let value = T::decode(&mut r)?;
    r.finish()?;
    Ok(value)
}

/// A cursor over untrusted bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `bytes`.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Bytes not yet read.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The current offset.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Fails unless every byte was read.
    ///
    /// # Errors
    /// [`CodecError::TrailingBytes`].
    pub fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(CodecError::TrailingBytes { count }),
        }
    }

    /// The next `n` bytes.
    ///
    /// # Errors
    /// [`CodecError::Truncated`].
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(CodecError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    ///
    /// # Errors
    /// [`CodecError::Truncated`].
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// One byte.
    ///
    /// # Errors
    /// [`CodecError::Truncated`].
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian `u16`.
    ///
    /// # Errors
    /// [`CodecError::Truncated`].
    pub fn u16(&mut self) -> Result<u16> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian `u32`.
    ///
    /// # Errors
    /// [`CodecError::Truncated`].
    pub fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// A big-endian `u64`.
    ///
    /// # Errors
    /// [`CodecError::Truncated`].
    pub fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_be_bytes)
    }

    /// A version byte that must equal `expected`.
    ///
    /// # Errors
    /// [`CodecError::UnsupportedVersion`].
    pub fn version(&mut self, what: &'static str, expected: u8) -> Result<()> {
        match self.u8()? {
            v if v == expected => Ok(()),
            version => Err(CodecError::UnsupportedVersion { what, version }),
        }
    }

    /// A count (`u16` or `u32` on the wire, per `wide`) no larger than `max`.
    ///
    /// # Errors
    /// [`CodecError::TooLong`] or [`CodecError::Truncated`].
    pub fn count(&mut self, field: &'static str, wide: bool, max: usize) -> Result<usize> {
        let len = if wide {
            self.u32()? as usize
        } else {
            usize::from(self.u16()?)
        };
        if len > max {
            return Err(CodecError::TooLong { field, len, max });
        }
        Ok(len)
    }

    /// A byte string with a one-byte length prefix, at most `max` long.
    ///
    /// # Errors
    /// [`CodecError::TooLong`] or [`CodecError::Truncated`].
    pub fn short_bytes(&mut self, field: &'static str, max: usize) -> Result<&'a [u8]> {
        let len = usize::from(self.u8()?);
        if len > max {
            return Err(CodecError::TooLong { field, len, max });
        }
        self.take(len)
    }

    /// An option tag: `0x00` for none, `0x01` for some.
    ///
    /// # Errors
    /// [`CodecError::InvalidTag`] or [`CodecError::Truncated`].
    pub fn option_tag(&mut self, field: &'static str) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(CodecError::InvalidTag { field, tag }),
        }
    }
}

/// Writes a byte string with a one-byte length prefix.
///
/// # Panics
/// If `bytes` is longer than 255; callers validate lengths at construction.
pub fn put_short_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u8::try_from(bytes.len()).expect("short byte strings are validated to <= 255 bytes");
    out.push(len);
    out.extend_from_slice(bytes);
}

/// Writes a `u16` count.
///
/// # Panics
/// If `n` exceeds `u16::MAX`; callers validate counts at construction.
pub fn put_count16(out: &mut Vec<u8>, n: usize) {
    let n = u16::try_from(n).expect("u16 counts are validated at construction");
    out.extend_from_slice(&n.to_be_bytes());
}

/// Writes a `u32` count.
///
/// # Panics
/// If `n` exceeds `u32::MAX`; callers validate counts at construction.
pub fn put_count32(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("u32 counts are validated at construction");
    out.extend_from_slice(&n.to_be_bytes());
}

impl Encode for u64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl Decode for u64 {
    const MAX_SIZE: usize = 8;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_rejects_truncation_and_trailing_bytes() {
        assert_eq!(
            decode_exact::<u64>(&[0; 7]),
            Err(CodecError::Truncated {
                offset: 0,
                needed: 1
            })
        );
        assert_eq!(
            decode_exact::<u64>(&[0; 9]),
            Err(CodecError::Oversize { size: 9, limit: 8 })
        );
        assert_eq!(decode_exact::<u64>(&[0, 0, 0, 0, 0, 0, 1, 2]), Ok(258));
    }

    #[test]
    fn short_bytes_enforces_max() {
        let mut r = Reader::new(&[3, 1, 2, 3]);
        assert_eq!(
            r.short_bytes("label", 2),
            Err(CodecError::TooLong {
                field: "label",
                len: 3,
                max: 2
            })
        );
    }
}
