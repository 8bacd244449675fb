//! The `.BTF_ids` section of a kernel module: model, parse, check and fix-up.
//!
//! `include/linux/btf_ids.h` emits zero words into `.BTF_ids`, each tagged by a local
//! symbol; the kernel build's `resolve_btfids` (`tools/bpf/resolve_btfids/main.c`) then
//! writes the BTF type ids into them (`symbols_collect`, `symbols_resolve`,
//! `symbols_patch`) and sorts every set (`sets_patch`, comparing ids as signed ints in
//! `cmp_id`). When btfx renumbers a module's BTF those ids go stale; [`fixup`] maps them
//! through the id map, value by value, and re-sorts every set as `sets_patch` does.
//!
//! The symbols say what each word is (the values alone cannot tell ids from counts or
//! kfunc flags):
//!
//! * `__BTF_ID__<kind>__<name>__<digits>` (kind `struct`, `union`, `typedef`, `func`):
//!   one 4-byte id slot ([`Entry::Slot`]);
//! * `__BTF_ID__set__<name>`, size 4 × (count + 1): a count word, then `count` ids
//!   ([`Entry::Set`]);
//! * `__BTF_ID__set8__<name>`, size 8 × (count + 1): a count word, a set-flags word, then
//!   `count` {id, flags} pairs ([`Entry::Set8`]).
//!
//! Slot symbols that lie inside a set are the set's members ([`Member`]); after sorting,
//! the word at a member symbol generally holds another member's id, so sets are checked
//! and remapped as multisets of ids, never slot by slot.

mod check;
mod fixup;
mod parse;
#[cfg(test)]
mod tests;

pub use check::{check, Problem};
pub use fixup::{fixup, FixupReport};
pub use parse::parse_btf_ids;

use crate::kind::Kind;

/// Name of the section.
pub const BTF_IDS_SECTION: &str = ".BTF_ids";
/// Prefix of every symbol `resolve_btfids` looks at.
pub const SYMBOL_PREFIX: &str = "__BTF_ID__";

/// The BTF kind a `BTF_ID(kind, name)` slot names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlotKind {
    Struct,
    Union,
    Typedef,
    Func,
}

impl SlotKind {
    /// The word used in symbol names (`struct`, `union`, `typedef`, `func`).
    pub fn as_str(self) -> &'static str {
        match self {
            SlotKind::Struct => "struct",
            SlotKind::Union => "union",
            SlotKind::Typedef => "typedef",
            SlotKind::Func => "func",
        }
    }

    /// Parses the word of a symbol name.
    pub fn from_word(word: &str) -> Option<SlotKind> {
        match word {
            "struct" => Some(SlotKind::Struct),
            "union" => Some(SlotKind::Union),
            "typedef" => Some(SlotKind::Typedef),
            "func" => Some(SlotKind::Func),
            _ => None,
        }
    }

    /// The BTF kind a resolved id of this slot kind has.
    pub fn btf_kind(self) -> Kind {
        match self {
            SlotKind::Struct => Kind::Struct,
            SlotKind::Union => Kind::Union,
            SlotKind::Typedef => Kind::Typedef,
            SlotKind::Func => Kind::Func,
        }
    }

    /// The slot kind that can name a BTF type of kind `kind`, if any.
    pub fn of_btf_kind(kind: Kind) -> Option<SlotKind> {
        match kind {
            Kind::Struct => Some(SlotKind::Struct),
            Kind::Union => Some(SlotKind::Union),
            Kind::Typedef => Some(SlotKind::Typedef),
            Kind::Func => Some(SlotKind::Func),
            _ => None,
        }
    }
}

impl std::fmt::Display for SlotKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `BTF_ID` symbol inside a set: where it sits and what it was resolved from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Offset of the symbol inside the section.
    pub offset: u64,
    pub kind: SlotKind,
    /// Type name (the symbol name without prefix, kind and `__<digits>` suffix).
    pub name: String,
}

/// One thing in `.BTF_ids`, as its symbols describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A lone id word (`BTF_ID`, e.g. an element of a `BTF_ID_LIST`).
    Slot {
        /// Offset of the word inside the section.
        offset: u64,
        kind: SlotKind,
        /// Type name (without prefix, kind and `__<digits>` suffix).
        name: String,
        /// The word's value (0: unresolved).
        id: u32,
    },
    /// `BTF_SET_START(name)`: count word, then `count` ids sorted ascending.
    Set {
        /// Offset of the count word inside the section.
        offset: u64,
        name: String,
        /// From the symbol size (equal to the count word, checked by the parser).
        count: u32,
        ids: Vec<u32>,
        /// Slot symbols inside the set, in offset order.
        members: Vec<Member>,
    },
    /// `BTF_SET8_START(name)` / `BTF_KFUNCS_START(name)`: count word, set-flags word,
    /// then `count` {id, flags} pairs sorted by id.
    Set8 {
        /// Offset of the count word inside the section.
        offset: u64,
        name: String,
        /// From the symbol size (equal to the count word, checked by the parser).
        count: u32,
        /// The set-flags word (bit 0: `BTF_SET8_KFUNCS`).
        flags: u32,
        /// (id, flags) per element.
        pairs: Vec<(u32, u32)>,
        /// Slot symbols inside the set, in offset order.
        members: Vec<Member>,
    },
}

