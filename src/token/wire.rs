//! Byte-level reading and writing of token fields: LEB128 variable-length integers and
//! fixed-width little-endian integers.
//!
//! Decoding is strict so that one token has exactly one byte form: a varint with a redundant
//! trailing zero group, or one that overflows its type, is refused.

use super::TokenError;

/// Appends fields to a token under construction.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Writer {
            bytes: Vec::with_capacity(capacity),
        }
    }

    #[inline]
    pub(crate) fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    #[inline]
    pub(crate) fn u16_le(&mut self, value: u16) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    #[inline]
    pub(crate) fn u64_le(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    /// Unsigned LEB128: 7 bits a byte, low groups first, high bit set on all but the last.
    #[inline]
    pub(crate) fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    /// Signed integers zig-zag mapped (0, -1, 1, -2, …) so small magnitudes stay short.
    #[inline]
    pub(crate) fn zigzag(&mut self, value: i64) {
        self.varint(((value << 1) ^ (value >> 63)) as u64);
    }

    pub(crate) fn bytes(&mut self, value: &[u8]) {
        self.bytes.extend_from_slice(value);
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads fields from a token's bytes, front to back.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, TokenError> {
        let (&first, rest) = self
            .rest
            .split_first()
            .ok_or(TokenError::Truncated(field))?;
        self.rest = rest;
        Ok(first)
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], TokenError> {
        if self.rest.len() < n {
            return Err(TokenError::Truncated(field));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    #[inline]
    pub(crate) fn u16_le(&mut self, field: &'static str) -> Result<u16, TokenError> {
        let b = self.take(2, field)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    #[inline]
    pub(crate) fn u64_le(&mut self, field: &'static str) -> Result<u64, TokenError> {
        let b = self.take(8, field)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(b);
        Ok(u64::from_le_bytes(array))
    }

    #[inline]
    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u64, TokenError> {
        if let Some((&first, rest)) = self.rest.split_first()
            && first < 0x80
        {
            self.rest = rest;
            return Ok(u64::from(first));
        }
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.u8(field)?;
            let group = u64::from(byte & 0x7f);
            if i == 9 && byte > 1 {
                return Err(TokenError::InvalidField(field));
            }
            value |= group << (7 * i);
            if byte & 0x80 == 0 {
                if byte == 0 && i > 0 {
                    // A redundant zero group: not the shortest form.
                    return Err(TokenError::InvalidField(field));
                }
                return Ok(value);
            }
        }
        Err(TokenError::InvalidField(field))
    }

    #[inline]
    pub(crate) fn varint_u32(&mut self, field: &'static str) -> Result<u32, TokenError> {
        u32::try_from(self.varint(field)?).map_err(|_| TokenError::InvalidField(field))
    }

    #[inline]
    pub(crate) fn zigzag(&mut self, field: &'static str) -> Result<i64, TokenError> {
        let raw = self.varint(field)?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_group_edges() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut w = Writer::default();
            w.varint(value);
            let mut r = Reader::new(w.as_slice());
            assert_eq!(r.varint("v").unwrap(), value);
            assert!(r.is_empty());
        }
        for value in [0, -1, 1, -64, 64, i64::MIN, i64::MAX] {
            let mut w = Writer::default();
            w.zigzag(value);
            assert_eq!(Reader::new(w.as_slice()).zigzag("z").unwrap(), value);
        }
    }

    #[test]
    fn varints_refuse_overlong_overflowing_and_truncated() {
        assert_eq!(
            Reader::new(&[0x80, 0x00]).varint("v"),
            Err(TokenError::InvalidField("v"))
        );
        let too_big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(
            Reader::new(&too_big).varint("v"),
            Err(TokenError::InvalidField("v"))
        );
        assert_eq!(
            Reader::new(&[0x80]).varint("v"),
            Err(TokenError::Truncated("v"))
        );
        assert_eq!(
            Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x10]).varint_u32("v"),
            Err(TokenError::InvalidField("v"))
        );
    }
}
