//! Reading `.BTF_ids` and the symbols that describe it.
//!
//! The symbol classification follows `symbols_collect` in resolve_btfids: every symbol
//! defined in `.BTF_ids` whose name starts with `__BTF_ID__` is a set8 (checked first),
//! a set, or a `struct`/`union`/`typedef`/`func` slot; any other word after the prefix is
//! refused (resolve_btfids: "unsupported prefix"). Set counts come from the symbol size
//! (`st_size / 4 - 1`, `st_size / 8 - 1` for set8), as there. The word offset is
//! `st_value - sh_addr` (`sh_addr` is 0 in a `.ko`). We are stricter than resolve_btfids
//! in a few places, because a wrong guess would corrupt the module: the slot suffix
//! must be `__<digits>`, the count word must equal the count from the size, every
//! symbol must lie inside the section, slots must not overlap each other or a set's
//! header words, and sets must not overlap.

use std::collections::HashSet;

use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::Endianness;

use super::{read_u32, BtfIds, Entry, Member, SlotKind, BTF_IDS_SECTION, SYMBOL_PREFIX};
use crate::elf::{section_by_name, SectionInfo};
use crate::error::{Error, Result};

/// Parses the `.BTF_ids` section of an ELF file and its symbols.
///
/// `Ok(None)` when there is no `.BTF_ids` section. Errors ([`Error::Elf`]) for a
/// malformed ELF, a `.BTF_ids` without a symbol table (a stripped module cannot be
/// patched safely: ids cannot be told from counts and flags), and symbols that do not
/// describe a consistent layout (see the module docs).
pub fn parse_btf_ids(data: &[u8]) -> Result<Option<BtfIds>> {
    let Some(info) = section_by_name(data, BTF_IDS_SECTION)? else {
        return Ok(None);
    };
    let section = info.data(data).map_err(|e| Error::Elf {
        message: format!("{BTF_IDS_SECTION}: {e}"),
        section: Some(BTF_IDS_SECTION.to_owned()),
        offset: Some(info.offset),
    })?;
    // section_by_name has checked the identification bytes.
    let ids = if data.get(4) == Some(&elf::ELFCLASS64) {
        parse_in::<elf::FileHeader64<Endianness>>(data, &info, section)?
    } else {
        parse_in::<elf::FileHeader32<Endianness>>(data, &info, section)?
    };
    Ok(Some(ids))
}

/// A `__BTF_ID__` symbol of `.BTF_ids`, classified.
struct RawSymbol {
    full: String,
    offset: u64,
    size: u64,
    what: What,
}

enum What {
    Slot(SlotKind, String),
    Set(String),
    Set8(String),
}

fn err(info: &SectionInfo, at: Option<u64>, message: impl Into<String>) -> Error {
    Error::Elf {
        message: format!("{BTF_IDS_SECTION}: {}", message.into()),
        section: Some(BTF_IDS_SECTION.to_owned()),
        offset: Some(info.offset.saturating_add(at.unwrap_or(0))),
    }
}

fn parse_in<Elf: FileHeader<Endian = Endianness>>(
    data: &[u8],
    info: &SectionInfo,
    section: &[u8],
) -> Result<BtfIds> {
    let object_err = |context: &str, e: object::read::Error| Error::Elf {
        message: format!("{context}: {e}"),
        section: None,
        offset: None,
    };
    let header = Elf::parse(data).map_err(|e| object_err("invalid ELF header", e))?;
    let endian = header.endian().map_err(|e| object_err("invalid ELF header", e))?;
    let big_endian = header.is_big_endian();
    let sections = header
        .sections(endian, data)
        .map_err(|e| object_err("invalid ELF section header table", e))?;
    if !sections.iter().any(|s| s.sh_type(endian) == elf::SHT_SYMTAB) {
        return Err(err(info, None, "module has .BTF_ids but no symbol table"));
    }
    let symbols = sections
        .symbols(endian, data, elf::SHT_SYMTAB)
        .map_err(|e| object_err("invalid ELF symbol table", e))?;

    let mut raw = Vec::new();
    for (index, sym) in symbols.enumerate() {
        let in_section = symbols
            .symbol_section(endian, sym, index)
            .map_err(|e| object_err(&format!("symbol {}", index.0), e))?;
        if in_section.map(|s| s.0) != Some(info.index) {
            continue;
        }
        let name = symbols
            .symbol_name(endian, sym)
            .map_err(|e| object_err(&format!("symbol {}: cannot read its name", index.0), e))?;
        if !name.starts_with(SYMBOL_PREFIX.as_bytes()) {
            continue; // BTF_ID_LIST labels and the like
        }
        let full = String::from_utf8_lossy(name).into_owned();
        let value: u64 = sym.st_value(endian).into();
        let size: u64 = sym.st_size(endian).into();
        let offset = value.checked_sub(info.addr).ok_or_else(|| {
            err(info, None, format!("symbol {full} lies before the section (value {value:#x})"))
        })?;
        let what = classify(&full).map_err(|m| err(info, Some(offset), m))?;
        raw.push(RawSymbol { full, offset, size, what });
    }
    build(info, section, big_endian, raw)
}

