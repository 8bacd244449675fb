//! Kernel-verifier-equivalent validation of parsed BTF (docs/rules.md §2).
//!
//! Phases: 0 (global limits), 1 (per-type meta, `btf_check_all_metas`), 2 (type-tag
//! chains, `btf_check_type_tags`) and, at [`Level::Strict`] only, 3 (resolve,
//! `btf_check_all_types`), reported in the kernel's order: 0, 1, 2 for module BTF
//! (`btf_parse_module`), 0, 1, 3, 2 for user BTF (`btf_parse`). Phases 0-2 report the
//! lowest failing own type id, phase 3 the kernel's first failure. Base types of split
//! BTF are trusted and never checked.
//!
//! Phase 1 ([`meta`]) checks each record on its own, after a quick accept of the most
//! common kinds ([`quick_meta`]); it also lists the modifiers whose chains phase 2
//! ([`tags`]) follows. Strict validation also walks the type section once more
//! ([`graph`]), on a second thread for large inputs: it keeps one state byte and one
//! resolve byte per own type, runs the phase 3 checks at once for every type whose
//! edges all lead to finished lower ids (most of kernel BTF), and keeps a flat array of
//! by-value edges for the rest. Phase 3 ([`resolve`]) then works on those arrays and
//! that rest only, on the walk's thread. Nothing recurses: phase 3 is one iterative
//! depth-first search, linear in the number of edges. It reports the lowest failing
//! id; when there is one (or a PTR or modifier names a FUNC, or phase 1 found a bad
//! parameter name, or phase 1's thread cannot bound the kernel's resolve stack within
//! its 32 entries, [`depth`]), phase 3 runs again step by step in the kernel's order
//! ([`exact`]), which settles what fails first, or that nothing does. Identifier names are looked up in
//! a bitmap of the own string section built in one linear pass ([`idents`]), others are
//! checked 16 bytes at a time ([`names`]). For large inputs at module level, phase 1
//! and the bitmap run on two threads ([`threads`]).

mod base_chains;
mod depth;
mod exact;
mod graph;
mod idents;
mod members;
mod meta;
mod names;
mod ptr_loops;
mod quick_meta;
mod resolve;
mod spare;
mod tags;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fast;
#[cfg(test)]
mod tests_quick;
mod threads;

use crate::btf::Btf;
use crate::endian::ByteOrder;
use crate::error::{Error, Result, Section};
use crate::kind::info;
use crate::kind::limits::{MAX_BTF_SIZE, MAX_NAME_OFFSET, MAX_TYPE_ID};
use std::sync::OnceLock;

pub use threads::{max_threads, set_max_threads, PARALLEL_MIN_TYPES};

#[cfg(test)]
use names::{codes16, is_ident, is_section_name, CHAR_CLASS, C_REST, NAME_MAX};

/// How much to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    /// What the kernel checks when loading a module's split BTF: phases 0-2.
    Module,
    /// Everything, including the resolve pass `btf_parse` runs on user BTF: phases 0-3.
    #[default]
    Strict,
}

/// Options of [`validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidateOptions {
    pub level: Level,
    /// Accept the 2026 widened vlen (up to 24 bits) instead of the classic 16-bit limit.
    pub wide: bool,
}

impl ValidateOptions {
    pub fn new(level: Level, wide: bool) -> Self {
        ValidateOptions { level, wide }
    }
}

impl Btf {
    /// Validates this BTF (own types only; the base is trusted). See [`validate`].
    pub fn validate(&self, opts: &ValidateOptions) -> Result<()> {
        validate(self, opts)
    }
}

/// Checks `btf` against docs/rules.md §2 and returns the first failure as
/// [`Error::Validation`] (type id, kind name and blob offset of the offending record).
pub fn validate(btf: &Btf, opts: &ValidateOptions) -> Result<()> {
    validate_on(btf, opts, max_threads())
}

