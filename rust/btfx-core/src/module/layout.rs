//! The file layout of an ELF image, as needed to rewrite section contents: where the
//! headers, the program and section header tables and every section's bytes sit.
//!
//! Headers are read with `object::read::elf` (`FileHeader::parse`, `section_headers`,
//! `shstrndx`, `program_headers`: magic, class, data encoding, `EV_CURRENT`, entry
//! sizes, extended numbering, table bounds). On top of that every section with file
//! bytes must lie inside the file, and the section name string table must be readable.
//! The pure-Python reference (`btfx.reference.module`) applies the same checks in the
//! same order.

use object::elf;
use object::read::elf::{FileHeader, SectionHeader};
use object::Endianness;

use crate::error::{Error, Result};

/// What occupies a range of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    /// The ELF header (never moves).
    Header,
    /// The program header table.
    ProgramHeaders,
    /// The section header table.
    SectionHeaders,
    /// Section `index`.
    Section(usize),
}

impl ItemKind {
    /// Tie-break between items at the same offset: header, tables, then section index.
    pub(crate) fn rank(self) -> usize {
        match self {
            ItemKind::Header => 0,
            ItemKind::ProgramHeaders => 1,
            ItemKind::SectionHeaders => 2,
            ItemKind::Section(i) => 3 + i,
        }
    }
}

/// One section header, with the fields the rewrite needs.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub index: usize,
    /// Name from the section name string table; `None` if unreadable.
    pub name: Option<Vec<u8>>,
    pub sh_type: u32,
    pub offset: u64,
    pub size: u64,
    pub align: u64,
    pub info: u32,
}

impl Section {
    /// Whether the section has bytes in the file (not SHT_NOBITS / SHT_NULL).
    pub(crate) fn has_bytes(&self) -> bool {
        self.sh_type != elf::SHT_NOBITS && self.sh_type != elf::SHT_NULL
    }

    /// The section's name for messages.
    pub(crate) fn label(&self) -> String {
        match &self.name {
            Some(n) => String::from_utf8_lossy(n).into_owned(),
            None => format!("section {}", self.index),
        }
    }
}

/// Header fields and section headers of an ELF file.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub is_64: bool,
    pub big_endian: bool,
    pub e_type: u16,
    /// Size of the ELF header structure (52 or 64).
    pub ehdr_size: u64,
    pub phoff: u64,
    pub phnum: u64,
    pub shoff: u64,
    pub shnum: u64,
    /// Section 0 included.
    pub sections: Vec<Section>,
}

impl Layout {
    /// Size of one section header (40 or 64).
    pub(crate) fn shentsize(&self) -> u64 {
        if self.is_64 {
            64
        } else {
            40
        }
    }

    /// Size of one program header (32 or 56).
    pub(crate) fn phentsize(&self) -> u64 {
        if self.is_64 {
            56
        } else {
            32
        }
    }

    /// Alignment given to the header tables when they move (the word size).
    pub(crate) fn table_align(&self) -> u64 {
        if self.is_64 {
            8
        } else {
            4
        }
    }
}

pub(crate) fn elf_error(message: impl Into<String>, offset: Option<u64>) -> Error {
    Error::Elf { message: message.into(), section: None, offset }
}

pub(crate) fn section_error(sec: &Section, message: impl Into<String>) -> Error {
    Error::Elf {
        message: format!("{}: {}", sec.label(), message.into()),
        section: sec.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()),
        offset: Some(sec.offset),
    }
}

/// Check that `data` starts with a valid ELF header (identification, version, length).
pub(crate) fn check_header(data: &[u8]) -> Result<()> {
    let is_64 = crate::elf::parse_ident(data)?;
    let parsed = if is_64 {
        elf::FileHeader64::<Endianness>::parse(data).map(|_| ())
    } else {
        elf::FileHeader32::<Endianness>::parse(data).map(|_| ())
    };
    parsed.map_err(|e| elf_error(format!("invalid ELF header: {e}"), Some(0)))
}

/// Parse the layout of `data`; see the module documentation for the checks.
pub(crate) fn parse(data: &[u8]) -> Result<Layout> {
    if crate::elf::parse_ident(data)? {
        parse_in::<elf::FileHeader64<Endianness>>(data)
    } else {
        parse_in::<elf::FileHeader32<Endianness>>(data)
    }
}

fn parse_in<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<Layout> {
    fn obj(what: &'static str, offset: u64) -> impl Fn(object::read::Error) -> Error {
        move |e| elf_error(format!("{what}: {e}"), Some(offset))
    }
    let header = Elf::parse(data).map_err(obj("invalid ELF header", 0))?;
    let endian = header.endian().map_err(obj("invalid ELF header", 0))?;
    let shoff: u64 = header.e_shoff(endian).into();
    let headers =
        header.section_headers(endian, data).map_err(obj("invalid section header table", shoff))?;
    if headers.is_empty() {
        return Err(elf_error("ELF file has no section header table", Some(shoff)));
    }
    let shstrndx = header.shstrndx(endian, data).map_err(obj("invalid e_shstrndx", 0))?;
    let phoff: u64 = header.e_phoff(endian).into();
    let phnum = header
        .program_headers(endian, data)
        .map_err(obj("invalid program header table", phoff))?
        .len();

    let mut sections: Vec<Section> = headers
        .iter()
        .enumerate()
        .map(|(index, sh)| Section {
            index,
            name: None,
            sh_type: sh.sh_type(endian),
            offset: sh.sh_offset(endian).into(),
            size: sh.sh_size(endian).into(),
            align: sh.sh_addralign(endian).into(),
            info: sh.sh_info(endian),
        })
        .collect();
    // Every section with file bytes lies inside the file (kernel elf_validity_check).
    for sec in sections.iter().skip(1).filter(|s| s.has_bytes()) {
        if sec.offset.checked_add(sec.size).is_none_or(|end| end > data.len() as u64) {
            return Err(elf_error(
                format!(
                    "section {}: data [{:#x}, +{:#x}) is outside the file ({:#x} bytes)",
                    sec.index,
                    sec.offset,
                    sec.size,
                    data.len()
                ),
                Some(sec.offset),
            ));
        }
    }
    let shstrtab = usize::try_from(shstrndx)
        .ok()
        .and_then(|i| sections.get(i))
        .filter(|s| s.has_bytes())
        .ok_or_else(|| {
            elf_error(format!("e_shstrndx {shstrndx} is not a section with data"), Some(0))
        })?;
    let strings = range(data, shstrtab.offset, shstrtab.size).unwrap_or_default();
    let names: Vec<Option<Vec<u8>>> =
        headers.iter().map(|sh| name_at(strings, sh.sh_name(endian)).map(<[u8]>::to_vec)).collect();
    for (sec, name) in sections.iter_mut().zip(names) {
        sec.name = name;
    }
    Ok(Layout {
        is_64: header.is_class_64(),
        big_endian: header.is_big_endian(),
        e_type: header.e_type(endian),
        ehdr_size: std::mem::size_of::<Elf>() as u64,
        phoff,
        phnum: phnum as u64,
        shoff,
        shnum: sections.len() as u64,
        sections,
    })
}

/// `data[offset..offset + size]`, if inside.
pub(crate) fn range(data: &[u8], offset: u64, size: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    data.get(start..end)
}

/// The NUL-terminated string at `offset` of a string table, without the NUL.
fn name_at(strings: &[u8], offset: u32) -> Option<&[u8]> {
    let tail = strings.get(usize::try_from(offset).ok()?..)?;
    let nul = tail.iter().position(|&b| b == 0)?;
    tail.get(..nul)
}
