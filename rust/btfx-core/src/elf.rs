//! Finding the BTF sections of an ELF file (vmlinux, kernel modules, BPF objects).
//!
//! ELF32 and ELF64, little and big endian, any `e_type` (ET_REL modules and BPF objects,
//! ET_EXEC vmlinux, ET_DYN). Parsing is done with the `object` crate's low-level ELF
//! reader; every offset and size taken from the file is bounds-checked, so malformed
//! input gives an [`Error::Elf`], never a panic. A signature trailer appended to a signed
//! module (`~Module signature appended~\n`) lies after everything the headers point at
//! and is ignored.

use object::elf;
use object::read::elf::{FileHeader, SectionHeader, SectionTable};
use object::Endianness;

use crate::error::{Error, Result};

/// Name of the section holding BTF.
pub const BTF_SECTION: &str = ".BTF";
/// Name of the section holding the distilled base BTF of a split module (kernel 6.12+).
pub const BTF_BASE_SECTION: &str = ".BTF.base";
/// Name of the section holding BTF.ext (func/line info of BPF objects).
pub const BTF_EXT_SECTION: &str = ".BTF.ext";

/// The BTF sections of an ELF file, borrowed from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfBtf<'a> {
    /// Contents of `.BTF`.
    pub btf: &'a [u8],
    /// Contents of `.BTF.base`, if the file has one.
    pub btf_base: Option<&'a [u8]>,
    /// Contents of `.BTF.ext`, if the file has one.
    pub btf_ext: Option<&'a [u8]>,
    /// File offset of `.BTF` (its `sh_offset`).
    pub btf_offset: u64,
    /// `EI_DATA == ELFDATA2MSB`.
    pub big_endian: bool,
    /// `EI_CLASS == ELFCLASS64`.
    pub is_64: bool,
    /// `e_type` (ET_REL = 1, ET_EXEC = 2, ET_DYN = 3, ...).
    pub elf_type: u16,
}

