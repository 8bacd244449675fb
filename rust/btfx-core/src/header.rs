//! `struct btf_header` parsing and the section-layout rules (docs/rules.md H1-H10, S1-S2, L1,
//! T0).

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
    /// Parses and checks the header and section layout of a raw BTF blob, in the
    /// kernel's order (`btf_parse_hdr`, `btf_check_sec_info`, `btf_parse_str_sec`, the
    /// start of `btf_parse_type_sec`), worded as the kernel logs it (docs/rules.md §1).
    pub fn parse(data: &[u8], is_split: bool) -> Result<(Header, ByteOrder)> {
        let hdr = Section::Header;
        if data.len() < 8 {
            let msg = format!("hdr_len not found ({} bytes of data)", data.len());
            return Err(Error::format_at(hdr, None, 4, msg));
        }
        // The byte order comes from the magic, so it is checked before hdr_len is read.
        let order = match data {
            [0x9f, 0xeb, ..] => ByteOrder::Little,
            [0xeb, 0x9f, ..] => ByteOrder::Big,
            _ => return Err(Error::format_at(hdr, None, 0, "Invalid magic")),
        };
        let hdr_len = order.u32_at(data, 4);
        if u64::from(hdr_len) > data.len() as u64 {
            let msg = format!("btf_header not found (hdr_len {hdr_len}, {} bytes)", data.len());
            return Err(Error::format_at(hdr, None, 4, msg));
        }
        // Header bytes past the fields this hdr_len holds must be zero: the layout
        // fields exist only in a 32-byte header.
        let known = if hdr_len >= HDR_LEN_LAYOUT { HDR_LEN_LAYOUT } else { HDR_LEN_V1 };
        let tail = data.get(known as usize..hdr_len as usize).unwrap_or(&[]);
        if let Some(pos) = tail.iter().position(|&b| b != 0) {
            let at = u64::from(known) + pos as u64;
            let msg = "Unsupported btf_header (non-zero byte past the known fields)";
            return Err(Error::format_at(hdr, None, at, msg));
        }
        // The kernel copies the first hdr_len bytes into its header and reads zeros for
        // any field past them.
        let mut image = [0u8; HDR_LEN_LAYOUT as usize];
        let copied = hdr_len.min(HDR_LEN_LAYOUT) as usize;
        image[..copied].copy_from_slice(&data[..copied]);
        if image[..2] != data[..2] {
            return Err(Error::format_at(hdr, None, 0, "Invalid magic"));
        }
        let version = image[2];
        if version != 1 {
            let msg = format!("Unsupported version ({version})");
            return Err(Error::format_at(hdr, None, 2, msg));
        }
        let flags = image[3];
        if flags != 0 {
            return Err(Error::format_at(hdr, None, 3, format!("Unsupported flags ({flags:#x})")));
        }
        if !is_split && data.len() as u64 == u64::from(hdr_len) {
            return Err(Error::format_at(hdr, None, 4, "No data"));
        }
        let w = |off: usize| order.u32_at(&image, off);
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
        let avail = data.len() as u64 - u64::from(hdr_len);
        h.check_sections(avail)?;
        h.check_strings(data, avail, is_split)?;
        h.check_layout()?;
        if !h.type_off.is_multiple_of(4) {
            return Err(Error::format_at(Section::Types, None, 8, "Unaligned type_off"));
        }
        // A header without all the classic fields gets this far when its zero-read fields
        // still tile (split BTF without strings; hdr_len 21-23 with the low bytes of a
        // short str_len): the kernel takes it, btfx refuses it (H10).
        if hdr_len < HDR_LEN_V1 {
            let msg = format!("Invalid hdr_len ({hdr_len}, below {HDR_LEN_V1})");
            return Err(Error::format_at(hdr, None, 4, msg));
        }
        Ok((h, order))
    }

    /// The layout section as (offset, length) when present.
    pub fn layout(&self) -> Option<(u32, u32)> {
        match (self.layout_off, self.layout_len) {
            (Some(off), Some(len)) if len != 0 => Some((off, len)),
            _ => None,
        }
    }

    /// `btf_check_sec_info`: the sections, empty ones included, sorted by offset, must
    /// tile the `avail` bytes after the header exactly.
    fn check_sections(&self, avail: u64) -> Result<()> {
        let layout = self.layout();
        let (layout_off, layout_len) = layout.unwrap_or_default();
        let mut secs = [
            (self.type_off, self.type_len, Section::Types),
            (self.str_off, self.str_len, Section::Strings),
            (layout_off, layout_len, Section::Layout),
        ];
        let secs = &mut secs[..if layout.is_some() { 3 } else { 2 }];
        sort_sections(secs);
        let mut total = 0u64;
        for &(off, len, sec) in secs.iter() {
            let (off, len) = (u64::from(off), u64::from(len));
            let fault = if off > avail {
                format!("Invalid section offset ({sec} at {off}; {avail} bytes follow the header)")
            } else if off > total {
                format!("Unsupported section found (gap before {sec})")
            } else if off < total {
                format!("Section overlap found ({sec} at {off}; the one before ends at {total})")
            } else if len > avail - total {
                let what = format!("{sec} at {off}+{len}; {avail} bytes follow the header");
                format!("Total section length too long ({what})")
            } else {
                total += len;
                continue;
            };
            return Err(Error::format(sec, fault));
        }
        if total != avail {
            let msg = "Unsupported section found (data after the last section)";
            return Err(Error::format_at(
                Section::Header,
                None,
                u64::from(self.hdr_len) + total,
                msg,
            ));
        }
        Ok(())
    }

    /// `btf_parse_str_sec`.
    fn check_strings(&self, data: &[u8], avail: u64, is_split: bool) -> Result<()> {
        let (off, len) = (u64::from(self.str_off), u64::from(self.str_len));
        let start = u64::from(self.hdr_len) + off;
        // Without the layout fields nothing may follow the strings.
        if self.hdr_len < HDR_LEN_LAYOUT && off + len != avail {
            return Err(Error::format_at(
                Section::Strings,
                None,
                start,
                "String section is not at the end",
            ));
        }
        if is_split && len == 0 {
            return Ok(());
        }
        let strs = data.get(start as usize..(start + len) as usize).unwrap_or(&[]);
        let bad = |at: u64, why: &str| {
            let msg = format!("Invalid string section ({why})");
            Err(Error::format_at(Section::Strings, None, at, msg))
        };
        match (strs.first(), strs.last()) {
            (None, _) => bad(start, "empty"),
            (_, Some(&last)) if last != 0 => bad(start + len - 1, "not NUL-terminated"),
            // A base BTF's string section starts with the empty string.
            (Some(&first), _) if first != 0 && !is_split => {
                bad(start, "does not start with NUL: split BTF without its base?")
            }
            _ => Ok(()),
        }
    }

    /// `btf_parse_layout_sec`: a present layout section is made of 4-byte entries.
    fn check_layout(&self) -> Result<()> {
        let Some((off, len)) = self.layout() else {
            return Ok(());
        };
        if !off.is_multiple_of(4) {
            return Err(Error::format_at(Section::Layout, None, 24, "Unaligned layout_off"));
        }
        if !len.is_multiple_of(4) {
            let msg = "Invalid layout_len: not a multiple of 4";
            return Err(Error::format_at(Section::Layout, None, 28, msg));
        }
        Ok(())
    }
}

