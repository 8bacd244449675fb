//! Byte-order aware reads and writes of the 32/16-bit words BTF is made of.

/// Byte order of a BTF blob, detected from its magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    pub const NATIVE: ByteOrder =
        if cfg!(target_endian = "big") { ByteOrder::Big } else { ByteOrder::Little };

    pub fn as_str(self) -> &'static str {
        match self {
            ByteOrder::Little => "little",
            ByteOrder::Big => "big",
        }
    }

    /// Reads a u32 at `off`; out-of-range reads give 0 (callers bounds-check first,
    /// this only guarantees no panic).
    #[inline]
    pub fn u32_at(self, bytes: &[u8], off: usize) -> u32 {
        match bytes.get(off..off.wrapping_add(4)) {
            Some(&[a, b, c, d]) => match self {
                ByteOrder::Little => u32::from_le_bytes([a, b, c, d]),
                ByteOrder::Big => u32::from_be_bytes([a, b, c, d]),
            },
            _ => 0,
        }
    }

    #[inline]
    pub fn u16_at(self, bytes: &[u8], off: usize) -> u16 {
        match bytes.get(off..off.wrapping_add(2)) {
            Some(&[a, b]) => match self {
                ByteOrder::Little => u16::from_le_bytes([a, b]),
                ByteOrder::Big => u16::from_be_bytes([a, b]),
            },
            _ => 0,
        }
    }

    #[inline]
    pub fn u32_bytes(self, v: u32) -> [u8; 4] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }

    #[inline]
    pub fn put_u32(self, out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&self.u32_bytes(v));
    }

    /// Writes a u32 in place at `off` if it fits.
    #[inline]
    pub fn set_u32(self, bytes: &mut [u8], off: usize, v: u32) {
        if let Some(dst) = bytes.get_mut(off..off.wrapping_add(4)) {
            dst.copy_from_slice(&self.u32_bytes(v));
        }
    }
}

/// Byte-order specialised word reads and writes, for hot loops monomorphised per order
/// (validation, shift rebase): [`Le`] and [`Be`].
pub(crate) trait Rd: Sync {
    fn word(b: [u8; 4]) -> u32;
    fn bytes(v: u32) -> [u8; 4];

    /// Word at byte `off` of `s` (0 past the end).
    #[inline(always)]
    fn u32(s: &[u8], off: usize) -> u32 {
        match s.get(off..off.wrapping_add(4)) {
            Some(&[a, b, c, d]) => Self::word([a, b, c, d]),
            _ => 0,
        }
    }

    /// Stores `v` at byte `off` of `s` (nothing past the end).
    #[inline(always)]
    fn set_u32(s: &mut [u8], off: usize, v: u32) {
        if let Some(dst) = s.get_mut(off..off.wrapping_add(4)) {
            dst.copy_from_slice(&Self::bytes(v));
        }
    }

    /// Word `i` of a fixed-size chunk.
    #[inline(always)]
    fn at<const N: usize>(c: &[u8; N], i: usize) -> u32 {
        Self::word([c[4 * i], c[4 * i + 1], c[4 * i + 2], c[4 * i + 3]])
    }
}

pub(crate) struct Le;
pub(crate) struct Be;

impl Rd for Le {
    #[inline(always)]
    fn word(b: [u8; 4]) -> u32 {
        u32::from_le_bytes(b)
    }
    #[inline(always)]
    fn bytes(v: u32) -> [u8; 4] {
        v.to_le_bytes()
    }
}

impl Rd for Be {
    #[inline(always)]
    fn word(b: [u8; 4]) -> u32 {
        u32::from_be_bytes(b)
    }
    #[inline(always)]
    fn bytes(v: u32) -> [u8; 4] {
        v.to_be_bytes()
    }
}
