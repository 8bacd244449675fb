//! Serializing BTF: canonical layout (header, types, layout, strings — libbpf
//! `btf_get_raw_data`) in either byte order.

use crate::btf::Btf;
use crate::endian::ByteOrder;
use crate::header::HDR_LEN_LAYOUT;

/// Writes a header for sections laid out canonically, keeping `hdr_len`.
pub fn write_header(
    out: &mut Vec<u8>,
    order: ByteOrder,
    hdr_len: u32,
    type_len: u32,
    layout_len: Option<u32>,
    str_len: u32,
) {
    write_header_keep(out, order, hdr_len, type_len, layout_len, None, str_len);
}

/// Like [`write_header`], but an absent layout section keeps `empty_layout_off` as its
/// offset (so that canonical input whose header says e.g. `layout_off = type_len,
/// layout_len = 0` round-trips byte for byte).
pub fn write_header_keep(
    out: &mut Vec<u8>,
    order: ByteOrder,
    hdr_len: u32,
    type_len: u32,
    layout_len: Option<u32>,
    empty_layout_off: Option<u32>,
    str_len: u32,
) {
    let start = out.len();
    match order {
        ByteOrder::Little => out.extend_from_slice(&[0x9f, 0xeb]),
        ByteOrder::Big => out.extend_from_slice(&[0xeb, 0x9f]),
    }
    out.push(1); // version
    out.push(0); // flags
    order.put_u32(out, hdr_len);
    order.put_u32(out, 0); // type_off
    order.put_u32(out, type_len);
    let layout = layout_len.unwrap_or(0);
    order.put_u32(out, type_len + layout); // str_off
    order.put_u32(out, str_len);
    if hdr_len >= HDR_LEN_LAYOUT {
        order.put_u32(out, if layout == 0 { empty_layout_off.unwrap_or(0) } else { type_len });
        order.put_u32(out, layout);
    }
    // The header's tail past its fields is zero (docs/rules.md H4).
    out.resize(start + hdr_len as usize, 0);
}

/// Copies `src` (a run of u32 words) into `out`, swapping each word if the orders differ.
pub fn put_words(out: &mut Vec<u8>, src: &[u8], swap: bool) {
    if !swap {
        out.extend_from_slice(src);
        return;
    }
    out.reserve(src.len());
    for w in src.chunks(4) {
        out.extend(w.iter().rev());
    }
}

impl Btf {
    /// Serializes this BTF's own part in `order` (default: its own byte order).
    ///
    /// For canonical input in its own order the output equals the input.
    pub fn to_bytes(&self, order: Option<ByteOrder>) -> Vec<u8> {
        let order = order.unwrap_or(self.byte_order());
        let swap = order != self.byte_order();
        let h = self.header();
        let types = self.type_section();
        let layout = self.layout_section();
        let strs = self.string_section();
        let layout_len = if h.hdr_len >= HDR_LEN_LAYOUT {
            Some(layout.map_or(0, |l| l.len() as u32))
        } else {
            None
        };
        let mut out = Vec::with_capacity(h.hdr_len as usize + types.len() + strs.len() + 64);
        write_header_keep(
            &mut out,
            order,
            h.hdr_len,
            types.len() as u32,
            layout_len,
            h.layout_off,
            strs.len() as u32,
        );
        // Every field of every type record is a 32-bit word.
        put_words(&mut out, types, swap);
        if let Some(l) = layout {
            // `struct btf_layout` {u8 info_sz, u8 elem_sz, u16 flags}: only flags swap.
            for e in l.chunks(4) {
                match (swap, e) {
                    (true, &[a, b, c, d]) => out.extend_from_slice(&[a, b, d, c]),
                    _ => out.extend_from_slice(e),
                }
            }
        }
        out.extend_from_slice(strs);
        out
    }
}
