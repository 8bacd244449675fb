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