impl Entry {
    /// Offset of the entry's first word inside the section.
    pub fn offset(&self) -> u64 {
        match self {
            Entry::Slot { offset, .. } | Entry::Set { offset, .. } | Entry::Set8 { offset, .. } => {
                *offset
            }
        }
    }

    /// The full symbol name of a set or set8 (`__BTF_ID__set8__<name>`), or of a slot
    /// without its `__<digits>` suffix.
    pub fn symbol(&self) -> String {
        match self {
            Entry::Slot { kind, name, .. } => format!("{SYMBOL_PREFIX}{kind}__{name}"),
            Entry::Set { name, .. } => format!("{SYMBOL_PREFIX}set__{name}"),
            Entry::Set8 { name, .. } => format!("{SYMBOL_PREFIX}set8__{name}"),
        }
    }

    /// Size in bytes of what the entry covers.
    pub fn size(&self) -> u64 {
        match self {
            Entry::Slot { .. } => 4,
            Entry::Set { count, .. } => 4 * (u64::from(*count) + 1),
            Entry::Set8 { count, .. } => 8 * (u64::from(*count) + 1),
        }
    }
}

/// The parsed `.BTF_ids` section of one ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfIds {
    /// The ELF is big endian (the section's words are in the ELF's byte order).
    pub big_endian: bool,
    /// File offset of `.BTF_ids` (`sh_offset`).
    pub section_offset: u64,
    /// `sh_size` of `.BTF_ids`.
    pub section_size: u64,
    /// Slots outside sets, sets and set8s, sorted by offset.
    pub entries: Vec<Entry>,
}

impl BtfIds {
    /// Number of (slots, sets, set8s).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for e in &self.entries {
            match e {
                Entry::Slot { .. } => c.0 += 1,
                Entry::Set { .. } => c.1 += 1,
                Entry::Set8 { .. } => c.2 += 1,
            }
        }
        c
    }
}

/// Reads the u32 at `off` of `data` in the given byte order (`None` past the end).
pub(crate) fn read_u32(data: &[u8], off: u64, big_endian: bool) -> Option<u32> {
    let start = usize::try_from(off).ok()?;
    let bytes: [u8; 4] = data.get(start..start.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian { u32::from_be_bytes(bytes) } else { u32::from_le_bytes(bytes) })
}

/// Writes `v` at `off` of `data`; `false` when it does not fit.
pub(crate) fn write_u32(data: &mut [u8], off: u64, v: u32, big_endian: bool) -> bool {
    let bytes = if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let Some(start) = usize::try_from(off).ok() else { return false };
    let Some(end) = start.checked_add(4) else { return false };
    match data.get_mut(start..end) {
        Some(dst) => {
            dst.copy_from_slice(&bytes);
            true
        }
        None => false,
    }
}

impl BtfIds {
    /// The section's bytes in `elf`, the file it was parsed from.
    pub fn section<'a>(&self, elf: &'a [u8]) -> crate::error::Result<&'a [u8]> {
        usize::try_from(self.section_offset)
            .ok()
            .zip(usize::try_from(self.section_size).ok())
            .and_then(|(off, len)| elf.get(off..off.checked_add(len)?))
            .ok_or_else(|| {
                crate::error::Error::elf_section(
                    BTF_IDS_SECTION,
                    "section is past the end of the file",
                )
            })
    }

    /// The same symbols and layout with every value read again from `section` (e.g. the
    /// bytes [`fixup`] returned), so the result can be [`check`]ed.
    pub fn reread(&self, section: &[u8]) -> crate::error::Result<BtfIds> {
        let be = self.big_endian;
        let word = |off: u64| {
            read_u32(section, off, be).ok_or_else(|| {
                crate::error::Error::input(format!(".BTF_ids: word at {off:#x} is past the end"))
            })
        };
        let mut out = self.clone();
        for e in &mut out.entries {
            match e {
                Entry::Slot { offset, id, .. } => *id = word(*offset)?,
                Entry::Set { offset, ids, .. } => {
                    for (i, id) in (0u64..).zip(ids.iter_mut()) {
                        *id = word(offset.saturating_add(4 + 4 * i))?;
                    }
                }
                Entry::Set8 { offset, flags, pairs, .. } => {
                    *flags = word(offset.saturating_add(4))?;
                    for (i, pair) in (0u64..).zip(pairs.iter_mut()) {
                        let at = offset.saturating_add(8 + 8 * i);
                        *pair = (word(at)?, word(at.saturating_add(4))?);
                    }
                }
            }
        }
        Ok(out)
    }
}