/// One section header, with all widths promoted to 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionInfo {
    /// `sh_offset`: file offset of the data (meaningless for SHT_NOBITS).
    pub offset: u64,
    /// `sh_size`.
    pub size: u64,
    /// `sh_addr`.
    pub addr: u64,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_addralign`.
    pub align: u64,
    /// `sh_link`.
    pub link: u32,
    /// `sh_info`.
    pub info: u32,
    /// `sh_entsize`.
    pub entsize: u64,
    /// Index in the section header table.
    pub index: usize,
}

impl SectionInfo {
    /// The bytes of this section in `data` (the same file it was read from).
    ///
    /// Errors for SHT_NOBITS (no bytes in the file) and for a range past the end of the
    /// file, like the kernel module loader's `elf_validity_check` ("section ... out of
    /// bounds") and libbpf's `elf_getdata` failure.
    pub fn data<'a>(&self, data: &'a [u8]) -> Result<&'a [u8]> {
        self.data_named(data, None)
    }

    /// [`SectionInfo::data`], with errors naming the section when its name is known.
    fn data_named<'a>(&self, data: &'a [u8], name: Option<&str>) -> Result<&'a [u8]> {
        if self.sh_type == elf::SHT_NOBITS {
            return Err(self.error(name, "section is SHT_NOBITS and has no data in the file"));
        }
        let end = self
            .offset
            .checked_add(self.size)
            .ok_or_else(|| self.error(name, "section offset + size overflows"))?;
        usize::try_from(self.offset)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(start, end)| data.get(start..end))
            .ok_or_else(|| {
                self.error(
                    name,
                    format!(
                        "section data [{:#x}, {:#x}) is past the end of the file ({:#x} bytes)",
                        self.offset,
                        end,
                        data.len()
                    ),
                )
            })
    }

    fn error(&self, name: Option<&str>, message: impl Into<String>) -> Error {
        let message = message.into();
        let message = match name {
            Some(n) => format!("{n}: {message}"),
            None => format!("section {}: {message}", self.index),
        };
        Error::Elf { message, section: name.map(str::to_owned), offset: Some(self.offset) }
    }
}

/// Whether `data` starts with the ELF magic `\x7fELF`.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(&elf::ELFMAG)
}

/// Find `.BTF` (required), `.BTF.base` and `.BTF.ext` (optional) in an ELF file.
///
/// The rules are those of libbpf's `btf_find_elf_sections()` (btf.c): every section
/// name must be readable from the section name string table, and a section with one of
/// the BTF names must be SHT_PROGBITS and have data. We are a little stricter: a name
/// that occurs twice is an error (libbpf keeps the last, the kernel's `find_sec` the
/// first), and a SHF_COMPRESSED BTF section is refused rather than handed on as
/// compressed bytes.
pub fn find_btf_sections(data: &[u8]) -> Result<ElfBtf<'_>> {
    if parse_ident(data)? {
        find_btf_in::<elf::FileHeader64<Endianness>>(data)
    } else {
        find_btf_in::<elf::FileHeader32<Endianness>>(data)
    }
}

/// The header of the first section called `name`, or `None` if there is none.
///
/// Sections whose names cannot be read are skipped here (unlike
/// [`find_btf_sections`]); a malformed ELF or section header table is an error.
pub fn section_by_name(data: &[u8], name: &str) -> Result<Option<SectionInfo>> {
    if parse_ident(data)? {
        section_by_name_in::<elf::FileHeader64<Endianness>>(data, name)
    } else {
        section_by_name_in::<elf::FileHeader32<Endianness>>(data, name)
    }
}

/// Index of the class byte in `e_ident`.
const EI_CLASS: usize = 4;
/// Index of the data-encoding byte in `e_ident`.
const EI_DATA: usize = 5;

/// Check the identification bytes (magic, class, data encoding); return whether
/// the file is ELF64.
pub(crate) fn parse_ident(data: &[u8]) -> Result<bool> {
    let header_error = |message: String| Error::Elf { message, section: None, offset: Some(0) };
    if !is_elf(data) {
        return Err(header_error("not an ELF file (no \\x7fELF magic)".into()));
    }
    let is_64 = match data.get(EI_CLASS) {
        Some(&elf::ELFCLASS32) => false,
        Some(&elf::ELFCLASS64) => true,
        Some(&c) => return Err(header_error(format!("unsupported ELF class {c}"))),
        None => return Err(header_error("truncated ELF identification".into())),
    };
    match data.get(EI_DATA) {
        Some(&elf::ELFDATA2LSB) | Some(&elf::ELFDATA2MSB) => Ok(is_64),
        Some(&d) => Err(header_error(format!("unsupported ELF data encoding {d}"))),
        None => Err(header_error("truncated ELF identification".into())),
    }
}

fn object_error(context: &str, offset: Option<u64>, e: object::read::Error) -> Error {
    Error::Elf { message: format!("{context}: {e}"), section: None, offset }
}

struct Parsed<'a, Elf: FileHeader<Endian = Endianness>> {
    header: &'a Elf,
    endian: Endianness,
    sections: SectionTable<'a, Elf, &'a [u8]>,
}

fn parse<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<Parsed<'_, Elf>> {
    let header = Elf::parse(data).map_err(|e| object_error("invalid ELF header", Some(0), e))?;
    let endian = header.endian().map_err(|e| object_error("invalid ELF header", Some(0), e))?;
    let shoff: u64 = header.e_shoff(endian).into();
    // Section header table and e_shstrndx checks, as in the module loader's
    // elf_validity_check(): entry size must match, the table must lie inside the file,
    // and the name string table index must be valid.
    let sections = header
        .sections(endian, data)
        .map_err(|e| object_error("invalid ELF section header table", Some(shoff), e))?;
    Ok(Parsed { header, endian, sections })
}

fn info_of<Elf: FileHeader<Endian = Endianness>>(
    endian: Endianness,
    index: usize,
    sh: &Elf::SectionHeader,
) -> SectionInfo {
    SectionInfo {
        offset: sh.sh_offset(endian).into(),
        size: sh.sh_size(endian).into(),
        addr: sh.sh_addr(endian).into(),
        flags: sh.sh_flags(endian).into(),
        sh_type: sh.sh_type(endian),
        align: sh.sh_addralign(endian).into(),
        link: sh.sh_link(endian),
        info: sh.sh_info(endian),
        entsize: sh.sh_entsize(endian).into(),
        index,
    }
}

fn section_by_name_in<Elf: FileHeader<Endian = Endianness>>(
    data: &[u8],
    name: &str,
) -> Result<Option<SectionInfo>> {
    let p = parse::<Elf>(data)?;
    Ok(p.sections
        .section_by_name(p.endian, name.as_bytes())
        .map(|(index, sh)| info_of::<Elf>(p.endian, index.0, sh)))
}

fn find_btf_in<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<ElfBtf<'_>> {
    let p = parse::<Elf>(data)?;
    let endian = p.endian;
    let mut btf: Option<(&[u8], u64)> = None;
    let mut btf_base: Option<&[u8]> = None;
    let mut btf_ext: Option<&[u8]> = None;

    // libbpf btf_find_elf_sections(): walk all sections after the null one; a section
    // whose name cannot be read fails the whole file.
    for (index, sh) in p.sections.enumerate().skip(1) {
        let info = info_of::<Elf>(endian, index.0, sh);
        let raw_name = p.sections.section_name(endian, sh).map_err(|e| Error::Elf {
            message: format!("section {}: cannot read its name: {e}", index.0),
            section: None,
            offset: Some(info.offset),
        })?;
        let (slot_name, is_btf) = match raw_name {
            b".BTF" => (BTF_SECTION, true),
            b".BTF.base" => (BTF_BASE_SECTION, false),
            b".BTF.ext" => (BTF_EXT_SECTION, false),
            _ => continue,
        };
        // libbpf: "unexpected section type (%d) of section(%d, %s)" unless SHT_PROGBITS.
        // This also rules out SHT_NOBITS, which has no bytes in the file.
        if info.sh_type != elf::SHT_PROGBITS {
            return Err(info.error(
                Some(slot_name),
                format!(
                    "section type is {} ({}), expected SHT_PROGBITS",
                    info.sh_type,
                    sh_type_name(info.sh_type)
                ),
            ));
        }
        if info.flags & u64::from(elf::SHF_COMPRESSED) != 0 {
            return Err(
                info.error(Some(slot_name), "SHF_COMPRESSED BTF sections are not supported")
            );
        }
        // libbpf: "failed to get section(%d, %s) data"; kernel elf_validity_check():
        // sh_offset + sh_size must not overflow nor pass the end of the file.
        let bytes = info.data_named(data, Some(slot_name))?;
        let duplicate = if is_btf {
            btf.replace((bytes, info.offset)).is_some()
        } else if slot_name == BTF_BASE_SECTION {
            btf_base.replace(bytes).is_some()
        } else {
            btf_ext.replace(bytes).is_some()
        };
        if duplicate {
            return Err(info.error(Some(slot_name), "more than one section has this name"));
        }
    }

    let (btf, btf_offset) =
        btf.ok_or_else(|| Error::elf_section(BTF_SECTION, "no .BTF section in the ELF file"))?;
    Ok(ElfBtf {
        btf,
        btf_base,
        btf_ext,
        btf_offset,
        big_endian: p.header.is_big_endian(),
        is_64: p.header.is_class_64(),
        elf_type: p.header.e_type(endian),
    })
}

fn sh_type_name(t: u32) -> &'static str {
    match t {
        elf::SHT_NULL => "SHT_NULL",
        elf::SHT_PROGBITS => "SHT_PROGBITS",
        elf::SHT_SYMTAB => "SHT_SYMTAB",
        elf::SHT_STRTAB => "SHT_STRTAB",
        elf::SHT_RELA => "SHT_RELA",
        elf::SHT_NOTE => "SHT_NOTE",
        elf::SHT_NOBITS => "SHT_NOBITS",
        elf::SHT_REL => "SHT_REL",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A section for the test ELF builder.
    #[derive(Clone)]
    struct Sec {
        name: &'static str,
        sh_type: u32,
        flags: u64,
        data: Vec<u8>,
        /// Override sh_offset / sh_size after layout (to make them bogus).
        offset: Option<u64>,
        size: Option<u64>,
    }

    fn sec(name: &'static str, data: &[u8]) -> Sec {
        Sec {
            name,
            sh_type: elf::SHT_PROGBITS,
            flags: 0,
            data: data.to_vec(),
            offset: None,
            size: None,
        }
    }

    struct Out {
        bytes: Vec<u8>,
        /// sh_offset of each input section (index i+1 in the file).
        offsets: Vec<u64>,
        shoff: usize,
        is_64: bool,
        be: bool,
    }

    impl Out {
        fn put(&mut self, at: usize, v: u64, width: usize) {
            let b = if self.be { v.to_be_bytes() } else { v.to_le_bytes() };
            let src = if self.be { &b[8 - width..] } else { &b[..width] };
            self.bytes[at..at + width].copy_from_slice(src);
        }
        /// Patch field `field` of section header `index` (offsets as in Elf64/Elf32_Shdr).
        fn patch_sh(&mut self, index: usize, field: &str, v: u64) {
            let (entsize, off, width) = match (self.is_64, field) {
                (true, "name") => (64, 0, 4),
                (true, "type") => (64, 4, 4),
                (true, "offset") => (64, 24, 8),
                (true, "size") => (64, 32, 8),
                (false, "name") => (40, 0, 4),
                (false, "type") => (40, 4, 4),
                (false, "offset") => (40, 16, 4),
                (false, "size") => (40, 20, 4),
                _ => unreachable!(),
            };
            let at = self.shoff + index * entsize + off;
            self.put(at, v, width);
        }
    }

    /// Hand-assemble an ELF file: header, section data, .shstrtab, section headers.
    fn build(is_64: bool, be: bool, e_type: u16, secs: &[Sec]) -> Out {
        let (ehsize, shentsize) = if is_64 { (64usize, 64usize) } else { (52, 40) };
        let mut out = Out { bytes: vec![0; ehsize], offsets: vec![], shoff: 0, is_64, be };
        // Section data, 8-aligned.
        for s in secs {
            while !out.bytes.len().is_multiple_of(8) {
                out.bytes.push(0);
            }
            out.offsets.push(out.bytes.len() as u64);
            if s.sh_type != elf::SHT_NOBITS {
                out.bytes.extend_from_slice(&s.data);
            }
        }
        // Name table.
        let mut strtab = vec![0u8];
        let mut name_offs = vec![];
        for name in secs.iter().map(|s| s.name).chain([".shstrtab"]) {
            name_offs.push(strtab.len() as u64);
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
        }
        let strtab_off = out.bytes.len();
        out.bytes.extend_from_slice(&strtab);
        while !out.bytes.len().is_multiple_of(8) {
            out.bytes.push(0);
        }
        out.shoff = out.bytes.len();
        let shnum = secs.len() + 2;
        out.bytes.resize(out.shoff + shnum * shentsize, 0);

        // ELF header.
        out.bytes[..4].copy_from_slice(&elf::ELFMAG);
        out.bytes[4] = if is_64 { elf::ELFCLASS64 } else { elf::ELFCLASS32 };
        out.bytes[5] = if be { elf::ELFDATA2MSB } else { elf::ELFDATA2LSB };
        out.bytes[6] = elf::EV_CURRENT;
        let machine = if is_64 { elf::EM_X86_64 } else { elf::EM_386 };
        out.put(16, e_type.into(), 2);
        out.put(18, machine.into(), 2);
        out.put(20, 1, 4);
        let shoff = out.shoff as u64;
        if is_64 {
            out.put(40, shoff, 8);
            out.put(52, ehsize as u64, 2);
            out.put(58, shentsize as u64, 2);
            out.put(60, shnum as u64, 2);
            out.put(62, (shnum - 1) as u64, 2);
        } else {
            out.put(32, shoff, 4);
            out.put(40, ehsize as u64, 2);
            out.put(46, shentsize as u64, 2);
            out.put(48, shnum as u64, 2);
            out.put(50, (shnum - 1) as u64, 2);
        }
        // Section headers (index 0 stays null).
        let write_sh =
            |out: &mut Out, i: usize, name: u64, t: u32, flags: u64, off: u64, size: u64| {
                let at = out.shoff + i * shentsize;
                if is_64 {
                    out.put(at, name, 4);
                    out.put(at + 4, t.into(), 4);
                    out.put(at + 8, flags, 8);
                    out.put(at + 24, off, 8);
                    out.put(at + 32, size, 8);
                    out.put(at + 48, 1, 8);
                } else {
                    out.put(at, name, 4);
                    out.put(at + 4, t.into(), 4);
                    out.put(at + 8, flags, 4);
                    out.put(at + 16, off, 4);
                    out.put(at + 20, size, 4);
                    out.put(at + 32, 1, 4);
                }
            };
        for (i, s) in secs.iter().enumerate() {
            let off = s.offset.unwrap_or(out.offsets[i]);
            let size = s.size.unwrap_or(s.data.len() as u64);
            write_sh(&mut out, i + 1, name_offs[i], s.sh_type, s.flags, off, size);
        }
        let last = secs.len();
        write_sh(
            &mut out,
            last + 1,
            name_offs[last],
            elf::SHT_STRTAB,
            0,
            strtab_off as u64,
            strtab.len() as u64,
        );
        out
    }

    const BTF: &[u8] = b"\x9f\xeb\x01\x00fake btf bytes";
    const BASE: &[u8] = b"\x9f\xeb\x01\x00base";
    const EXT: &[u8] = b"ext!";

    fn kinds() -> Vec<(bool, bool)> {
        vec![(false, false), (false, true), (true, false), (true, true)]
    }

    #[test]
    fn finds_btf_in_all_classes_and_endians() {
        for (is_64, be) in kinds() {
            for e_type in [elf::ET_REL, elf::ET_EXEC, elf::ET_DYN] {
                let secs = [sec(".text", b"\x90\x90"), sec(".BTF", BTF), sec(".BTF.base", BASE)];
                let out = build(is_64, be, e_type, &secs);
                let f = find_btf_sections(&out.bytes).unwrap();
                assert_eq!(f.btf, BTF);
                assert_eq!(f.btf_base, Some(BASE));
                assert_eq!(f.btf_ext, None);
                assert_eq!(f.btf_offset, out.offsets[1]);
                assert_eq!((f.is_64, f.big_endian, f.elf_type), (is_64, be, e_type));
                assert!(is_elf(&out.bytes));

                let info = section_by_name(&out.bytes, ".BTF").unwrap().unwrap();
                assert_eq!(info.index, 2);
                assert_eq!(info.offset, out.offsets[1]);
                assert_eq!(info.size, BTF.len() as u64);
                assert_eq!(info.sh_type, elf::SHT_PROGBITS);
                assert_eq!(info.align, 1);
                assert_eq!(info.data(&out.bytes).unwrap(), BTF);
                assert_eq!(section_by_name(&out.bytes, ".nope").unwrap(), None);
                let shstr = section_by_name(&out.bytes, ".shstrtab").unwrap().unwrap();
                assert_eq!(shstr.sh_type, elf::SHT_STRTAB);
            }
        }
    }

    #[test]
    fn btf_ext_and_trailing_signature() {
        let out = build(true, false, elf::ET_REL, &[sec(".BTF.ext", EXT), sec(".BTF", BTF)]);
        let mut bytes = out.bytes.clone();
        bytes.extend_from_slice(
            b"<pkcs7 blob>\0\0\0\x02\0\0\0\0\0\0\0\x0c~Module signature appended~\n",
        );
        let f = find_btf_sections(&bytes).unwrap();
        assert_eq!((f.btf, f.btf_ext, f.btf_base), (BTF, Some(EXT), None));
    }

    #[test]
    fn missing_btf() {
        for (is_64, be) in kinds() {
            let out = build(is_64, be, elf::ET_REL, &[sec(".text", b"x"), sec(".BTF.base", BASE)]);
            let e = find_btf_sections(&out.bytes).unwrap_err();
            match e {
                Error::Elf { section, .. } => assert_eq!(section.as_deref(), Some(".BTF")),
                other => panic!("{other:?}"),
            }
        }
        // No sections at all.
        let mut out = build(true, false, elf::ET_EXEC, &[]);
        out.put(40, 0, 8); // e_shoff = 0
        assert!(matches!(
            find_btf_sections(&out.bytes),
            Err(Error::Elf { section: Some(s), .. }) if s == ".BTF"
        ));
    }

    #[test]
    fn wrong_section_types() {
        for (is_64, be) in kinds() {
            for t in [elf::SHT_NOBITS, elf::SHT_NOTE, elf::SHT_STRTAB] {
                for name in [".BTF", ".BTF.base", ".BTF.ext"] {
                    let mut s = sec(name, BTF);
                    s.sh_type = t;
                    let secs = if name == ".BTF" { vec![s] } else { vec![sec(".BTF", BTF), s] };
                    let out = build(is_64, be, elf::ET_REL, &secs);
                    let e = find_btf_sections(&out.bytes).unwrap_err();
                    let Error::Elf { section, offset, message } = e else { panic!() };
                    assert_eq!(section.as_deref(), Some(name), "{message}");
                    assert!(offset.is_some());
                    assert!(message.contains("SHT_PROGBITS"), "{message}");
                }
            }
        }
    }

    #[test]
    fn compressed_btf_section_is_refused() {
        let mut s = sec(".BTF", BTF);
        s.flags = u64::from(elf::SHF_COMPRESSED);
        let out = build(true, false, elf::ET_REL, &[s]);
        assert!(find_btf_sections(&out.bytes).unwrap_err().to_string().contains("SHF_COMPRESSED"));
    }

    #[test]
    fn duplicate_btf_is_refused() {
        let out = build(true, false, elf::ET_REL, &[sec(".BTF", BTF), sec(".BTF", BASE)]);
        assert!(find_btf_sections(&out.bytes).unwrap_err().to_string().contains("more than one"));
        // section_by_name returns the first.
        let out2 = build(true, false, elf::ET_REL, &[sec(".BTF", BTF), sec(".BTF", BASE)]);
        assert_eq!(section_by_name(&out2.bytes, ".BTF").unwrap().unwrap().index, 1);
    }

    #[test]
    fn out_of_range_section_data() {
        for (is_64, be) in kinds() {
            let cases: [(Option<u64>, Option<u64>); 4] = [
                (Some(1 << 20), None),                          // offset past EOF
                (None, Some(1 << 20)),                          // size past EOF
                (Some(u32::MAX as u64), Some(u32::MAX as u64)), // overflow in 32-bit space
                (Some(3), Some(u32::MAX as u64 - 1)),
            ];
            for (offset, size) in cases {
                let mut s = sec(".BTF", BTF);
                s.offset = offset;
                s.size = size;
                let out = build(is_64, be, elf::ET_REL, &[s.clone()]);
                let e = find_btf_sections(&out.bytes).unwrap_err();
                assert!(matches!(&e, Error::Elf { section: Some(n), .. } if n == ".BTF"), "{e:?}");
                let info = section_by_name(&out.bytes, ".BTF").unwrap().unwrap();
                assert!(info.data(&out.bytes).is_err());
            }
        }
        // 64-bit offset + size overflowing u64.
        let mut out = build(true, false, elf::ET_REL, &[sec(".BTF", BTF)]);
        out.patch_sh(1, "offset", u64::MAX - 1);
        out.patch_sh(1, "size", 16);
        assert!(find_btf_sections(&out.bytes).is_err());
        assert!(section_by_name(&out.bytes, ".BTF").unwrap().unwrap().data(&out.bytes).is_err());
    }

    #[test]
    fn nobits_section_data() {
        let mut s = sec(".bss", &[0; 32]);
        s.sh_type = elf::SHT_NOBITS;
        let out = build(false, true, elf::ET_EXEC, &[s, sec(".BTF", BTF)]);
        let info = section_by_name(&out.bytes, ".bss").unwrap().unwrap();
        assert_eq!(info.sh_type, elf::SHT_NOBITS);
        assert!(info.data(&out.bytes).is_err());
        assert_eq!(find_btf_sections(&out.bytes).unwrap().btf, BTF);
    }

    #[test]
    fn unreadable_section_name() {
        let mut out = build(true, false, elf::ET_REL, &[sec(".text", b"x"), sec(".BTF", BTF)]);
        out.patch_sh(1, "name", 0xffff_0000);
        let e = find_btf_sections(&out.bytes).unwrap_err();
        assert!(e.to_string().contains("cannot read its name"), "{e}");
        // section_by_name skips it.
        assert!(section_by_name(&out.bytes, ".BTF").unwrap().is_some());
    }

    #[test]
    fn bad_headers() {
        assert!(!is_elf(b""));
        assert!(!is_elf(b"\x7fEL"));
        assert!(!is_elf(b"\x9f\xeb\x01\x00"));
        assert!(is_elf(b"\x7fELF"));
        for bad in [
            &b""[..],
            b"\x7fELF",
            b"\x7fELF\x02",
            b"\x7fELF\x03\x01\x01",
            b"\x7fELF\x02\x03\x01",
            b"\x9f\xeb\x01\x00\x18\x00\x00\x00",
        ] {
            assert!(matches!(find_btf_sections(bad), Err(Error::Elf { .. })), "{bad:?}");
            assert!(section_by_name(bad, ".BTF").is_err());
        }
        for (is_64, be) in kinds() {
            let good = build(is_64, be, elf::ET_REL, &[sec(".BTF", BTF)]);
            // EI_VERSION != EV_CURRENT
            let mut b = good.bytes.clone();
            b[6] = 2;
            assert!(find_btf_sections(&b).is_err());
            // Wrong e_shentsize.
            let mut o = build(is_64, be, elf::ET_REL, &[sec(".BTF", BTF)]);
            if is_64 {
                o.put(58, 63, 2)
            } else {
                o.put(46, 39, 2)
            }
            assert!(find_btf_sections(&o.bytes).is_err());
            // e_shstrndx out of range.
            let mut o = build(is_64, be, elf::ET_REL, &[sec(".BTF", BTF)]);
            if is_64 {
                o.put(62, 99, 2)
            } else {
                o.put(50, 99, 2)
            }
            assert!(find_btf_sections(&o.bytes).is_err());
            // e_shoff past EOF.
            let mut o = build(is_64, be, elf::ET_REL, &[sec(".BTF", BTF)]);
            if is_64 {
                o.put(40, 1 << 40, 8)
            } else {
                o.put(32, 0xffff_fff0, 4)
            }
            assert!(find_btf_sections(&o.bytes).is_err());
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for (is_64, be) in kinds() {
            let out = build(
                is_64,
                be,
                elf::ET_REL,
                &[sec(".text", b"abc"), sec(".BTF", BTF), sec(".BTF.base", BASE)],
            );
            for n in 0..out.bytes.len() {
                let cut = &out.bytes[..n];
                assert!(find_btf_sections(cut).is_err(), "len {n}");
                let _ = section_by_name(cut, ".BTF");
            }
            assert!(find_btf_sections(&out.bytes).is_ok());
        }
    }

    #[test]
    fn unaligned_input() {
        // Input slices need not be aligned (e.g. a Python buffer at an odd offset).
        let out = build(true, true, elf::ET_REL, &[sec(".BTF", BTF)]);
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&out.bytes);
        assert_eq!(find_btf_sections(&shifted[1..]).unwrap().btf, BTF);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn corrupted_files_never_panic(
            kind in 0usize..4,
            flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..6),
        ) {
            let (is_64, be) = kinds()[kind];
            let mut bytes = build(is_64, be, elf::ET_REL, &[sec(".text", b"abc"), sec(".BTF", BTF), sec(".BTF.ext", EXT)]).bytes;
            for (pos, v) in flips {
                let len = bytes.len();
                bytes[pos % len] = v;
            }
            if let Ok(f) = find_btf_sections(&bytes) {
                // Whatever was found lies inside the file.
                let off = usize::try_from(f.btf_offset).unwrap();
                proptest::prop_assert_eq!(&bytes[off..off + f.btf.len()], f.btf);
            }
            if let Ok(Some(info)) = section_by_name(&bytes, ".BTF") {
                let _ = info.data(&bytes);
            }
        }
    }
}
