//! Replacing the contents of named sections of an ELF file.
//!
//! Same size: the bytes are patched in place and nothing else changes. Different size
//! (ET_REL only): the file is re-laid out the way `elf_update` in libelf or
//! `objcopy --update-section` would: everything up to the first resized section stays
//! byte for byte; from there every section and header table, in file order, is placed at
//! the next offset satisfying its alignment (`sh_addralign`; the word size for header
//! tables), gaps are zero padding, and `sh_offset`, `sh_size`, `e_shoff`, `e_phoff` are
//! updated. Sections without file bytes (SHT_NOBITS, SHT_NULL, empty ones) take the
//! offset where they fall in that order, unaligned, so it stays inside the file. Bytes after the last
//! section or table are dropped. Section order, flags, links, addresses, symbols and
//! relocations are kept: in ET_REL files symbol values and relocation offsets are
//! relative to their section, so only a relocation inside a shrunk section's lost tail
//! is an error.

use object::elf;

use crate::error::{Error, Result};
use crate::module::layout::{self, elf_error, section_error, ItemKind, Layout, Section};

/// The largest `sh_addralign` honoured for a section that has to move: larger values
/// are refused rather than padded (no real module needs more than a page or two).
pub const MAX_MOVED_ALIGN: u64 = 1 << 20;

/// Replace the contents of the named sections (see the module documentation).
///
/// Each name must denote exactly one section, of type SHT_PROGBITS. If every new
/// content has its section's old size, the output differs from `elf` only in those
/// bytes; otherwise the file must be ET_REL and is re-laid out.
pub fn replace_sections(elf: &[u8], replacements: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let lay = layout::parse(elf)?;
    let targets = resolve(&lay, replacements)?;
    if targets.iter().all(|(sec, new)| sec.size == new.len() as u64) {
        let mut out = elf.to_vec();
        patch(&lay, &mut out, &targets)?;
        return Ok(out);
    }
    relayout(elf, &lay, &targets)
}

/// Replace the contents of the named sections in place. Every new content must have
/// its section's old size ([`Error::Elf`] otherwise: use [`replace_sections`]).
pub fn patch_sections_in_place(elf: &mut [u8], replacements: &[(&str, &[u8])]) -> Result<()> {
    let lay = layout::parse(elf)?;
    let targets = resolve(&lay, replacements)?;
    if let Some((sec, new)) = targets.iter().find(|(sec, new)| sec.size != new.len() as u64) {
        return Err(section_error(
            sec,
            format!(
                "new contents are {:#x} bytes but the section has {:#x}; in-place patching \
                 needs the same size",
                new.len(),
                sec.size
            ),
        ));
    }
    patch(&lay, elf, &targets)
}

