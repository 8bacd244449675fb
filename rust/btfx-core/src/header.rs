//! `struct btf_header` parsing and the section-layout rules (docs/rules.md H1-H12, S1-S2).

use crate::endian::ByteOrder;
use crate::error::{Error, Result, Section};

/// `BTF_MAGIC`.
pub const MAGIC: u16 = 0xeb9f;
/// The classic header size.
pub const HDR_LEN_V1: u32 = 24;
/// The header size with the 2026 layout-section fields.
pub const HDR_LEN_LAYOUT: u32 = 32;

/// A parsed header. Offsets are relative to the end of the header, as in uapi.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub magic: u16,
    pub version: u8,
    pub flags: u8,
    pub hdr_len: u32,
    pub type_off: u32,
    pub type_len: u32,
    pub str_off: u32,
    pub str_len: u32,
    /// Present only when `hdr_len >= 32`.
    pub layout_off: Option<u32>,
    pub layout_len: Option<u32>,
}

impl Header {
    /// Parses and checks the header and section layout of a raw BTF blob
    /// (kernel `btf_parse_hdr` + `btf_check_sec_info`, libbpf `btf_parse_hdr`).
    pub fn parse(data: &[u8], is_split: bool) -> Result<(Header, ByteOrder)> {
        let hdr = Section::Header;
        if data.len() < HDR_LEN_V1 as usize {
            return Err(Error::format(hdr, "BTF too short for its header"));
        }
        let order = match (data[0], data[1]) {
            (0x9f, 0xeb) => ByteOrder::Little,
            (0xeb, 0x9f) => ByteOrder::Big,
            _ => return Err(Error::format_at(hdr, None, 0, "Invalid magic")),
        };
        let version = data[2];
        if version != 1 {
            return Err(Error::format_at(hdr, None, 2, format!("Unsupported version {version}")));
        }
        let flags = data[3];
        if flags != 0 {
            return Err(Error::format_at(hdr, None, 3, format!("Unsupported flags {flags:#x}")));
        }
        let w = |off: usize| order.u32_at(data, off);
        let hdr_len = w(4);
        if u64::from(hdr_len) > data.len() as u64 {
            return Err(Error::format_at(hdr, None, 4, "Header length exceeds data size"));
        }
        if !(hdr_len == HDR_LEN_V1 || (hdr_len >= HDR_LEN_LAYOUT && hdr_len.is_multiple_of(4))) {
            return Err(Error::format_at(
                hdr,
                None,
                4,
                format!("Unsupported header length {hdr_len}"),
            ));
        }
        // Bytes beyond the header fields we know must be zero ("Unsupported btf_header").
        let tail = data.get(HDR_LEN_LAYOUT as usize..hdr_len as usize).unwrap_or(&[]);
        if let Some(pos) = tail.iter().position(|&b| b != 0) {
            return Err(Error::format_at(
                hdr,
                None,
                (HDR_LEN_LAYOUT as usize + pos) as u64,
                "Unsupported btf_header: non-zero bytes after the known fields",
            ));
        }
        let has_layout_fields = hdr_len >= HDR_LEN_LAYOUT;
        let h = Header {
            magic: MAGIC,
            version,
            flags,
            hdr_len,
            type_off: w(8),
            type_len: w(12),
            str_off: w(16),
            str_len: w(20),
            layout_off: has_layout_fields.then(|| w(24)),
            layout_len: has_layout_fields.then(|| w(28)),
        };
        h.check_sections(data.len() as u64)?;
        h.check_strings(data, is_split)?;
        Ok((h, order))
    }

    /// The layout section as (offset, length) when present.
    pub fn layout(&self) -> Option<(u32, u32)> {
        match (self.layout_off, self.layout_len) {
            (Some(off), Some(len)) if len != 0 => Some((off, len)),
            _ => None,
        }
    }

    fn check_sections(&self, total: u64) -> Result<()> {
        let data_size = total - u64::from(self.hdr_len);
        if !self.type_off.is_multiple_of(4) {
            return Err(Error::format_at(Section::Types, None, 8, "Unaligned type_off"));
        }
        if let Some((off, len)) = self.layout() {
            if !off.is_multiple_of(4) {
                return Err(Error::format_at(Section::Layout, None, 24, "Unaligned layout_off"));
            }
            if !len.is_multiple_of(4) {
                return Err(Error::format_at(
                    Section::Layout,
                    None,
                    28,
                    "Invalid layout_len: not a multiple of 4",
                ));
            }
        }
        let mut secs: Vec<(u64, u64, Section)> = Vec::with_capacity(3);
        let mut add = |off: u32, len: u32, sec: Section| -> Result<()> {
            if len == 0 {
                return Ok(());
            }
            let (off, len) = (u64::from(off), u64::from(len));
            if off + len > data_size {
                return Err(Error::format(sec, format!("{sec} section runs past the end of data")));
            }
            secs.push((off, len, sec));
            Ok(())
        };
        add(self.type_off, self.type_len, Section::Types)?;
        if let Some((off, len)) = self.layout() {
            add(off, len, Section::Layout)?;
        }
        add(self.str_off, self.str_len, Section::Strings)?;
        secs.sort_by_key(|s| s.0);
        // The non-empty sections must tile the data exactly (`btf_check_sec_info`).
        let mut end = 0u64;
        for &(off, len, sec) in &secs {
            if off > end {
                return Err(Error::format(sec, "Unsupported section found: gap before section"));
            }
            if off < end {
                return Err(Error::format(sec, "Section overlap found"));
            }
            end = off + len;
        }
        // With the classic header the string section must come last (`btf_parse_str_sec`).
        if self.hdr_len == HDR_LEN_V1
            && self.str_len != 0
            && u64::from(self.str_off) + u64::from(self.str_len) != data_size
        {
            return Err(Error::format(Section::Strings, "String section is not at the end"));
        }
        if end != data_size {
            return Err(Error::format(
                Section::Header,
                "Unsupported section found: data after the last section",
            ));
        }
        Ok(())
    }

    fn check_strings(&self, data: &[u8], is_split: bool) -> Result<()> {
        let start = u64::from(self.hdr_len) + u64::from(self.str_off);
        let len = u64::from(self.str_len);
        let strs = data.get(start as usize..(start + len) as usize).unwrap_or(&[]);
        if let Some(&last) = strs.last() {
            if last != 0 {
                return Err(Error::format_at(
                    Section::Strings,
                    None,
                    start + len - 1,
                    "String section is not NUL-terminated",
                ));
            }
        }
        // A base BTF's string section starts with the empty string (`btf_parse_str_sec`).
        if !is_split && strs.first() != Some(&0) {
            return Err(Error::format_at(
                Section::Strings,
                None,
                start,
                "String section of base BTF must start with NUL (split BTF without its base?)",
            ));
        }
        Ok(())
    }
}