/// Sorts sections as `btf_check_sec_info` does: by offset, then length. With two
/// sections the kernel's comparison (`btf_sec_info_cmp`: an `int` of the u32
/// difference) decides, even where that wraps; three exist only with the layout
/// section, and those are sorted as numbers.
fn sort_sections(secs: &mut [(u32, u32, Section)]) {
    if let [a, b] = secs {
        let diff = |x: u32, y: u32| x.wrapping_sub(y) as i32;
        let a_first = match diff(a.0, b.0) {
            0 => diff(a.1, b.1) < 0,
            d => d < 0,
        };
        if !a_first {
            std::mem::swap(a, b);
        }
        return;
    }
    secs.sort_by_key(|s| (s.0, s.1));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian blob: header (zero-padded to `hdr_len`), then `body`.
    fn blob(hdr_len: u32, fields: [u32; 4], body: &[u8]) -> Vec<u8> {
        let mut out = vec![0x9f, 0xeb, 1, 0];
        out.extend(hdr_len.to_le_bytes());
        fields.iter().for_each(|f| out.extend(f.to_le_bytes()));
        out.resize(hdr_len as usize, 0);
        out.extend_from_slice(body);
        out
    }

    fn message(data: &[u8], is_split: bool) -> String {
        Header::parse(data, is_split).unwrap_err().to_string()
    }

    const INT: [u8; 16] = [1, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 32, 0, 0, 0];

    fn int_and_strings() -> Vec<u8> {
        [&INT[..], b"\0a\0"].concat()
    }

    #[test]
    fn any_hdr_len_with_a_zero_tail() {
        for hdr_len in [24, 25, 28, 31, 32, 33, 36, 40] {
            let data = blob(hdr_len, [0, 16, 16, 3], &int_and_strings());
            let (h, _) = Header::parse(&data, false).unwrap();
            assert_eq!((h.hdr_len, h.layout_off.is_some()), (hdr_len, hdr_len >= 32));
            let mut bad = data.clone();
            bad[hdr_len as usize - 1] = 1;
            let why = message(&bad, false);
            if hdr_len > 24 && hdr_len != 32 {
                assert!(why.starts_with("Unsupported btf_header"), "{hdr_len}: {why}");
            } else if hdr_len == 24 {
                // the last byte of str_len: the strings run past the data
                assert!(why.starts_with("Total section length too long"), "{why}");
            } else {
                // the last byte of layout_len: a layout section at 0, over the types
                assert!(why.starts_with("Section overlap found (layout at 0"), "{why}");
            }
        }
        // Shorter than 24 bytes: the kernel's zeros for the missing fields, then refused.
        let short = |hdr_len: usize, fields, body: &[u8]| {
            let mut data = blob(24, fields, &[]);
            data.truncate(hdr_len);
            data[4] = hdr_len as u8;
            [&data[..], body].concat()
        };
        let ptr = [0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0];
        let data = short(16, [0, 12, 0, 0], &ptr); // strings (0, 0): not at the end
        assert_eq!(message(&data, false), "String section is not at the end");
        let data = short(20, [0, 12, 12, 0], &ptr); // split, no strings: tiles
        assert_eq!(message(&data, true), "Invalid hdr_len (20, below 24)");
        let mut data = short(8, [0; 4], &ptr);
        data[4] = 0; // hdr_len 0: not even the magic is copied
        assert_eq!(message(&data, true), "Invalid magic");
    }

    /// Empty sections take part in the tiling (`btf_check_sec_info`).
    #[test]
    fn empty_sections_count() {
        let strs = b"\0a\0";
        assert!(
            message(&blob(24, [100, 0, 0, 3], strs), false).starts_with("Invalid section offset")
        );
        assert!(message(&blob(24, [2, 0, 0, 3], strs), false).starts_with("Section overlap found"));
        assert_eq!(message(&blob(24, [3, 0, 0, 3], strs), false), "Unaligned type_off");
        Header::parse(&blob(24, [0, 0, 0, 3], strs), false).unwrap();
        // split BTF without strings, their offset where the types start: it tiles, but
        // the string section is not last
        let data = blob(24, [0, 12, 0, 0], &INT[..12]);
        assert_eq!(message(&data, true), "String section is not at the end");
        assert_eq!(message(&blob(24, [0; 4], &[]), false), "No data");
        Header::parse(&blob(24, [0; 4], &[]), true).unwrap();
    }

    /// Two sections are ordered by the kernel's `int` of the u32 difference, even where it
    /// wraps; equal ones swap.
    #[test]
    fn two_sections_sort_as_the_kernel_compares() {
        let order = |a: (u32, u32), b: (u32, u32)| {
            let mut s = [(a.0, a.1, Section::Types), (b.0, b.1, Section::Strings)];
            sort_sections(&mut s);
            s[0].2
        };
        assert_eq!(order((0, 16), (16, 3)), Section::Types);
        assert_eq!(order((16, 3), (0, 16)), Section::Strings);
        assert_eq!(order((0, 0), (0, 3)), Section::Types); // then by length
        assert_eq!(order((0, 5), (0, 5)), Section::Strings); // equal: swapped
                                                             // 0 - 0x8000_0000 and 0x8000_0000 - 0 are both i32::MIN: the first stays first.
        assert_eq!(order((0x8000_0000, 1), (0, 1)), Section::Types);
        assert_eq!(order((0, 1), (0x8000_0000, 1)), Section::Types);
    }
}