/// [`validate`] on at most `threads` threads (the result never depends on it).
fn validate_on(btf: &Btf, opts: &ValidateOptions, threads: usize) -> Result<()> {
    match btf.byte_order() {
        ByteOrder::Little => Validator::<Le>::new(btf, opts, threads).run(),
        ByteOrder::Big => Validator::<Be>::new(btf, opts, threads).run(),
    }
}

use crate::endian::{Be, Le, Rd};

/// Raw kind numbers (uapi `BTF_KIND_*`); the hot loops match on these directly.
mod k {
    pub const INT: u8 = 1;
    pub const PTR: u8 = 2;
    pub const ARRAY: u8 = 3;
    pub const STRUCT: u8 = 4;
    pub const UNION: u8 = 5;
    pub const ENUM: u8 = 6;
    pub const FWD: u8 = 7;
    pub const TYPEDEF: u8 = 8;
    pub const VOLATILE: u8 = 9;
    pub const CONST: u8 = 10;
    pub const RESTRICT: u8 = 11;
    pub const FUNC: u8 = 12;
    pub const FUNC_PROTO: u8 = 13;
    pub const VAR: u8 = 14;
    pub const DATASEC: u8 = 15;
    pub const FLOAT: u8 = 16;
    pub const DECL_TAG: u8 = 17;
    pub const TYPE_TAG: u8 = 18;
    pub const ENUM64: u8 = 19;
}

/// `btf_type_is_modifier`.
#[inline(always)]
fn is_mod(kind: u8) -> bool {
    const MODS: u32 =
        1 << k::TYPEDEF | 1 << k::VOLATILE | 1 << k::CONST | 1 << k::RESTRICT | 1 << k::TYPE_TAG;
    (MODS >> (kind & 31)) & 1 != 0
}

/// `btf_type_is_resolve_source_only`: kinds that no modifier or pointer may name (R10).
#[inline(always)]
const fn is_source_only(kind: u8) -> bool {
    matches!(kind, k::VAR | k::DATASEC | k::DECL_TAG)
}

/// Sized kinds a member / element / variable may resolve to (docs/rules.md R3).
#[inline(always)]
const fn is_sized(kind: u8) -> bool {
    matches!(
        kind,
        k::INT | k::PTR | k::ARRAY | k::STRUCT | k::UNION | k::ENUM | k::ENUM64 | k::FLOAT
    )
}

// Per-own-type state byte: raw kind in the low 5 bits, DFS colour, "reaches a loop".
const ST_KIND: u8 = 0x1f;
const ST_GREY: u8 = 0x20;
const ST_BLACK: u8 = 0x40;
const ST_BAD: u8 = 0x80;

/// Kind number for "no type" (void, ids past `last_id`).
const K_NONE: u8 = 0;

type Msg = Option<String>;

fn fail(m: &str) -> Msg {
    Some(m.to_owned())
}

struct Validator<'a, E: Rd> {
    btf: &'a Btf,
    opts: ValidateOptions,
    /// Own type section.
    sec: &'a [u8],
    /// Own string section.
    strs: &'a [u8],
    start_id: u32,
    last_id: u32,
    start_str_off: u32,
    str_end: u32,
    /// Valid identifiers of the own string section ([`idents`]), built by phase 1.
    idents: OnceLock<Option<idents::IdentMap>>,
    /// At most this many threads ([`threads`]).
    threads: usize,
    /// Resolve bytes of all base ids, built once a base chain is long ([`base_chains`]).
    base_res: OnceLock<Vec<u8>>,
    /// Whether a base FUNC_PROTO's parameters with a type all have names (R5), by id,
    /// once asked: a FUNC on it is then checked without scanning them again.
    base_protos: std::sync::Mutex<std::collections::HashMap<u32, bool>>,
    _e: std::marker::PhantomData<E>,
}