/// The section each replacement names: exactly one section, SHT_PROGBITS.
fn resolve<'l, 'r>(
    lay: &'l Layout,
    replacements: &[(&str, &'r [u8])],
) -> Result<Vec<(&'l Section, &'r [u8])>> {
    let mut out: Vec<(&Section, &[u8])> = Vec::with_capacity(replacements.len());
    for &(name, new) in replacements {
        let mut found =
            lay.sections.iter().skip(1).filter(|s| s.name.as_deref() == Some(name.as_bytes()));
        let sec = found.next().ok_or_else(|| {
            Error::elf_section(name, format!("no section named {name} in the ELF file"))
        })?;
        if found.next().is_some() {
            return Err(section_error(sec, "more than one section has this name"));
        }
        if out.iter().any(|(s, _)| s.index == sec.index) {
            return Err(Error::input(format!("section {name} is replaced twice")));
        }
        if sec.sh_type != elf::SHT_PROGBITS {
            return Err(section_error(
                sec,
                format!(
                    "section type is {}, only SHT_PROGBITS contents can be replaced",
                    sec.sh_type
                ),
            ));
        }
        out.push((sec, new));
    }
    Ok(out)
}

/// A range of the file: the ELF header, a header table or a section with file bytes.
#[derive(Debug, Clone, Copy)]
struct Item {
    kind: ItemKind,
    offset: u64,
    /// Size in the input (0 for sections without file bytes).
    size: u64,
    align: u64,
}

/// Every item of the file, sorted by (offset, rank): the order that is preserved.
fn items(lay: &Layout) -> Vec<Item> {
    let mut items = vec![Item { kind: ItemKind::Header, offset: 0, size: lay.ehdr_size, align: 1 }];
    if lay.phnum > 0 {
        items.push(Item {
            kind: ItemKind::ProgramHeaders,
            offset: lay.phoff,
            size: lay.phnum * lay.phentsize(),
            align: lay.table_align(),
        });
    }
    items.push(Item {
        kind: ItemKind::SectionHeaders,
        offset: lay.shoff,
        size: lay.shnum * lay.shentsize(),
        align: lay.table_align(),
    });
    for sec in lay.sections.iter().skip(1) {
        items.push(Item {
            kind: ItemKind::Section(sec.index),
            offset: sec.offset,
            size: if sec.has_bytes() { sec.size } else { 0 },
            align: sec.align,
        });
    }
    items.sort_by_key(|it| (it.offset, it.kind.rank()));
    items
}

fn item_label(lay: &Layout, kind: ItemKind) -> String {
    match kind {
        ItemKind::Header => "the ELF header".into(),
        ItemKind::ProgramHeaders => "the program header table".into(),
        ItemKind::SectionHeaders => "the section header table".into(),
        ItemKind::Section(i) => {
            lay.sections.get(i).map_or_else(|| format!("section {i}"), Section::label)
        }
    }
}

/// Items with bytes must not overlap: each starts at or after the end of the previous.
/// With `only`, just the pairs involving one of those sections are checked.
fn check_overlaps(lay: &Layout, items: &[Item], only: Option<&[usize]>) -> Result<()> {
    let mut prev: Option<&Item> = None;
    for it in items.iter().filter(|it| it.size > 0) {
        if let Some(p) = prev {
            let involved = |k: ItemKind| matches!(k, ItemKind::Section(i) if only.is_none_or(|o| o.contains(&i)));
            if it.offset < p.offset + p.size
                && (only.is_none() || involved(it.kind) || involved(p.kind))
            {
                return Err(elf_error(
                    format!(
                        "{} at {:#x} overlaps {} [{:#x}, {:#x})",
                        item_label(lay, it.kind),
                        it.offset,
                        item_label(lay, p.kind),
                        p.offset,
                        p.offset + p.size
                    ),
                    Some(it.offset),
                ));
            }
        }
        if prev.is_none_or(|p| it.offset + it.size > p.offset + p.size) {
            prev = Some(it);
        }
    }
    Ok(())
}

/// Same-size replacement: copy the new bytes over the old ones.
fn patch(lay: &Layout, out: &mut [u8], targets: &[(&Section, &[u8])]) -> Result<()> {
    let indexes: Vec<usize> = targets.iter().map(|(s, _)| s.index).collect();
    check_overlaps(lay, &items(lay), Some(&indexes))?;
    for (sec, new) in targets {
        let start =
            usize::try_from(sec.offset).map_err(|_| section_error(sec, "offset too large"))?;
        out.get_mut(start..start + new.len())
            .ok_or_else(|| section_error(sec, "section data is outside the file"))?
            .copy_from_slice(new);
    }
    Ok(())
}

fn align_up(value: u64, align: u64) -> Option<u64> {
    let align = align.max(1);
    value.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// Re-lay out the file with the replaced sections' new contents.
fn relayout(elf: &[u8], lay: &Layout, targets: &[(&Section, &[u8])]) -> Result<Vec<u8>> {
    // Moving sections is only sound where nothing refers to file offsets or addresses:
    // relocatable objects. A linked image has segments mapping fixed file ranges.
    let resized = targets.iter().find(|(s, n)| s.size != n.len() as u64);
    if let (Some((sec, _)), true) = (resized, lay.e_type != elf::ET_REL) {
        return Err(section_error(
            sec,
            format!(
                "cannot resize the section in a linked image (e_type {}), only in ET_REL",
                lay.e_type
            ),
        ));
    }
    let items = items(lay);
    check_overlaps(lay, &items, None)?;
    let new_content = |kind: ItemKind| match kind {
        ItemKind::Section(i) => targets.iter().find(|(s, _)| s.index == i).map(|&(_, new)| new),
        _ => None,
    };
    check_relocations(elf, lay, targets)?;

    // The first resized item (in file order) stays; everything after it is repacked.
    let first = items
        .iter()
        .position(|it| new_content(it.kind).is_some_and(|n| n.len() as u64 != it.size))
        .ok_or_else(|| elf_error("no section changes size", None))?;
    let mut new_offsets: Vec<u64> = items.iter().map(|it| it.offset).collect();
    // The prefix kept byte for byte ends at the first resized section, or later if an
    // earlier item reaches past it (possible when that section was empty).
    let copy_end = items
        .iter()
        .take(first)
        .filter(|it| it.size > 0)
        .map(|it| it.offset + it.size)
        .fold(items[first].offset, u64::max);
    let mut cursor = copy_end;
    for (k, it) in items.iter().enumerate().skip(first) {
        let new_size = new_content(it.kind).map_or(it.size, |n| n.len() as u64);
        let moves = k > first || it.offset < copy_end;
        if moves && new_size == 0 {
            // No bytes: sits where it falls in the order, inside the file (the module
            // loader's elf_validity_check wants sh_offset + sh_size <= file length).
            new_offsets[k] = cursor;
        } else if moves {
            if !it.align.is_power_of_two() && it.align > 1 {
                return Err(elf_error(
                    format!(
                        "{}: sh_addralign {:#x} is not a power of two",
                        item_label(lay, it.kind),
                        it.align
                    ),
                    Some(it.offset),
                ));
            }
            if it.align > MAX_MOVED_ALIGN {
                return Err(elf_error(
                    format!(
                        "{}: sh_addralign {:#x} is too large to move the section (limit \
                         {MAX_MOVED_ALIGN:#x})",
                        item_label(lay, it.kind),
                        it.align
                    ),
                    Some(it.offset),
                ));
            }
            new_offsets[k] = align_up(cursor, it.align)
                .ok_or_else(|| elf_error("file offsets overflow", Some(it.offset)))?;
        }
        if new_size > 0 {
            cursor = new_offsets[k]
                .checked_add(new_size)
                .ok_or_else(|| elf_error("file offsets overflow", Some(it.offset)))?;
        }
    }
    let total = usize::try_from(cursor).map_err(|_| elf_error("output too large", None))?;

    // Copy the unchanged prefix, then every item with bytes at its new place.
    let prefix = usize::try_from(copy_end).map_err(|_| elf_error("offset too large", None))?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(
        elf.get(..prefix).ok_or_else(|| elf_error("offset outside the file", None))?,
    );
    // Same-size replacements before the first resized section are patched in the prefix.
    for it in items.iter().take(first) {
        if let Some(new) = new_content(it.kind).filter(|n| !n.is_empty()) {
            let at = it.offset as usize;
            out.get_mut(at..at + new.len())
                .ok_or_else(|| elf_error("section outside the file", Some(it.offset)))?
                .copy_from_slice(new);
        }
    }
    for (k, it) in items.iter().enumerate().skip(first) {
        let bytes = match new_content(it.kind) {
            Some(new) => new,
            None if it.size == 0 => continue,
            None => layout::range(elf, it.offset, it.size).ok_or_else(|| {
                elf_error(
                    format!("{} is outside the file", item_label(lay, it.kind)),
                    Some(it.offset),
                )
            })?,
        };
        if bytes.is_empty() {
            continue;
        }
        out.resize(new_offsets[k] as usize, 0);
        out.extend_from_slice(bytes);
    }

    // Header fields: e_phoff, e_shoff, then sh_offset / sh_size of each section.
    let mut w = Writer { out: &mut out, lay };
    let mut shoff = lay.shoff;
    for (k, it) in items.iter().enumerate() {
        match it.kind {
            ItemKind::ProgramHeaders => {
                w.set(if lay.is_64 { 0x20 } else { 0x1C }, new_offsets[k])?
            }
            ItemKind::SectionHeaders => {
                shoff = new_offsets[k];
                w.set(if lay.is_64 { 0x28 } else { 0x20 }, shoff)?;
            }
            _ => {}
        }
    }
    for (k, it) in items.iter().enumerate() {
        if let ItemKind::Section(i) = it.kind {
            let at = shoff + i as u64 * lay.shentsize();
            let (off_field, size_field) = if lay.is_64 { (24, 32) } else { (16, 20) };
            if new_offsets[k] != it.offset {
                w.set(at + off_field, new_offsets[k])?;
            }
            if let Some(new) = new_content(it.kind) {
                w.set(at + size_field, new.len() as u64)?;
            }
        }
    }
    Ok(out)
}

/// A relocation section applying to a resized section must not point past its new end
/// (SHT_REL / SHT_RELA whose `sh_info` is the target, as in ET_REL files).
fn check_relocations(elf: &[u8], lay: &Layout, targets: &[(&Section, &[u8])]) -> Result<()> {
    for rel in
        lay.sections.iter().filter(|s| s.sh_type == elf::SHT_REL || s.sh_type == elf::SHT_RELA)
    {
        let Some((target, new)) = targets
            .iter()
            .find(|(s, n)| s.index as u64 == u64::from(rel.info) && s.size != n.len() as u64)
        else {
            continue;
        };
        let entsize: u64 = match (lay.is_64, rel.sh_type == elf::SHT_RELA) {
            (true, true) => 24,
            (true, false) => 16,
            (false, true) => 12,
            (false, false) => 8,
        };
        let data = layout::range(elf, rel.offset, rel.size).unwrap_or_default();
        let width = if lay.is_64 { 8 } else { 4 };
        for (n, entry) in data.chunks_exact(entsize as usize).enumerate() {
            let r_offset = read_uint(&entry[..width], lay.big_endian);
            if r_offset >= new.len() as u64 {
                return Err(section_error(
                    rel,
                    format!(
                        "relocation {n} applies at offset {r_offset:#x} of {}, past its new size {:#x}",
                        target.label(),
                        new.len()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn read_uint(bytes: &[u8], big_endian: bool) -> u64 {
    let fold = |acc: u64, &b: &u8| (acc << 8) | u64::from(b);
    if big_endian {
        bytes.iter().fold(0, fold)
    } else {
        bytes.iter().rev().fold(0, fold)
    }
}

/// Writes header words (the ELF class's width, the file's byte order) into the output.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    lay: &'a Layout,
}

impl Writer<'_> {
    fn set(&mut self, at: u64, value: u64) -> Result<()> {
        let width = if self.lay.is_64 { 8 } else { 4 };
        if !self.lay.is_64 && value > u64::from(u32::MAX) {
            return Err(elf_error(
                format!("offset or size {value:#x} does not fit ELF32"),
                Some(at),
            ));
        }
        let bytes = if self.lay.big_endian { value.to_be_bytes() } else { value.to_le_bytes() };
        let src = if self.lay.big_endian { &bytes[8 - width..] } else { &bytes[..width] };
        let at = usize::try_from(at).map_err(|_| elf_error("offset too large", None))?;
        self.out
            .get_mut(at..at + width)
            .ok_or_else(|| elf_error("header field outside the output", Some(at as u64)))?
            .copy_from_slice(src);
        Ok(())
    }
}