/// Classifies a symbol name that starts with [`SYMBOL_PREFIX`].
fn classify(full: &str) -> std::result::Result<What, String> {
    let rest = full.get(SYMBOL_PREFIX.len()..).unwrap_or_default();
    let nonempty = |name: &str, what: fn(String) -> What| {
        if name.is_empty() {
            Err(format!("symbol {full} has no set name"))
        } else {
            Ok(what(name.to_owned()))
        }
    };
    if let Some(name) = rest.strip_prefix("set8__") {
        return nonempty(name, What::Set8);
    }
    if let Some(name) = rest.strip_prefix("set__") {
        return nonempty(name, What::Set);
    }
    let (word, tail) =
        rest.split_once("__").ok_or_else(|| format!("unsupported prefix in symbol {full}"))?;
    let kind =
        SlotKind::from_word(word).ok_or_else(|| format!("unsupported prefix in symbol {full}"))?;
    // Only the last `__<digits>` is the uniquifier; names may contain `___` or start
    // with `__` (`nf_conn___init`).
    let bad_suffix = || format!("symbol {full} does not end in __<digits>");
    let cut = tail.rfind("__").ok_or_else(bad_suffix)?;
    let (name, digits) =
        (tail.get(..cut).unwrap_or_default(), tail.get(cut + 2..).unwrap_or_default());
    if name.is_empty() || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_suffix());
    }
    Ok(What::Slot(kind, name.to_owned()))
}

/// A set under construction: its byte range and element geometry.
struct SetRange {
    start: u64,
    end: u64,
    /// Offset of element 0 from `start` (4 for set, 8 for set8).
    first: u64,
    /// Element stride (4 for set, 8 for set8).
    stride: u64,
    full: String,
    members: Vec<Member>,
    /// Index into `entries`.
    entry: usize,
}