impl<'a, E: Rd> Validator<'a, E> {
    fn new(btf: &'a Btf, opts: &ValidateOptions, threads: usize) -> Self {
        Validator {
            btf,
            opts: *opts,
            sec: btf.type_section(),
            strs: btf.string_section(),
            start_id: btf.start_id(),
            last_id: btf.last_id(),
            start_str_off: btf.start_str_off(),
            str_end: btf.str_end(),
            idents: OnceLock::new(),
            threads,
            base_res: OnceLock::new(),
            base_protos: Default::default(),
            _e: std::marker::PhantomData,
        }
    }

    /// The error for own (or base) type `id`.
    #[cold]
    fn err(&self, id: u32, msg: impl Into<String>) -> Error {
        let t = self.btf.type_by_id(id);
        Error::Validation {
            message: msg.into(),
            section: Section::Types,
            type_id: Some(id),
            kind: t.map(|t| t.kind_name()),
            offset: t.map(|t| t.blob_offset()),
        }
    }

    /// Bytes from string offset `off` to the end of the section holding it.
    #[inline(always)]
    fn str_from(&self, off: u32) -> &'a [u8] {
        if off >= self.start_str_off {
            return self.strs.get((off - self.start_str_off) as usize..).unwrap_or(&[]);
        }
        self.base_str_from(off)
    }

    #[cold]
    fn base_str_from(&self, off: u32) -> &'a [u8] {
        let mut b = self.btf.base().map(|b| &**b);
        while let Some(base) = b {
            if off >= base.start_str_off() {
                let s = base.string_section();
                return s.get((off - base.start_str_off()) as usize..).unwrap_or(&[]);
            }
            b = base.base().map(|b| &**b);
        }
        &[]
    }

    /// `btf_name_valid_identifier` for the string at `off`: a bitmap lookup for own
    /// string starts, a scan otherwise.
    #[inline(always)]
    fn ident(&self, off: u32) -> bool {
        let map = self.idents.get().and_then(Option::as_ref);
        map.is_some_and(|m| m.knows(off, self.start_str_off)) || names::is_ident(self.str_from(off))
    }

    #[inline]
    fn nonempty(&self, off: u32) -> bool {
        self.str_from(off).first().is_some_and(|&c| c != 0)
    }

    #[inline(always)]
    fn own(&self, id: u32) -> bool {
        id >= self.start_id && id <= self.last_id
    }

    /// The type section and record offset of any type id in the chain.
    #[inline]
    fn rec(&self, id: u32) -> Option<(&'a [u8], usize)> {
        if id >= self.start_id {
            return Some((self.sec, self.btf.type_offset(id)? as usize));
        }
        let mut b = self.btf.base().map(|b| &**b);
        while let Some(base) = b {
            if id >= base.start_id() {
                return Some((base.type_section(), base.type_offset(id)? as usize));
            }
            b = base.base().map(|b| &**b);
        }
        None
    }

    /// Word `at` of the record of any type id (0 if there is none).
    #[inline]
    fn word_of(&self, id: u32, at: usize) -> u32 {
        self.rec(id).map_or(0, |(s, o)| E::u32(s, o + at))
    }

    /// Raw kind of any type id ([`K_NONE`] for void and ids past `last_id`).
    #[inline]
    fn kind_of(&self, id: u32) -> u8 {
        self.kind_in(&[], id)
    }

    /// [`Self::kind_of`] with own kinds read from `st` where it has them.
    #[inline]
    fn kind_in(&self, st: &[u8], id: u32) -> u8 {
        if self.own(id) {
            if let Some(&s) = st.get((id - self.start_id) as usize) {
                if s & ST_KIND != 0 {
                    return s & ST_KIND;
                }
            }
        }
        if id > self.last_id {
            return K_NONE;
        }
        info::kind(self.word_of(id, 4)) as u8
    }

    fn run(self) -> Result<()> {
        self.phase0()?;
        let n = self.st_len();
        if self.opts.level == Level::Module {
            self.build_idents(self.threads);
            let mut st = vec![0u8; n];
            let (failed, mods) = self.meta_all(&mut st, self.threads);
            self.phase1_result(failed)?;
            return self.phase1_result(self.phase2_in(&st, &mods));
        }
        // Strict: phases 1 and 2 beside the graph walk and phase 3, on two threads for
        // large inputs. Phase 3 runs where the walk left its arrays in cache. The results
        // count in `btf_parse`'s order: phase 1, then phase 3 (`btf_parse_type_sec`
        // resolves every type), then phase 2 (`btf_check_type_tags`).
        let this = &self;
        // Phases 1 and 2, and whether the kernel's resolve stack fits its limit for sure
        // ([`depth`]: from what phase 1 finds; this thread has time to spare).
        let phases12 = || {
            this.build_idents(1);
            let mut kinds = vec![0u8; n];
            let (failed, mods, finds) = this.meta_strict(&mut kinds);
            let failed2 = if failed.is_none() { this.phase2_in(&kinds, &mods) } else { None };
            let fits = failed.is_none() && this.depth_fits(&kinds, &finds.later);
            (failed, failed2, finds.bad_name, fits)
        };
        // Whether the fast phase 3 accepts, and no PTR or modifier names a FUNC (which the
        // kernel's order of steps decides).
        let phase3 = || {
            let mut g = this.graph_walk();
            let resolved = this.phase3(&mut g);
            members::give_back(std::mem::take(&mut g.ext));
            resolved.is_ok() && !g.func_target
        };
        let ((failed, failed2, bad_name, fits), accepted) = if threads::split(n, self.threads) {
            let (f, r) = threads::join2(phases12, phase3);
            (f, r.unwrap_or(false))
        } else {
            let f = phases12();
            let pass = f.0.is_none();
            (f, pass && phase3())
        };
        self.phase1_result(failed)?;
        if !accepted || !fits || bad_name.is_some() {
            // Which type fails first, with what message, or whether the kernel accepts
            // after all, is settled by its order of steps ([`exact`]).
            self.phase3_exact()?;
        }
        self.phase1_result(failed2)
    }

    /// Builds the identifier map (once) on at most `threads` threads.
    fn build_idents(&self, threads: usize) {
        self.idents.get_or_init(|| idents::IdentMap::build(self.strs, threads));
    }

    /// The error of a failed phase 1 or 2.
    fn phase1_result(&self, failed: meta::Failure) -> Result<()> {
        match failed {
            Some((i, msg)) => Err(self.err(self.start_id + i, msg)),
            None => Ok(()),
        }
    }

    // ---------------------------------------------------------------- phase 0

    fn phase0(&self) -> Result<()> {
        let strict = self.opts.level == Level::Strict;
        // G0 (`btf_parse`, user BTF only: E2BIG, logged as nothing).
        let size = self.btf.raw().len() as u64;
        if strict && size > MAX_BTF_SIZE {
            let msg = format!("BTF too large ({size} bytes; BPF_BTF_LOAD takes {MAX_BTF_SIZE})");
            return Err(Error::validation(Section::Header, msg));
        }
        // G1 (`btf_parse_str_sec`: "String section too large" / BTF_MAX_NAME_OFFSET).
        let str_len = u64::from(self.btf.header().str_len);
        if str_len > 0 && u64::from(self.start_str_off) + str_len - 1 > u64::from(MAX_NAME_OFFSET) {
            return Err(Error::validation(Section::Strings, "String section too large"));
        }
        // G3 (`btf_parse_type_sec`, user BTF only): standalone BTF has a type.
        if strict && !self.btf.is_split() && self.btf.nr_types() == 0 {
            return Err(Error::validation(Section::Types, "No type found"));
        }
        // G2 (`btf_check_all_metas` / `btf_add_type`: BTF_MAX_TYPE).
        if self.last_id > MAX_TYPE_ID {
            return Err(self.err(MAX_TYPE_ID + 1, "Too many types"));
        }
        Ok(())
    }
}
