//! Loading BTF from whatever a user hands over: raw BTF, an ELF file with `.BTF`
//! (modules, vmlinux, BPF objects), or an xz/zstd/gzip-compressed module.

use std::borrow::Cow;
use std::sync::Arc;

use crate::btf::{Blob, Btf};
use crate::compress;
use crate::elf;
use crate::error::{Error, Result};

/// Whether [`parse_any`] takes `data` as raw BTF (neither compressed nor ELF).
pub fn is_raw_btf(data: &[u8]) -> bool {
    compress::detect(data) == compress::Compression::None && !elf::is_elf(data)
}

/// Parses `blob` as raw BTF or as the `.BTF` of an (optionally compressed) ELF file.
///
/// ELF input is not copied: the result borrows the `.BTF` range of the blob. A module
/// with a distilled `.BTF.base` (and no `base` given) is parsed on top of it, as libbpf
/// `btf_parse_elf` does.
pub fn parse_any(blob: Blob, base: Option<Arc<Btf>>) -> Result<Btf> {
    let data: &[u8] = (*blob).as_ref();
    if is_raw_btf(data) {
        return Btf::parse(blob, base);
    }
    if compress::detect(data) != compress::Compression::None {
        let plain = match compress::decompress(data)? {
            Cow::Owned(v) => v,
            Cow::Borrowed(b) => b.to_vec(),
        };
        return parse_any(Arc::new(plain), base);
    }
    let found = elf::find_btf_sections(data)?;
    let start =
        usize::try_from(found.btf_offset).map_err(|_| Error::elf(".BTF offset too large"))?;
    let range = start..start + found.btf.len();
    let base = match (found.btf_base, base) {
        (None, base) => base,
        (Some(distilled), None) => Some(Arc::new(Btf::from_slice(distilled, None)?)),
        (Some(_), Some(_)) => {
            return Err(Error::elf_section(
                ".BTF.base",
                "module has distilled base BTF (.BTF.base); relocating it onto another base \
                 is not supported yet",
            ))
        }
    };
    let big_endian = found.big_endian;
    let btf = Btf::parse_in(blob.clone(), range, base)?;
    // A module's BTF must be in the ELF's byte order (cilium/ebpf `loadRawSpec` rule).
    if (btf.byte_order() == crate::ByteOrder::Big) != big_endian {
        return Err(Error::elf_section(".BTF", "BTF byte order does not match the ELF byte order"));
    }
    Ok(btf)
}