fn build(
    info: &SectionInfo,
    section: &[u8],
    big_endian: bool,
    raw: Vec<RawSymbol>,
) -> Result<BtfIds> {
    let size = section.len() as u64;
    let word = |off: u64| {
        read_u32(section, off, big_endian)
            .ok_or_else(|| err(info, Some(off), format!("word at {off:#x} is past the end")))
    };
    let mut entries = Vec::new();
    let mut sets: Vec<SetRange> = Vec::new();
    let mut set_names: HashSet<&str> = HashSet::new();

    // Sets first: their ranges decide which slots are members.
    for s in &raw {
        let (name, unit, is8) = match &s.what {
            What::Set(n) => (n, 4u64, false),
            What::Set8(n) => (n, 8u64, true),
            What::Slot(..) => continue,
        };
        // resolve_btfids keeps sets and set8s in one tree and refuses duplicates.
        if !set_names.insert(name) {
            return Err(err(info, Some(s.offset), format!("set name {name} is used twice")));
        }
        let end = s.offset.checked_add(s.size).filter(|&e| e <= size).ok_or_else(|| {
            err(
                info,
                Some(s.offset),
                format!(
                    "symbol {} [{:#x}, +{:#x}) lies outside the section ({size:#x} bytes)",
                    s.full, s.offset, s.size
                ),
            )
        })?;
        if s.size < unit || s.size % unit != 0 {
            return Err(err(
                info,
                Some(s.offset),
                format!("symbol {} has size {}, not {unit} x (count + 1)", s.full, s.size),
            ));
        }
        let count = u32::try_from(s.size / unit - 1)
            .map_err(|_| err(info, Some(s.offset), format!("symbol {} is too large", s.full)))?;
        let cnt_word = word(s.offset)?;
        if cnt_word != count {
            return Err(err(
                info,
                Some(s.offset),
                format!(
                    "set {}: count word is {cnt_word} but the symbol size {} means {count} \
                     elements (not processed by resolve_btfids?)",
                    s.full, s.size
                ),
            ));
        }
        let entry = if is8 {
            let flags = word(s.offset + 4)?;
            let mut pairs = Vec::with_capacity(count as usize);
            for i in 0..u64::from(count) {
                let at = s.offset + 8 + 8 * i;
                pairs.push((word(at)?, word(at + 4)?));
            }
            Entry::Set8 {
                offset: s.offset,
                name: name.clone(),
                count,
                flags,
                pairs,
                members: vec![],
            }
        } else {
            let mut ids = Vec::with_capacity(count as usize);
            for i in 0..u64::from(count) {
                ids.push(word(s.offset + 4 + 4 * i)?);
            }
            Entry::Set { offset: s.offset, name: name.clone(), count, ids, members: vec![] }
        };
        sets.push(SetRange {
            start: s.offset,
            end,
            first: unit,
            stride: unit,
            full: s.full.clone(),
            members: vec![],
            entry: entries.len(),
        });
        entries.push(entry);
    }
    let mut by_start: Vec<&SetRange> = sets.iter().collect();
    by_start.sort_by_key(|s| (s.start, s.end));
    for pair in by_start.windows(2) {
        if let [a, b] = pair {
            if b.start < a.end {
                return Err(err(
                    info,
                    Some(b.start),
                    format!("sets {} and {} overlap", a.full, b.full),
                ));
            }
        }
    }

    // Slots: members of the set they lie in, or lone slots.
    let mut lone: Vec<(u64, &str)> = Vec::new();
    for s in &raw {
        let What::Slot(kind, name) = &s.what else { continue };
        if s.offset.checked_add(4).is_none_or(|e| e > size) {
            return Err(err(
                info,
                Some(s.offset),
                format!(
                    "symbol {} at {:#x} lies outside the section ({size:#x} bytes)",
                    s.full, s.offset
                ),
            ));
        }
        if let Some(set) = sets.iter().find(|t| s.offset < t.start && t.start < s.offset + 4) {
            return Err(err(
                info,
                Some(s.offset),
                format!("symbol {} overlaps the header of set {}", s.full, set.full),
            ));
        }
        if let Some(set) = sets.iter_mut().find(|t| t.start <= s.offset && s.offset < t.end) {
            let rel = s.offset - set.start;
            if rel < set.first || (rel - set.first) % set.stride != 0 {
                return Err(err(
                    info,
                    Some(s.offset),
                    format!("symbol {} lies on a header or flags word of set {}", s.full, set.full),
                ));
            }
            if let Some(m) = set.members.iter().find(|m| m.offset == s.offset) {
                return Err(err(
                    info,
                    Some(s.offset),
                    format!(
                        "symbols {} and {SYMBOL_PREFIX}{}__{}__* share offset {:#x}",
                        s.full, m.kind, m.name, s.offset
                    ),
                ));
            }
            set.members.push(Member { offset: s.offset, kind: *kind, name: name.clone() });
            continue;
        }
        lone.push((s.offset, &s.full));
        entries.push(Entry::Slot {
            offset: s.offset,
            kind: *kind,
            name: name.clone(),
            id: word(s.offset)?,
        });
    }
    lone.sort();
    for pair in lone.windows(2) {
        if let [(a, an), (b, bn)] = pair {
            if b - a < 4 {
                return Err(err(info, Some(*b), format!("symbols {an} and {bn} overlap")));
            }
        }
    }

    for set in sets {
        let mut members = set.members;
        members.sort_by_key(|m| m.offset);
        match entries.get_mut(set.entry) {
            Some(Entry::Set { members: m, .. } | Entry::Set8 { members: m, .. }) => *m = members,
            _ => return Err(Error::elf("internal: set entry index out of step")),
        }
    }
    entries.sort_by_key(Entry::offset);
    Ok(BtfIds { big_endian, section_offset: info.offset, section_size: size, entries })
}
