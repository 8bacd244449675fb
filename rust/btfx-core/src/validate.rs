//! Kernel-verifier-equivalent validation of parsed BTF (docs/rules.md §2).
//!
//! Phases, in order: 0 (global limits), 1 (per-type meta, `btf_check_all_metas`),
//! 2 (type-tag chains, `btf_check_type_tags`) and, at [`Level::Strict`] only,
//! 3 (resolve, `btf_check_all_types`). Within a phase the lowest failing own type id is
//! reported. Base types of split BTF are trusted and never checked.
//!
//! The implementation reads the type section in place, keeps flat per-id state
//! (one byte per own type, plus one `u32` per own type in phase 3) and never recurses:
//! phase 3 is one iterative depth-first search over by-value edges, linear in the size
//! of the type section.

use crate::btf::Btf;
use crate::endian::ByteOrder;
use crate::error::{Error, Result};
use crate::kind::info;
use crate::kind::limits::{MAX_NAME_OFFSET, MAX_TYPE_ID};

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
    match btf.byte_order() {
        ByteOrder::Little => Validator::<Le>::new(btf, opts).run(),
        ByteOrder::Big => Validator::<Be>::new(btf, opts).run(),
    }
}

/// Longest accepted name, in bytes: `btf_name_valid_identifier` stops looking after
/// `KSYM_NAME_LEN` (512) characters and then requires the NUL.
const NAME_MAX: usize = 512;

// Character classes of `__btf_name_char_ok` / `isprint`.
const C_FIRST: u8 = 1;
const C_REST: u8 = 2;
const C_PRINT: u8 = 4;

static CHAR_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic();
        let digit = b.is_ascii_digit();
        let mut v = 0;
        if alpha || b == b'_' || b == b'.' {
            v |= C_FIRST | C_REST;
        }
        if digit {
            v |= C_REST;
        }
        if b >= 0x20 && b <= 0x7e {
            v |= C_PRINT;
        }
        t[c] = v;
        c += 1;
    }
    t
};

/// `btf_name_valid_identifier`: `[A-Za-z_.][A-Za-z0-9_.]*`, at most [`NAME_MAX`] bytes.
/// `s` runs from the name to the end of its string section (NUL-terminated by S1).
#[inline]
fn is_ident(s: &[u8]) -> bool {
    let Some(&first) = s.first() else {
        return false;
    };
    if CHAR_CLASS[first as usize] & C_FIRST == 0 {
        return false;
    }
    // 16 bytes at a time, branch-free inside a block (vectorised by the compiler).
    // Byte 0 passed the first-character test, which implies the rest-character one.
    let mut pos = 0usize;
    while let Some(Ok(block)) = s.get(pos..pos + 16).map(<&[u8; 16]>::try_from) {
        let (nul, bad) = classify16(block);
        if nul != 0 {
            // Bytes before the first NUL must all be identifier characters.
            let n = (nul.trailing_zeros() / 8) as usize;
            return bad & (nul ^ (nul - 1)) == 0 && pos + n <= NAME_MAX;
        }
        if bad != 0 || pos + 16 > NAME_MAX {
            return false;
        }
        pos += 16;
    }
    // Tail near the end of the section.
    let rest = s.get(pos..).unwrap_or(&[]);
    for (i, &c) in rest.iter().enumerate() {
        if c == 0 {
            return pos + i <= NAME_MAX;
        }
        if CHAR_CLASS[c as usize] & C_REST == 0 {
            return false;
        }
    }
    s.len() <= NAME_MAX
}

/// For 16 string bytes: byte masks (0xff per byte) of the NUL bytes and of the non-NUL
/// bytes that are not `[A-Za-z0-9_.]`, as little-endian `u128`s (byte 0 lowest).
#[inline(always)]
fn classify16(b: &[u8; 16]) -> (u128, u128) {
    let mut nul = [0u8; 16];
    let mut bad = [0u8; 16];
    for k in 0..16 {
        let c = b[k];
        let alpha = (c | 0x20).wrapping_sub(b'a') < 26;
        let digit = c.wrapping_sub(b'0') < 10;
        let ok = alpha | digit | (c == b'_') | (c == b'.') | (c == 0);
        nul[k] = if c == 0 { 0xff } else { 0 };
        bad[k] = if ok { 0 } else { 0xff };
    }
    (u128::from_le_bytes(nul), u128::from_le_bytes(bad))
}

/// `btf_name_valid_section`: non-empty, printable ASCII, at most [`NAME_MAX`] bytes.
fn is_section_name(s: &[u8]) -> bool {
    match s.first() {
        None | Some(0) => return false,
        Some(_) => {}
    }
    for (i, &c) in s.iter().enumerate() {
        if c == 0 {
            return true;
        }
        if i >= NAME_MAX || CHAR_CLASS[c as usize] & C_PRINT == 0 {
            return false;
        }
    }
    s.len() <= NAME_MAX
}

/// Byte-order specialised word reads (monomorphised to keep the hot loops branch-free).
trait Rd {
    fn u32(s: &[u8], off: usize) -> u32;
}
struct Le;
struct Be;
impl Rd for Le {
    #[inline(always)]
    fn u32(s: &[u8], off: usize) -> u32 {
        match s.get(off..off.wrapping_add(4)) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => 0,
        }
    }
}
impl Rd for Be {
    #[inline(always)]
    fn u32(s: &[u8], off: usize) -> u32 {
        match s.get(off..off.wrapping_add(4)) {
            Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
            _ => 0,
        }
    }
}

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

/// Fixed trailing bytes and bytes per vlen element, by raw kind (mirrors `kind::LAYOUTS`).
const INFO_SIZE: [u8; 20] = [0, 4, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 4, 0, 0];
const ELEM_SIZE: [u8; 20] = [
    0, 0, 0, 0, 12, 12, 8, 0, 0, 0, 0, 0, 0, 8, 0, 12, 0, 0, 0, 12,
];

/// `btf_type_is_modifier`.
#[inline(always)]
fn is_mod(kind: u8) -> bool {
    matches!(
        kind,
        k::TYPEDEF | k::VOLATILE | k::CONST | k::RESTRICT | k::TYPE_TAG
    )
}

/// Sized kinds a member / element / variable may resolve to (docs/rules.md R3).
#[inline(always)]
fn is_sized(kind: u8) -> bool {
    matches!(
        kind,
        k::INT | k::PTR | k::ARRAY | k::STRUCT | k::UNION | k::ENUM | k::ENUM64 | k::FLOAT
    )
}

/// Number of by-value edges of a record (docs/rules.md phase 3 "Edges").
#[inline(always)]
fn edge_count(kind: u8, vlen: u32) -> u32 {
    match kind {
        k::TYPEDEF
        | k::VOLATILE
        | k::CONST
        | k::RESTRICT
        | k::TYPE_TAG
        | k::FUNC
        | k::VAR
        | k::DECL_TAG => 1,
        k::ARRAY => 2,
        k::STRUCT | k::UNION | k::DATASEC => vlen,
        k::FUNC_PROTO => vlen + 1,
        _ => 0,
    }
}

/// Byte offset (in the record) of by-value edge `j`.
#[inline(always)]
fn edge_offset(kind: u8, j: u32) -> usize {
    let j = j as usize;
    match kind {
        k::ARRAY => 12 + 4 * j,
        k::STRUCT | k::UNION => 16 + 12 * j,
        k::DATASEC => 12 + 12 * j,
        k::FUNC_PROTO if j > 0 => 8 + 8 * j,
        _ => 8,
    }
}

// Per-own-type state byte: raw kind in the low 5 bits, DFS colour, "reaches a loop".
const ST_KIND: u8 = 0x1f;
const ST_GREY: u8 = 0x20;
const ST_BLACK: u8 = 0x40;
const ST_BAD: u8 = 0x80;

/// Kind number for "no type" (void, ids past `last_id`).
const K_NONE: u8 = 0;

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
    /// Per own type (index `id - start_id`): see `ST_*`.
    st: Vec<u8>,
    _e: std::marker::PhantomData<E>,
}

type Msg = Option<String>;

fn fail(m: &str) -> Msg {
    Some(m.to_owned())
}

impl<'a, E: Rd> Validator<'a, E> {
    fn new(btf: &'a Btf, opts: &ValidateOptions) -> Self {
        Validator {
            btf,
            opts: *opts,
            sec: btf.type_section(),
            strs: btf.string_section(),
            start_id: btf.start_id(),
            last_id: btf.last_id(),
            start_str_off: btf.start_str_off(),
            str_end: btf.str_end(),
            st: Vec::new(),
            _e: std::marker::PhantomData,
        }
    }

    #[inline(always)]
    fn w(&self, off: usize) -> u32 {
        E::u32(self.sec, off)
    }

    /// The error for own (or base) type `id`.
    fn err(&self, id: u32, msg: impl Into<String>) -> Error {
        let t = self.btf.type_by_id(id);
        Error::Validation {
            message: msg.into(),
            type_id: Some(id),
            kind: t.map(|t| t.kind_name()),
            offset: t.map(|t| t.blob_offset()),
        }
    }

    /// Bytes from string offset `off` to the end of the section holding it.
    #[inline]
    fn str_from(&self, off: u32) -> &'a [u8] {
        if off >= self.start_str_off {
            return self
                .strs
                .get((off - self.start_str_off) as usize..)
                .unwrap_or(&[]);
        }
        let mut b = self.btf.base().map(|b| &**b);
        while let Some(base) = b {
            if off >= base.start_str_off() {
                let s = base.string_section();
                return s
                    .get((off - base.start_str_off()) as usize..)
                    .unwrap_or(&[]);
            }
            b = base.base().map(|b| &**b);
        }
        &[]
    }

    #[inline]
    fn ident(&self, off: u32) -> bool {
        is_ident(self.str_from(off))
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
        if self.own(id) {
            if let Some(&s) = self.st.get((id - self.start_id) as usize) {
                return s & ST_KIND;
            }
        }
        if id > self.last_id {
            return K_NONE;
        }
        info::kind(self.word_of(id, 4)) as u8
    }

    fn run(mut self) -> Result<()> {
        self.phase0()?;
        self.phase1()?;
        self.phase2()?;
        if self.opts.level == Level::Strict {
            self.phase3()?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- phase 0

    fn phase0(&self) -> Result<()> {
        let str_len = self.btf.header().str_len;
        // G1 (`btf_parse_str_sec`: "String section too large" / BTF_MAX_NAME_OFFSET).
        if str_len > 0
            && u64::from(self.start_str_off) + u64::from(str_len) - 1 > u64::from(MAX_NAME_OFFSET)
        {
            return Err(Error::Validation {
                message: "String section too large".into(),
                type_id: None,
                kind: None,
                offset: None,
            });
        }
        // G2 (`btf_check_all_metas` / `btf_add_type`: BTF_MAX_TYPE).
        if self.last_id > MAX_TYPE_ID {
            return Err(self.err(MAX_TYPE_ID + 1, "Too many types"));
        }
        Ok(())
    }

    // ---------------------------------------------------------------- phase 1

    /// `btf_check_all_metas` → `btf_check_meta` → per-kind `*_check_meta`.
    fn phase1(&mut self) -> Result<()> {
        let n = self.btf.nr_types() as usize;
        let mut st = vec![0u8; n];
        let mut off = 0usize;
        for (i, s) in st.iter_mut().enumerate() {
            let inf = self.w(off + 4);
            let kind = info::kind(inf) as usize;
            if kind == 0 || kind >= INFO_SIZE.len() {
                // Unreachable after parsing (T2); never panic anyway.
                return Err(self.err(self.start_id + i as u32, format!("Unknown kind {kind}")));
            }
            *s = kind as u8;
            if let Some(msg) = self.check_meta(off, kind as u8, inf) {
                return Err(self.err(self.start_id + i as u32, msg));
            }
            off +=
                12 + INFO_SIZE[kind] as usize + info::vlen(inf) as usize * ELEM_SIZE[kind] as usize;
        }
        self.st = st;
        Ok(())
    }

    /// One record's meta rules; `Some(message)` on failure.
    #[inline(always)]
    fn check_meta(&self, o: usize, kind: u8, inf: u32) -> Msg {
        let vlen = info::vlen(inf);
        let kflag = info::kflag(inf);
        let name_off = self.w(o);
        let w8 = self.w(o + 8);

        // `btf_check_meta`: "Invalid btf_info" (classic BTF_INFO_MASK) / "Invalid name_offset".
        if !self.opts.wide && vlen > info::CLASSIC_VLEN_MAX {
            return Some(format!("Invalid btf_info: vlen {vlen} exceeds 0xffff"));
        }
        if name_off >= self.str_end {
            return fail("Invalid name_offset");
        }
        match kind {
            k::FUNC => {
                // btf_func_check_meta
                if !self.ident(name_off) {
                    return fail("Invalid name");
                }
                if vlen > 1 {
                    return fail("Invalid func linkage");
                }
                if kflag {
                    return fail("Invalid btf_info kind_flag");
                }
                None
            }
            k::FUNC_PROTO => {
                // btf_func_proto_check_meta
                if name_off != 0 {
                    return fail("Invalid name");
                }
                if kflag {
                    return fail("Invalid btf_info kind_flag");
                }
                None
            }
            k::PTR | k::CONST | k::VOLATILE | k::RESTRICT | k::TYPEDEF | k::TYPE_TAG => {
                self.ref_meta(kind, vlen, kflag, name_off, w8)
            }
            k::STRUCT | k::UNION => self.struct_meta(o, kind, vlen, kflag, name_off, w8),
            _ => self.other_meta(o, kind, vlen, kflag, name_off, w8),
        }
    }

    /// btf_ref_type_check_meta
    fn ref_meta(&self, kind: u8, vlen: u32, kflag: bool, name_off: u32, w8: u32) -> Msg {
        if vlen != 0 {
            return fail("vlen != 0");
        }
        if kflag && kind != k::TYPE_TAG {
            return fail("Invalid btf_info kind_flag");
        }
        if w8 > MAX_TYPE_ID {
            return fail("Invalid type_id");
        }
        let ok = match kind {
            k::TYPEDEF => self.ident(name_off),
            k::TYPE_TAG => self.nonempty(name_off),
            _ => name_off == 0,
        };
        if !ok {
            return fail("Invalid name");
        }
        None
    }

    /// btf_struct_check_meta
    fn struct_meta(
        &self,
        o: usize,
        kind: u8,
        vlen: u32,
        kflag: bool,
        name_off: u32,
        w8: u32,
    ) -> Msg {
        if name_off != 0 && !self.ident(name_off) {
            return fail("Invalid name");
        }
        let is_union = kind == k::UNION;
        let size = u64::from(w8);
        let mut last = 0u32;
        for j in 0..vlen as usize {
            let m = o + 12 + 12 * j;
            let m_name = self.w(m);
            if m_name >= self.str_end {
                return Some(format!("member #{j}: Invalid member name_offset"));
            }
            if m_name != 0 && !self.ident(m_name) {
                return Some(format!("member #{j}: Invalid member name"));
            }
            let m_type = self.w(m + 4);
            if m_type == 0 || m_type > MAX_TYPE_ID {
                return Some(format!("member #{j}: Invalid type_id"));
            }
            let raw = self.w(m + 8);
            let bitoff = if kflag { raw & 0x00ff_ffff } else { raw };
            if (is_union && bitoff != 0) || last > bitoff {
                return Some(format!("member #{j}: Invalid member bits_offset"));
            }
            if u64::from(bitoff).div_ceil(8) > size {
                return Some(format!(
                    "member #{j}: Member bits_offset exceeds its struct size"
                ));
            }
            last = bitoff;
        }
        None
    }

    /// The remaining kinds' meta rules.
    fn other_meta(
        &self,
        o: usize,
        kind: u8,
        vlen: u32,
        kflag: bool,
        name_off: u32,
        w8: u32,
    ) -> Msg {
        let valid_id = |id: u32| id != 0 && id <= MAX_TYPE_ID;
        match kind {
            // btf_int_check_meta
            k::INT => {
                let data = self.w(o + 12);
                if vlen != 0 {
                    return fail("vlen != 0");
                }
                if kflag {
                    return fail("Invalid btf_info kind_flag");
                }
                if data & 0xf000_0000 != 0 {
                    return Some(format!("Invalid int_data:{data:x}"));
                }
                let nr_bits = (data & 0xff) + ((data >> 16) & 0xff);
                if nr_bits > 128 {
                    return Some(format!("nr_bits:{nr_bits} exceeds 128"));
                }
                if nr_bits.div_ceil(8) > w8 {
                    return fail("nr_bits exceeds type_size");
                }
                if !matches!((data >> 24) & 0xf, 0 | 1 | 2 | 4) {
                    return fail("Unsupported encoding");
                }
            }
            // btf_fwd_check_meta
            k::FWD => {
                if vlen != 0 {
                    return fail("vlen != 0");
                }
                if w8 != 0 {
                    return fail("type != 0");
                }
                if !self.ident(name_off) {
                    return fail("Invalid name");
                }
            }
            // btf_array_check_meta
            k::ARRAY => {
                if name_off != 0 {
                    return fail("Invalid name");
                }
                if vlen != 0 {
                    return fail("vlen != 0");
                }
                if kflag {
                    return fail("Invalid btf_info kind_flag");
                }
                if w8 != 0 {
                    return fail("size != 0");
                }
                if !valid_id(self.w(o + 12)) {
                    return fail("Invalid elem");
                }
                if !valid_id(self.w(o + 16)) {
                    return fail("Invalid index");
                }
            }
            // btf_enum_check_meta / btf_enum64_check_meta
            k::ENUM | k::ENUM64 => {
                if !matches!(w8, 1 | 2 | 4 | 8) {
                    return fail("Unexpected size");
                }
                if name_off != 0 && !self.ident(name_off) {
                    return fail("Invalid name");
                }
                let step = if kind == k::ENUM64 { 12 } else { 8 };
                for j in 0..vlen as usize {
                    let v_name = self.w(o + 12 + step * j);
                    if v_name >= self.str_end {
                        return Some(format!("value #{j}: Invalid name_offset"));
                    }
                    if !self.ident(v_name) {
                        return Some(format!("value #{j}: Invalid name"));
                    }
                }
            }
            // btf_var_check_meta
            k::VAR => {
                if vlen != 0 {
                    return fail("vlen != 0");
                }
                if kflag {
                    return fail("Invalid btf_info kind_flag");
                }
                if !self.ident(name_off) {
                    return fail("Invalid name");
                }
                if !valid_id(w8) {
                    return fail("Invalid type_id");
                }
                if self.w(o + 12) > 1 {
                    return fail("Linkage not supported");
                }
            }
            // btf_datasec_check_meta
            k::DATASEC => {
                if w8 == 0 {
                    return fail("size == 0");
                }
                if kflag {
                    return fail("Invalid btf_info kind_flag");
                }
                if !is_section_name(self.str_from(name_off)) {
                    return fail("Invalid name");
                }
                let size = u64::from(w8);
                let (mut last_end, mut sum) = (0u64, 0u64);
                for j in 0..vlen as usize {
                    let v = o + 12 + 12 * j;
                    let v_off = u64::from(self.w(v + 4));
                    let v_size = u64::from(self.w(v + 8));
                    if !valid_id(self.w(v)) {
                        return Some(format!("secinfo #{j}: Invalid type_id"));
                    }
                    if v_off < last_end || v_off >= size {
                        return Some(format!("secinfo #{j}: Invalid offset"));
                    }
                    if v_size == 0 || v_size > size {
                        return Some(format!("secinfo #{j}: Invalid size"));
                    }
                    last_end = v_off + v_size;
                    if last_end > size {
                        return Some(format!("secinfo #{j}: Invalid offset+size"));
                    }
                    sum += v_size;
                }
                if sum > size {
                    return fail("Invalid btf_info size");
                }
            }
            // btf_float_check_meta
            k::FLOAT => {
                if vlen != 0 {
                    return fail("vlen != 0");
                }
                if kflag {
                    return fail("Invalid btf_info kind_flag");
                }
                if !matches!(w8, 2 | 4 | 8 | 12 | 16) {
                    return fail("Invalid type_size");
                }
            }
            // btf_decl_tag_check_meta
            k::DECL_TAG => {
                if !self.nonempty(name_off) {
                    return fail("Invalid value");
                }
                if vlen != 0 {
                    return fail("vlen != 0");
                }
                if (self.w(o + 12) as i32) < -1 {
                    return fail("Invalid component_idx");
                }
            }
            _ => return Some(format!("Unknown kind {kind}")),
        }
        None
    }

    // ---------------------------------------------------------------- phase 2

    /// `btf_check_type_tags`: type tags come first in modifier chains, chains are at most
    /// 32 long. `cur < i` stops the walk (the kernel's `cur_id <= good_id`: lower
    /// modifiers, own or base, were already checked).
    fn phase2(&self) -> Result<()> {
        for (i, &s) in self.st.iter().enumerate() {
            let kind = s & ST_KIND;
            if !is_mod(kind) {
                continue;
            }
            let id = self.start_id + i as u32;
            let mut in_tags = kind == k::TYPE_TAG;
            let mut cur = id;
            let mut kcur = kind;
            let mut limit = 32u32;
            while is_mod(kcur) {
                if limit == 0 {
                    return Err(self.err(id, "Max chain length or cycle detected"));
                }
                limit -= 1;
                if kcur == k::TYPE_TAG {
                    if !in_tags {
                        return Err(self.err(id, "Type tags don't precede modifiers"));
                    }
                } else {
                    in_tags = false;
                }
                if cur < id {
                    break;
                }
                cur = self.word_of(cur, 8);
                if cur > self.last_id {
                    return Err(self.err(id, "Invalid type_id"));
                }
                kcur = self.kind_of(cur);
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- phase 3

    /// `btf_check_all_types` / `btf_resolve` and the per-kind `*_resolve` + `btf_func_check`.
    ///
    /// One iterative colouring DFS over by-value edges between own types, started from
    /// each unvisited id in id order, then the id's own checks (everything it reaches
    /// is finished by then). R1 failures are found while scanning edges; since ids are
    /// checked in increasing order and the first failure stops, the lowest id seen
    /// failing R1 is all that needs remembering.
    fn phase3(&mut self) -> Result<()> {
        let n = self.st.len();
        // For own modifiers: the first non-modifier (or base / void / out-of-range id)
        // their chain reaches, filled when the DFS finishes them.
        let mut skip = vec![0u32; n];
        // (id, next edge, edge count, section offset)
        let mut stack: Vec<(u32, u32, u32, u32)> = Vec::with_capacity(64);
        let mut r1_min = u32::MAX;
        let mut off = 0usize;
        for i in 0..n {
            let id = self.start_id + i as u32;
            let s = self.st[i];
            let kind = s & ST_KIND;
            let vlen = info::vlen(self.w(off + 4));
            if s & (ST_GREY | ST_BLACK) == 0 {
                if edge_count(kind, vlen) == 0 {
                    self.st[i] = s | ST_BLACK;
                } else {
                    self.dfs(id, off, &mut stack, &mut skip, &mut r1_min);
                }
            }
            // R1 for PTR and FWD, whose id field is not a by-value edge.
            let r1 =
                r1_min == id || (matches!(kind, k::PTR | k::FWD) && self.w(off + 8) > self.last_id);
            let msg = if r1 {
                fail("Invalid type_id")
            } else if self.st[i] & ST_BAD != 0 {
                // R2 (`env_stack_push` / `btf_resolve`: "Loop detected").
                fail("Loop detected")
            } else {
                self.check_resolved(off, kind, vlen, &skip)
            };
            if let Some(msg) = msg {
                return Err(self.err(id, msg));
            }
            off += 12
                + INFO_SIZE[kind as usize % 20] as usize
                + vlen as usize * ELEM_SIZE[kind as usize % 20] as usize;
        }
        Ok(())
    }

    /// Iterative colouring DFS from `root` (at section offset `root_off`).
    /// Marks `ST_BAD` on every node that reaches a cycle and fills `skip` for modifiers.
    fn dfs(
        &mut self,
        root: u32,
        root_off: usize,
        stack: &mut Vec<(u32, u32, u32, u32)>,
        skip: &mut [u32],
        r1_min: &mut u32,
    ) {
        let start = self.start_id;
        let last = self.last_id;
        let sec = self.sec;
        let st = &mut self.st;
        let push = |st: &mut [u8], stack: &mut Vec<_>, id: u32, off: usize| {
            let idx = (id - start) as usize;
            st[idx] |= ST_GREY;
            let cnt = edge_count(st[idx] & ST_KIND, info::vlen(E::u32(sec, off + 4)));
            stack.push((id, 0u32, cnt, off as u32));
        };
        push(st, stack, root, root_off);
        while let Some(top) = stack.last_mut() {
            let (u, j, cnt, off) = *top;
            let ui = (u - start) as usize;
            let kind = st[ui] & ST_KIND;
            if j < cnt {
                top.1 += 1;
                let w = E::u32(sec, off as usize + edge_offset(kind, j));
                if w < start {
                    continue; // void or a (trusted) base type
                }
                if w > last {
                    *r1_min = (*r1_min).min(u);
                    continue;
                }
                let wi = (w - start) as usize;
                let sw = st[wi];
                if sw & ST_BLACK != 0 {
                    if sw & ST_BAD != 0 {
                        st[ui] |= ST_BAD;
                    }
                } else if sw & ST_GREY != 0 {
                    // Back edge: `u` is on a cycle through `w`.
                    st[ui] |= ST_BAD;
                } else {
                    let woff = self.btf.type_offset(w).unwrap_or(0) as usize;
                    push(st, stack, w, woff);
                }
                continue;
            }
            stack.pop();
            let s = (st[ui] & !ST_GREY) | ST_BLACK;
            st[ui] = s;
            if s & ST_BAD != 0 {
                if let Some(parent) = stack.last() {
                    st[(parent.0 - start) as usize] |= ST_BAD;
                }
            } else if is_mod(kind) {
                let w = E::u32(sec, off as usize + 8);
                skip[ui] = if w >= start && w <= last && is_mod(st[(w - start) as usize] & ST_KIND)
                {
                    skip[(w - start) as usize]
                } else {
                    w
                };
            }
        }
    }

    /// Skips modifiers from `id`: the first non-modifier id (0 for void, or an id past
    /// `last_id`). Own chains use the memo; base chains are walked (the base is trusted,
    /// but the walk is bounded so a cyclic base cannot hang it).
    #[inline]
    fn skip_mods(&self, id: u32, skip: &[u32]) -> u32 {
        let mut cur = id;
        if self.own(cur) {
            let i = (cur - self.start_id) as usize;
            if !is_mod(self.st[i] & ST_KIND) {
                return cur;
            }
            cur = skip[i];
        }
        let mut budget = self.start_id;
        while cur != 0 && cur < self.start_id && budget > 0 {
            if !is_mod(self.kind_of(cur)) {
                break;
            }
            cur = self.word_of(cur, 8);
            budget -= 1;
        }
        cur
    }

    #[inline]
    fn sized(&self, id: u32, skip: &[u32]) -> bool {
        is_sized(self.kind_of(self.skip_mods(id, skip)))
    }

    /// R3-R7 for the own type at section offset `o` (R1/R2 already passed).
    #[inline]
    fn check_resolved(&self, o: usize, kind: u8, vlen: u32, skip: &[u32]) -> Msg {
        match kind {
            // R5: btf_func_check.
            k::FUNC => self.func_check(self.w(o + 8)),
            // R3: btf_struct_resolve ("Invalid member").
            k::STRUCT | k::UNION => {
                for j in 0..vlen {
                    if !self.sized(self.w(o + 16 + 12 * j as usize), skip) {
                        return Some(format!("member #{j}: Invalid member"));
                    }
                }
                None
            }
            // R3 + R4: btf_array_resolve ("Invalid elem" / "Invalid index").
            k::ARRAY => {
                if !self.sized(self.w(o + 12), skip) {
                    return fail("Invalid elem");
                }
                if !self.regular_int(self.skip_mods(self.w(o + 16), skip)) {
                    return fail("Invalid index");
                }
                None
            }
            // R3: btf_var_resolve ("Invalid type").
            k::VAR => {
                if !self.sized(self.w(o + 8), skip) {
                    return fail("Invalid type");
                }
                None
            }
            // R6: btf_datasec_resolve.
            k::DATASEC => {
                for j in 0..vlen {
                    let v = self.w(o + 12 + 12 * j as usize);
                    if !matches!(self.kind_of(v), k::VAR | k::FUNC) {
                        return Some(format!("secinfo #{j}: Not a VAR kind member"));
                    }
                }
                None
            }
            // R7: btf_decl_tag_resolve.
            k::DECL_TAG => {
                let target = self.w(o + 8);
                let tk = self.kind_of(target);
                if !matches!(tk, k::STRUCT | k::UNION | k::FUNC | k::VAR | k::TYPEDEF) {
                    return fail("Invalid type_id");
                }
                let comp = self.w(o + 12) as i32;
                if comp != -1 {
                    let n = match tk {
                        k::STRUCT | k::UNION => info::vlen(self.word_of(target, 4)),
                        k::FUNC => {
                            let proto = self.word_of(target, 8);
                            if proto > self.last_id {
                                0
                            } else {
                                info::vlen(self.word_of(proto, 4))
                            }
                        }
                        _ => 0,
                    };
                    if comp < 0 || comp as u32 >= n {
                        return fail("Invalid component_idx");
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// R5 (`btf_func_check`): the FUNC's type is a FUNC_PROTO whose params all have a
    /// name and a type, except a final `{0, 0}` (varargs).
    #[inline]
    fn func_check(&self, proto: u32) -> Msg {
        if self.kind_of(proto) != k::FUNC_PROTO {
            return fail("Invalid type_id");
        }
        let Some((sec, o)) = self.rec(proto) else {
            return fail("Invalid type_id");
        };
        let nargs = info::vlen(E::u32(sec, o + 4)) as usize;
        for j in 0..nargs {
            let name = E::u32(sec, o + 12 + 8 * j);
            let ty = E::u32(sec, o + 16 + 8 * j);
            if (name == 0 || ty == 0) && !(j + 1 == nargs && name == 0 && ty == 0) {
                return Some(format!("Invalid arg#{}", j + 1));
            }
        }
        None
    }

    /// R4: a regular INT — bit offset 0, bits a multiple of 8, `bits / 8` ∈ {1,2,4,8}
    /// (`btf_type_int_is_regular`; the size word is not consulted).
    fn regular_int(&self, id: u32) -> bool {
        if self.kind_of(id) != k::INT {
            return false;
        }
        let Some((sec, o)) = self.rec(id) else {
            return false;
        };
        let data = E::u32(sec, o + 12);
        let bits = data & 0xff;
        (data >> 16) & 0xff == 0 && bits % 8 == 0 && matches!(bits / 8, 1 | 2 | 4 | 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const INT: u32 = 1;
    const PTR: u32 = 2;
    const ARRAY: u32 = 3;
    const STRUCT: u32 = 4;
    const UNION: u32 = 5;
    const ENUM: u32 = 6;
    const FWD: u32 = 7;
    const TYPEDEF: u32 = 8;
    const VOLATILE: u32 = 9;
    const CONST: u32 = 10;
    const RESTRICT: u32 = 11;
    const FUNC: u32 = 12;
    const PROTO: u32 = 13;
    const VAR: u32 = 14;
    const DATASEC: u32 = 15;
    const FLOAT: u32 = 16;
    const DECL_TAG: u32 = 17;
    const TYPE_TAG: u32 = 18;
    const ENUM64: u32 = 19;

    /// Hand-built little-endian BTF.
    struct B {
        types: Vec<u8>,
        strs: Vec<u8>,
        str_base: u32,
        be: bool,
    }

    impl B {
        fn new() -> B {
            B {
                types: Vec::new(),
                strs: vec![0],
                str_base: 0,
                be: false,
            }
        }
        /// Own strings of a split BTF on `base`.
        fn split(base: &Btf) -> B {
            B {
                types: Vec::new(),
                strs: Vec::new(),
                str_base: base.str_end(),
                be: false,
            }
        }
        fn s(&mut self, name: &str) -> u32 {
            let off = self.str_base + self.strs.len() as u32;
            self.strs.extend_from_slice(name.as_bytes());
            self.strs.push(0);
            off
        }
        fn u(&mut self, w: u32) -> &mut Self {
            let b = if self.be {
                w.to_be_bytes()
            } else {
                w.to_le_bytes()
            };
            self.types.extend_from_slice(&b);
            self
        }
        /// A `btf_type` head; `name` is a string to add ("" = name_off 0).
        fn t(&mut self, name: &str, kind: u32, vlen: u32, kflag: bool, w8: u32) -> &mut Self {
            let off = if name.is_empty() { 0 } else { self.s(name) };
            self.raw(off, kind, vlen, kflag, w8)
        }
        fn raw(&mut self, name_off: u32, kind: u32, vlen: u32, kflag: bool, w8: u32) -> &mut Self {
            let info = (kind << 24) | vlen | if kflag { 1 << 31 } else { 0 };
            self.u(name_off).u(info).u(w8)
        }
        fn int(&mut self, name: &str, size: u32, bits: u32) -> &mut Self {
            self.t(name, INT, 0, false, size).u(bits)
        }
        fn m(&mut self, name: &str, ty: u32, off: u32) -> &mut Self {
            let n = if name.is_empty() { 0 } else { self.s(name) };
            self.u(n).u(ty).u(off)
        }
        fn blob(&self) -> Vec<u8> {
            let mut out = Vec::new();
            let w = |out: &mut Vec<u8>, v: u32| {
                out.extend_from_slice(&if self.be {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                })
            };
            out.extend_from_slice(if self.be {
                &[0xeb, 0x9f, 1, 0]
            } else {
                &[0x9f, 0xeb, 1, 0]
            });
            w(&mut out, 24);
            w(&mut out, 0);
            w(&mut out, self.types.len() as u32);
            w(&mut out, self.types.len() as u32);
            w(&mut out, self.strs.len() as u32);
            out.extend_from_slice(&self.types);
            out.extend_from_slice(&self.strs);
            out
        }
        fn btf(&self) -> Btf {
            Btf::from_slice(&self.blob(), None).expect("test blob parses")
        }
        fn btf_on(&self, base: &Arc<Btf>) -> Btf {
            Btf::from_slice(&self.blob(), Some(base.clone())).expect("split blob parses")
        }
    }

    fn run(btf: &Btf, level: Level, wide: bool) -> Result<()> {
        btf.validate(&ValidateOptions { level, wide })
    }

    /// The failing type id under strict validation (`Some(None)`: failed without id).
    fn fails(btf: &Btf) -> Option<Option<u32>> {
        match run(btf, Level::Strict, false) {
            Ok(()) => None,
            Err(e @ Error::Validation { .. }) => Some(e.type_id()),
            Err(e) => panic!("unexpected error class: {e:?}"),
        }
    }

    fn msg(btf: &Btf, level: Level) -> String {
        run(btf, level, false).unwrap_err().to_string()
    }

    /// One of every kind, all valid.
    fn all_kinds() -> B {
        let mut b = B::new();
        b.int("int", 4, (1 << 24) | 32); // 1
        b.t("", PTR, 0, false, 1); // 2
        b.t("", ARRAY, 0, false, 0).u(1).u(1).u(4); // 3
        b.t("s", STRUCT, 2, false, 16).m("a", 1, 0).m("b", 2, 64); // 4
        b.t("u", UNION, 1, false, 4).m("x", 1, 0); // 5
        b.t("e", ENUM, 1, false, 4);
        let a = b.s("A");
        b.u(a).u(0); // 6
        b.t("f", FWD, 0, true, 0); // 7
        b.t("td", TYPEDEF, 0, false, 1); // 8
        b.t("", VOLATILE, 0, false, 1); // 9
        b.t("", CONST, 0, false, 1); // 10
        b.t("", RESTRICT, 0, false, 2); // 11
        b.t("", PROTO, 2, false, 1);
        let p = b.s("p");
        b.u(p).u(1).u(0).u(0); // 12
        b.t("fn", FUNC, 1, false, 12); // 13
        b.t("v", VAR, 0, false, 1).u(1); // 14
        b.t(".data..x", DATASEC, 2, false, 16)
            .u(14)
            .u(0)
            .u(4)
            .u(13)
            .u(8)
            .u(8); // 15
        b.t("float", FLOAT, 0, false, 8); // 16
        b.t("tag", DECL_TAG, 0, true, 4).u(1); // 17
        b.t("tt", TYPE_TAG, 0, true, 10); // 18
        b.t("e64", ENUM64, 1, true, 8);
        let c = b.s("C");
        b.u(c).u(1).u(2); // 19
        b.t("ftag", DECL_TAG, 0, false, 13).u(0); // 20
        b.t("vtag", DECL_TAG, 0, false, 14).u(u32::MAX); // 21
        b.t("", ARRAY, 0, false, 0).u(4).u(8).u(0); // 22: index through a typedef
        b
    }

    #[test]
    fn size_tables_match_the_kind_table() {
        for kind in crate::kind::Kind::ALL {
            let l = kind.layout();
            assert_eq!(u32::from(INFO_SIZE[kind as usize]), l.info_size, "{kind:?}");
            assert_eq!(u32::from(ELEM_SIZE[kind as usize]), l.elem_size, "{kind:?}");
            assert_eq!(is_mod(kind as u8), kind.is_modifier());
        }
    }

    #[test]
    fn all_kinds_valid_at_both_levels() {
        let b = all_kinds();
        for be in [false, true] {
            let mut b2 = B { be, ..B::new() };
            if be {
                // Re-encode the same records big-endian.
                b2.strs = b.strs.clone();
                for w in b.types.chunks(4) {
                    b2.u(u32::from_le_bytes(w.try_into().unwrap()));
                }
            } else {
                b2 = all_kinds();
            }
            let btf = b2.btf();
            assert_eq!(btf.byte_order() == ByteOrder::Big, be);
            run(&btf, Level::Strict, false).unwrap();
            run(&btf, Level::Module, false).unwrap();
            run(&btf, Level::Strict, true).unwrap();
        }
    }

    /// Builds `all_kinds()` plus whatever `f` adds (ids from 23).
    fn with(f: impl FnOnce(&mut B)) -> Btf {
        let mut b = all_kinds();
        f(&mut b);
        b.btf()
    }

    const N: u32 = 23; // first id added by `with`

    #[test]
    fn error_carries_kind_and_offset() {
        let btf = with(|b| {
            b.t("", PTR, 1, false, 1);
        });
        let e = run(&btf, Level::Module, false).unwrap_err();
        let t = btf.type_by_id(N).unwrap();
        match e {
            Error::Validation {
                type_id,
                kind,
                offset,
                ref message,
            } => {
                assert_eq!(type_id, Some(N));
                assert_eq!(kind, Some("PTR"));
                assert_eq!(offset, Some(t.blob_offset()));
                assert_eq!(message, "vlen != 0");
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn common_meta() {
        // M1: vlen > 0xffff only with wide.
        let mut b = B::new();
        b.int("int", 4, 32);
        b.t("s", STRUCT, 0x10000, false, 4);
        for _ in 0..0x10000 {
            b.m("", 1, 0);
        }
        let btf = b.btf();
        assert_eq!(fails(&btf), Some(Some(2)));
        assert!(msg(&btf, Level::Module).contains("Invalid btf_info"));
        run(&btf, Level::Strict, true).unwrap();
        // M2: name_off past the string section.
        let btf = with(|b| {
            let end = b.strs.len() as u32;
            b.raw(end, INT, 0, false, 4).u(32);
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        assert_eq!(msg(&btf, Level::Module), "Invalid name_offset");
        // ...and just inside it is fine (the final NUL: the empty name).
        let btf = with(|b| {
            let end = b.strs.len() as u32 - 1;
            b.raw(end, INT, 0, false, 4).u(32);
        });
        assert_eq!(fails(&btf), None);
    }

    #[test]
    fn int_meta() {
        let ok = |data: u32, size: u32| {
            fails(&with(|b| {
                b.int("i", size, data);
            }))
        };
        assert_eq!(ok(32, 4), None);
        assert_eq!(ok(1 << 24 | 8, 1), None); // signed char-ish
        assert_eq!(ok(4 << 24 | 8, 1), None); // bool
        assert_eq!(ok(2 << 24 | 8, 1), None); // char
        assert_eq!(ok(128, 16), None);
        assert_eq!(ok(3 << 24 | 8, 1), Some(Some(N))); // encoding
        assert_eq!(ok(8 << 24 | 8, 1), Some(Some(N)));
        assert_eq!(ok(0x1000_0000 | 8, 1), Some(Some(N))); // reserved bits
        assert_eq!(ok(120 | 16 << 16, 32), Some(Some(N))); // bits + offset > 128
        assert_eq!(ok(4 | 5 << 16, 1), Some(Some(N))); // 9 bits in 1 byte
        assert_eq!(ok(4 | 4 << 16, 1), None);
        assert_eq!(
            fails(&with(|b| {
                b.t("i", INT, 1, false, 4).u(32);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("i", INT, 0, true, 4).u(32);
            })),
            Some(Some(N))
        );
        // INT names are not checked.
        assert_eq!(
            fails(&with(|b| {
                b.int("not an ident", 4, 32);
            })),
            None
        );
    }

    #[test]
    fn ref_meta() {
        for k in [PTR, CONST, VOLATILE, RESTRICT] {
            assert_eq!(
                fails(&with(|b| {
                    b.t("", k, 0, false, 1);
                })),
                None
            );
            assert_eq!(
                fails(&with(|b| {
                    b.t("n", k, 0, false, 1);
                })),
                Some(Some(N))
            );
            assert_eq!(
                fails(&with(|b| {
                    b.t("", k, 1, false, 1);
                })),
                Some(Some(N))
            );
            assert_eq!(
                fails(&with(|b| {
                    b.t("", k, 0, true, 1);
                })),
                Some(Some(N))
            );
            let e = with(|b| {
                b.t("", k, 0, false, MAX_TYPE_ID + 1);
            });
            assert_eq!(fails(&e), Some(Some(N)));
            assert_eq!(msg(&e, Level::Module), "Invalid type_id");
        }
        // TYPEDEF: identifier; TYPE_TAG: non-empty, kflag allowed.
        assert_eq!(
            fails(&with(|b| {
                b.t("_t.1", TYPEDEF, 0, false, 1);
            })),
            None
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("", TYPEDEF, 0, false, 1);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("1t", TYPEDEF, 0, false, 1);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("a-b", TYPEDEF, 0, false, 1);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("t", TYPEDEF, 0, true, 1);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("any thing!", TYPE_TAG, 0, true, 1);
            })),
            None
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("", TYPE_TAG, 0, false, 1);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("x", TYPE_TAG, 1, false, 1);
            })),
            Some(Some(N))
        );
    }

    #[test]
    fn name_length_limit() {
        let name = |n: usize| "a".repeat(n);
        assert_eq!(
            fails(&with(|b| {
                b.t(&name(NAME_MAX), TYPEDEF, 0, false, 1);
            })),
            None
        );
        assert_eq!(
            fails(&with(|b| {
                b.t(&name(NAME_MAX + 1), TYPEDEF, 0, false, 1);
            })),
            Some(Some(N))
        );
        let sec = |n: usize| format!(".{}", "s".repeat(n - 1));
        assert_eq!(
            fails(&with(|b| {
                b.t(&sec(NAME_MAX), DATASEC, 0, false, 1);
            })),
            None
        );
        assert_eq!(
            fails(&with(|b| {
                b.t(&sec(NAME_MAX + 1), DATASEC, 0, false, 1);
            })),
            Some(Some(N))
        );
        for c in 0..=255u8 {
            for pos in 0..8 {
                let mut bytes = *b"abcdefgh";
                bytes[pos] = c;
                let mut block = *b"abcdefghijklmnop";
                block[..8].copy_from_slice(&bytes);
                let (nul, bad) = classify16(&block);
                let bit = 0xffu128 << (8 * pos);
                assert_eq!(nul, if c == 0 { bit } else { 0 }, "{c:#x}@{pos}");
                let want_bad = c != 0 && CHAR_CLASS[c as usize] & C_REST == 0;
                assert_eq!(bad, if want_bad { bit } else { 0 }, "{c:#x}@{pos}");
            }
        }
        for n in 1..40 {
            let mut v = vec![b'x'; n];
            v.push(0);
            v.extend_from_slice(b"-- junk after --");
            assert!(is_ident(&v), "{n}");
            v[n - 1] = b'-';
            assert!(!is_ident(&v), "{n}");
        }
        assert!(is_ident(b"a\0"));
        assert!(!is_ident(b"\0"));
        assert!(!is_ident(b""));
        assert!(is_ident(b"abc")); // unterminated: the section end terminates
        assert!(!is_ident(b"9"));
        assert!(is_section_name(b"license sec!~\0"));
        assert!(!is_section_name(b"\x7f\0"));
        assert!(!is_section_name(b"\0"));
    }

    #[test]
    fn fwd_and_array_meta() {
        assert_eq!(
            fails(&with(|b| {
                b.t("f", FWD, 0, false, 0);
            })),
            None
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("", FWD, 0, false, 0);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("f", FWD, 0, false, 1);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("f", FWD, 1, false, 0);
            })),
            Some(Some(N))
        );
        let arr = |name: &str, vlen, kflag, size, elem, index| {
            fails(&with(|b| {
                b.t(name, ARRAY, vlen, kflag, size).u(elem).u(index).u(2);
            }))
        };
        assert_eq!(arr("", 0, false, 0, 1, 1), None);
        assert_eq!(arr("a", 0, false, 0, 1, 1), Some(Some(N)));
        assert_eq!(arr("", 1, false, 0, 1, 1), Some(Some(N)));
        assert_eq!(arr("", 0, true, 0, 1, 1), Some(Some(N)));
        assert_eq!(arr("", 0, false, 4, 1, 1), Some(Some(N)));
        assert_eq!(arr("", 0, false, 0, 0, 1), Some(Some(N)));
        assert_eq!(arr("", 0, false, 0, 1, 0), Some(Some(N)));
        assert_eq!(arr("", 0, false, 0, MAX_TYPE_ID + 1, 1), Some(Some(N)));
        assert_eq!(arr("", 0, false, 0, 1, MAX_TYPE_ID + 1), Some(Some(N)));
    }

    #[test]
    fn struct_meta() {
        let st = |kind: u32, name: &str, kflag: bool, size: u32, ms: &[(&str, u32, u32)]| {
            fails(&with(|b| {
                b.t(name, kind, ms.len() as u32, kflag, size);
                for &(n, t, o) in ms {
                    b.m(n, t, o);
                }
            }))
        };
        assert_eq!(st(STRUCT, "", false, 8, &[("a", 1, 0), ("", 1, 32)]), None);
        assert_eq!(st(STRUCT, "9", false, 8, &[]), Some(Some(N)));
        assert_eq!(st(STRUCT, "s", false, 8, &[("a b", 1, 0)]), Some(Some(N)));
        assert_eq!(st(STRUCT, "s", false, 8, &[("a", 0, 0)]), Some(Some(N)));
        assert_eq!(
            st(STRUCT, "s", false, 8, &[("a", MAX_TYPE_ID + 1, 0)]),
            Some(Some(N))
        );
        // Offsets must not decrease; equal offsets are fine (bitfields).
        assert_eq!(
            st(STRUCT, "s", false, 8, &[("a", 1, 32), ("b", 1, 32)]),
            None
        );
        assert_eq!(
            st(STRUCT, "s", false, 8, &[("a", 1, 32), ("b", 1, 0)]),
            Some(Some(N))
        );
        // ceil(bitoff / 8) <= size.
        assert_eq!(st(STRUCT, "s", false, 8, &[("a", 1, 64)]), None);
        assert_eq!(st(STRUCT, "s", false, 8, &[("a", 1, 65)]), Some(Some(N)));
        assert_eq!(
            st(STRUCT, "s", false, 8, &[("a", 1, u32::MAX)]),
            Some(Some(N))
        );
        // kflag: bitfield size in the top byte is ignored for the offset.
        assert_eq!(st(STRUCT, "s", true, 8, &[("a", 1, 3 << 24 | 8)]), None);
        assert_eq!(
            st(STRUCT, "s", false, 8, &[("a", 1, 3 << 24 | 8)]),
            Some(Some(N))
        );
        // Unions: every member at 0.
        assert_eq!(st(UNION, "u", false, 4, &[("a", 1, 0), ("b", 1, 0)]), None);
        assert_eq!(
            st(UNION, "u", false, 8, &[("a", 1, 0), ("b", 1, 8)]),
            Some(Some(N))
        );
        assert_eq!(st(UNION, "u", true, 4, &[("a", 1, 5 << 24)]), None);
        // Member name offset out of range.
        let btf = with(|b| {
            b.t("", STRUCT, 1, false, 4);
            let end = b.strs.len() as u32;
            b.u(end).u(1).u(0);
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        assert!(msg(&btf, Level::Module).contains("name_offset"));
    }

    #[test]
    fn enum_meta() {
        for k in [ENUM, ENUM64] {
            let en = |name: &str, size: u32, vals: &[&str]| {
                fails(&with(|b| {
                    b.t(name, k, vals.len() as u32, false, size);
                    for v in vals {
                        let o = if v.is_empty() { 0 } else { b.s(v) };
                        b.u(o).u(7);
                        if k == ENUM64 {
                            b.u(0);
                        }
                    }
                }))
            };
            for size in [1, 2, 4, 8] {
                assert_eq!(en("", size, &["A", "B"]), None);
            }
            for size in [0, 3, 5, 16] {
                assert_eq!(en("e", size, &["A"]), Some(Some(N)));
            }
            assert_eq!(en("e e", 4, &["A"]), Some(Some(N)));
            assert_eq!(en("e", 4, &["A", ""]), Some(Some(N)));
            assert_eq!(en("e", 4, &["A", "-"]), Some(Some(N)));
            assert_eq!(en("e", 4, &[]), None);
        }
    }

    #[test]
    fn func_var_datasec_float_decl_tag_meta() {
        assert_eq!(
            fails(&with(|b| {
                b.t("g", FUNC, 0, false, 12);
            })),
            None
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("g", FUNC, 2, false, 12);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("g", FUNC, 0, true, 12);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("", FUNC, 0, false, 12);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("p", PROTO, 0, false, 0);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("", PROTO, 0, true, 0);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("", PROTO, 0, false, 0);
            })),
            None
        );

        let var = |name: &str, vlen, kflag, ty, linkage| {
            fails(&with(|b| {
                b.t(name, VAR, vlen, kflag, ty).u(linkage);
            }))
        };
        assert_eq!(var("v", 0, false, 1, 0), None);
        assert_eq!(var("v", 0, false, 1, 2), Some(Some(N)));
        assert_eq!(var("v", 1, false, 1, 0), Some(Some(N)));
        assert_eq!(var("v", 0, true, 1, 0), Some(Some(N)));
        assert_eq!(var("", 0, false, 1, 0), Some(Some(N)));
        assert_eq!(var("v", 0, false, 0, 0), Some(Some(N)));
        assert_eq!(var("v", 0, false, MAX_TYPE_ID + 1, 0), Some(Some(N)));

        let ds = |name: &str, kflag, size, vs: &[(u32, u32, u32)]| {
            fails(&with(|b| {
                b.t(name, DATASEC, vs.len() as u32, kflag, size);
                for &(t, o, s) in vs {
                    b.u(t).u(o).u(s);
                }
            }))
        };
        assert_eq!(ds(".bss", false, 8, &[(14, 0, 4), (14, 4, 4)]), None);
        assert_eq!(ds(".bss", false, 8, &[]), None);
        assert_eq!(ds(".bss", false, 0, &[]), Some(Some(N)));
        assert_eq!(ds(".bss", true, 8, &[]), Some(Some(N)));
        assert_eq!(ds("", false, 8, &[]), Some(Some(N)));
        assert_eq!(ds("a\tb", false, 8, &[]), Some(Some(N)));
        assert_eq!(ds(".bss", false, 8, &[(0, 0, 4)]), Some(Some(N)));
        assert_eq!(
            ds(".bss", false, 8, &[(14, 4, 4), (14, 0, 4)]),
            Some(Some(N))
        );
        assert_eq!(ds(".bss", false, 8, &[(14, 8, 1)]), Some(Some(N))); // offset >= size
        assert_eq!(ds(".bss", false, 8, &[(14, 0, 0)]), Some(Some(N)));
        assert_eq!(ds(".bss", false, 8, &[(14, 0, 9)]), Some(Some(N)));
        assert_eq!(ds(".bss", false, 8, &[(14, 6, 4)]), Some(Some(N))); // offset+size
        assert_eq!(ds(".bss", false, 8, &[(14, 7, u32::MAX)]), Some(Some(N)));

        for (size, ok) in [
            (2, true),
            (4, true),
            (8, true),
            (12, true),
            (16, true),
            (1, false),
        ] {
            let r = fails(&with(|b| {
                b.t("f", FLOAT, 0, false, size);
            }));
            assert_eq!(r.is_none(), ok, "float size {size}");
        }
        assert_eq!(
            fails(&with(|b| {
                b.t("f", FLOAT, 1, false, 4);
            })),
            Some(Some(N))
        );
        assert_eq!(
            fails(&with(|b| {
                b.t("f", FLOAT, 0, true, 4);
            })),
            Some(Some(N))
        );

        let dt = |name: &str, vlen, kflag, ty, comp: i32| {
            fails(&with(|b| {
                b.t(name, DECL_TAG, vlen, kflag, ty).u(comp as u32);
            }))
        };
        assert_eq!(dt("x y", 0, true, 4, -1), None);
        assert_eq!(dt("", 0, false, 4, -1), Some(Some(N)));
        assert_eq!(dt("x", 1, false, 4, -1), Some(Some(N)));
        assert_eq!(dt("x", 0, false, 4, -2), Some(Some(N)));
    }

    #[test]
    fn meta_reports_lowest_id_and_precedes_later_phases() {
        // id N fails resolve (loop), id N+2 fails meta: meta wins even in strict mode.
        let btf = with(|b| {
            b.t("a", TYPEDEF, 0, false, N + 1); // N
            b.t("b", TYPEDEF, 0, false, N); // N+1
            b.t("", PTR, 0, true, 1); // N+2
            b.t("", PTR, 0, true, 1); // N+3
        });
        assert_eq!(fails(&btf), Some(Some(N + 2)));
    }

    #[test]
    fn type_tag_chains() {
        // tag -> tag -> const -> int: fine.
        let btf = with(|b| {
            b.t("t1", TYPE_TAG, 0, false, N + 1);
            b.t("t2", TYPE_TAG, 0, false, 10);
        });
        assert_eq!(fails(&btf), None);
        // const -> tag: "Type tags don't precede modifiers", on the const.
        let btf = with(|b| {
            b.t("", CONST, 0, false, N + 1);
            b.t("t", TYPE_TAG, 0, false, 1);
        });
        assert_eq!(
            run(&btf, Level::Module, false).unwrap_err().type_id(),
            Some(N)
        );
        assert_eq!(
            msg(&btf, Level::Module),
            "Type tags don't precede modifiers"
        );
        // Reverse order of ids: the tag is checked at id N+1, reaching const N (< N+1)
        // stops the walk but the const itself was checked first and fails.
        let btf = with(|b| {
            b.t("t", TYPE_TAG, 0, false, 1); // N
            b.t("", VOLATILE, 0, false, N); // N+1: volatile -> tag
        });
        assert_eq!(
            run(&btf, Level::Module, false).unwrap_err().type_id(),
            Some(N + 1)
        );
        // ptr breaks chains: const -> ptr -> tag is fine.
        let btf = with(|b| {
            b.t("", CONST, 0, false, N + 1);
            b.t("", PTR, 0, false, N + 2);
            b.t("t", TYPE_TAG, 0, false, 1);
        });
        assert_eq!(fails(&btf), None);
        // typedef -> tag also fails (typedef is a modifier).
        let btf = with(|b| {
            b.t("td2", TYPEDEF, 0, false, 18);
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        // Chain limit: 33 modifiers in a row, ids increasing.
        let chain = |len: u32| {
            with(|b| {
                for i in 0..len {
                    let next = if i + 1 == len { 1 } else { N + i + 1 };
                    b.t("", CONST, 0, false, next);
                }
            })
        };
        assert_eq!(run(&chain(32), Level::Module, false), Ok(()));
        let btf = chain(33);
        assert_eq!(
            run(&btf, Level::Module, false).unwrap_err().type_id(),
            Some(N)
        );
        assert_eq!(
            msg(&btf, Level::Module),
            "Max chain length or cycle detected"
        );
        // A cycle of modifiers is caught here, at module level already.
        let btf = with(|b| {
            b.t("", CONST, 0, false, N + 1);
            b.t("", VOLATILE, 0, false, N);
        });
        assert_eq!(
            run(&btf, Level::Module, false).unwrap_err().type_id(),
            Some(N)
        );
        // Out-of-range id at the end of a chain.
        let btf = with(|b| {
            b.t("", CONST, 0, false, N + 1);
            b.t("", VOLATILE, 0, false, N + 7);
        });
        let e = run(&btf, Level::Module, false).unwrap_err();
        assert_eq!(
            (e.type_id(), e.to_string().as_str()),
            (Some(N), "Invalid type_id")
        );
        // Self-loop of a typedef.
        let btf = with(|b| {
            b.t("x", TYPEDEF, 0, false, N);
        });
        assert_eq!(
            run(&btf, Level::Module, false).unwrap_err().type_id(),
            Some(N)
        );
    }

    #[test]
    fn resolve_r1_invalid_ids() {
        for (k, extra) in [
            (PTR, None),
            (TYPEDEF, None),
            (FUNC, None),
            (VAR, Some(0)),
            (DECL_TAG, Some(u32::MAX)),
        ] {
            let btf = with(|b| {
                b.t("x", k, 0, false, N + 5);
                if let Some(w) = extra {
                    b.u(w);
                }
            });
            let btf = if k == PTR {
                with(|b| {
                    b.t("", PTR, 0, false, N + 5);
                })
            } else {
                btf
            };
            assert_eq!(fails(&btf), Some(Some(N)), "kind {k}");
            if k != TYPEDEF {
                // Module level does not resolve.
                run(&btf, Level::Module, false).unwrap();
            }
        }
        let btf = with(|b| {
            b.t("", ARRAY, 0, false, 0).u(1).u(N + 1).u(1);
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        let btf = with(|b| {
            b.t("s", STRUCT, 1, false, 4).m("a", N + 1, 0);
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        let btf = with(|b| {
            b.t("", PROTO, 1, false, 1).u(0).u(N + 1);
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        let btf = with(|b| {
            b.t("", PROTO, 0, false, N + 1);
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        assert_eq!(msg(&btf, Level::Strict), "Invalid type_id");
        let btf = with(|b| {
            b.t(".d", DATASEC, 1, false, 4).u(N + 1).u(0).u(4);
        });
        assert_eq!(fails(&btf), Some(Some(N)));
    }

    #[test]
    fn resolve_r2_loops() {
        // struct a { struct b x; }; struct b { struct a y; }; plus a holder reaching them.
        let btf = with(|b| {
            b.t("h", STRUCT, 1, false, 4).m("z", N + 1, 0); // N: reaches the cycle
            b.t("a", STRUCT, 1, false, 4).m("x", N + 2, 0); // N+1
            b.t("b", STRUCT, 1, false, 4).m("y", N + 1, 0); // N+2
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        assert_eq!(msg(&btf, Level::Strict), "Loop detected");
        run(&btf, Level::Module, false).unwrap();
        // The same cycle listed before its holder: the lowest id is the cycle's.
        let btf = with(|b| {
            b.t("a", STRUCT, 1, false, 4).m("x", N + 1, 0); // N
            b.t("b", STRUCT, 1, false, 4).m("y", N, 0); // N+1
            b.t("h", STRUCT, 1, false, 4).m("z", N, 0); // N+2
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        // A pointer breaks the cycle.
        let btf = with(|b| {
            b.t("node", STRUCT, 2, false, 16)
                .m("v", 1, 0)
                .m("next", N + 1, 64);
            b.t("", PTR, 0, false, N);
        });
        assert_eq!(fails(&btf), None);
        // Arrays, protos and decl tags are by-value edges too.
        let btf = with(|b| {
            b.t("", ARRAY, 0, false, 0).u(N).u(1).u(1); // self-loop
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        let btf = with(|b| {
            b.t("", PROTO, 0, false, N); // returns itself
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        // Func -> proto whose param is a typedef of ... the func: loop through decl tag.
        let btf = with(|b| {
            b.t("t", DECL_TAG, 0, false, N + 1).u(u32::MAX); // N
            b.t("s", STRUCT, 1, false, 4).m("a", N + 2, 0); // N+1
            b.t("", ARRAY, 0, false, 0).u(N + 1).u(1).u(1); // N+2 -> N+1: cycle
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        // A huge by-value chain: no recursion, no quadratic behaviour.
        let n = 200_000u32;
        let btf = with(|b| {
            for i in 0..n {
                b.t("", ARRAY, 0, false, 0).u(N + i + 1).u(1).u(1);
            }
            b.t("", ARRAY, 0, false, 0).u(N).u(1).u(1); // closes the cycle
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        let btf = with(|b| {
            for i in 0..n {
                let next = if i + 1 == n { 1 } else { N + i + 1 };
                b.t("", ARRAY, 0, false, 0).u(next).u(1).u(1);
            }
        });
        assert_eq!(fails(&btf), None);
    }

    #[test]
    fn resolve_r3_sized() {
        let member = |ty: u32| {
            fails(&with(|b| {
                b.t("s", STRUCT, 1, false, 64).m("a", ty, 0);
            }))
        };
        // Sized: INT, PTR, ARRAY, STRUCT, UNION, ENUM, ENUM64, FLOAT, through modifiers.
        for ty in [1, 2, 3, 4, 5, 6, 19, 16, 8, 9, 10, 11, 18, 22] {
            assert_eq!(member(ty), None, "member type {ty}");
        }
        // Not sized: FWD, FUNC, FUNC_PROTO, VAR, DATASEC, DECL_TAG.
        for ty in [7, 12, 13, 14, 15, 17] {
            assert_eq!(member(ty), Some(Some(N)), "member type {ty}");
        }
        // const void / typedef of a forward declaration.
        let btf = with(|b| {
            b.t("", CONST, 0, false, 0); // N
            b.t("s", STRUCT, 1, false, 4).m("a", N, 0); // N+1
            b.t("tf", TYPEDEF, 0, false, 7); // N+2
            b.t("v", VAR, 0, false, N + 2).u(0); // N+3
        });
        assert_eq!(fails(&btf), Some(Some(N + 1)));
        assert!(msg(&btf, Level::Strict).contains("Invalid member"));
        let btf = with(|b| {
            b.t("tf", TYPEDEF, 0, false, 7); // N
            b.t("v", VAR, 0, false, N).u(0); // N+1
        });
        assert_eq!(fails(&btf), Some(Some(N + 1)));
        assert_eq!(msg(&btf, Level::Strict), "Invalid type");
        let btf = with(|b| {
            b.t("", ARRAY, 0, false, 0).u(13).u(1).u(1);
        });
        assert_eq!(fails(&btf), Some(Some(N)));
        assert_eq!(msg(&btf, Level::Strict), "Invalid elem");
        // A typedef of a FUNC_PROTO is fine by itself (a function pointer's target).
        let btf = with(|b| {
            b.t("fnt", TYPEDEF, 0, false, 12);
            b.t("", PTR, 0, false, N);
        });
        assert_eq!(fails(&btf), None);
    }

    #[test]
    fn resolve_r4_index() {
        let arr = |f: &dyn Fn(&mut B)| {
            fails(&with(|b| {
                f(b); // N
                b.t("", ARRAY, 0, false, 0).u(1).u(N).u(3); // N+1
            }))
        };
        assert_eq!(
            arr(&|b| {
                b.int("u8", 1, 8);
            }),
            None
        );
        assert_eq!(
            arr(&|b| {
                b.int("u128", 16, 128);
            }),
            None
        );
        assert_eq!(
            arr(&|b| {
                b.int("b", 1, 4 << 24 | 8);
            }),
            None
        ); // bool is still regular
        assert_eq!(
            arr(&|b| {
                b.int("x", 4, 24);
            }),
            Some(Some(N + 1))
        );
        assert_eq!(
            arr(&|b| {
                b.int("x", 8, 32);
            }),
            Some(Some(N + 1))
        ); // bits != 8*size
        assert_eq!(
            arr(&|b| {
                b.int("x", 4, 8 << 16 | 8);
            }),
            Some(Some(N + 1))
        );
        assert_eq!(
            arr(&|b| {
                b.t("f", FLOAT, 0, false, 4);
            }),
            Some(Some(N + 1))
        );
        assert_eq!(
            arr(&|b| {
                b.t("", PTR, 0, false, 1);
            }),
            Some(Some(N + 1))
        );
        assert_eq!(
            arr(&|b| {
                b.t("", CONST, 0, false, 1);
            }),
            None
        );
        assert_eq!(
            arr(&|b| {
                b.t("", CONST, 0, false, 0);
            }),
            Some(Some(N + 1))
        );
        let btf = with(|b| {
            b.t("", ARRAY, 0, false, 0).u(1).u(6).u(3);
        });
        assert_eq!(msg(&btf, Level::Strict), "Invalid index");
    }

    #[test]
    fn resolve_r5_func() {
        let func = |params: &[(&str, u32)], target_kind: u32| {
            fails(&with(|b| {
                if target_kind == PROTO {
                    b.t("", PROTO, params.len() as u32, false, 0);
                    for &(n, t) in params {
                        let o = if n.is_empty() { 0 } else { b.s(n) };
                        b.u(o).u(t);
                    }
                } else {
                    b.t("", CONST, 0, false, 1);
                }
                b.t("f", FUNC, 0, false, N);
            }))
        };
        assert_eq!(func(&[], PROTO), None);
        assert_eq!(func(&[("a", 1), ("b", 2)], PROTO), None);
        assert_eq!(func(&[("a", 1), ("", 0)], PROTO), None); // varargs
        assert_eq!(func(&[("", 0)], PROTO), None); // f(...)
        assert_eq!(func(&[("", 0), ("a", 1)], PROTO), Some(Some(N + 1)));
        assert_eq!(func(&[("", 1)], PROTO), Some(Some(N + 1)));
        assert_eq!(func(&[("a", 0)], PROTO), Some(Some(N + 1)));
        assert_eq!(func(&[], CONST), Some(Some(N + 1)));
        // FUNC -> void.
        assert_eq!(
            fails(&with(|b| {
                b.t("f", FUNC, 0, false, 0);
            })),
            Some(Some(N))
        );
        // A bare FUNC_PROTO with unnamed params is fine (only FUNCs check names).
        assert_eq!(
            fails(&with(|b| {
                b.t("", PROTO, 1, false, 0).u(0).u(1);
            })),
            None
        );
    }

    #[test]
    fn resolve_r6_r7() {
        let ds = |t: u32| {
            fails(&with(|b| {
                b.t(".d", DATASEC, 1, false, 8).u(t).u(0).u(4);
            }))
        };
        assert_eq!(ds(14), None);
        assert_eq!(ds(13), None);
        assert_eq!(ds(1), Some(Some(N)));
        assert_eq!(ds(8), Some(Some(N)));

        let dt = |t: u32, comp: i32| {
            fails(&with(|b| {
                b.t("tag", DECL_TAG, 0, false, t).u(comp as u32);
            }))
        };
        for t in [4, 5, 13, 14, 8] {
            assert_eq!(dt(t, -1), None, "target {t}");
        }
        for t in [0, 1, 2, 3, 6, 7, 9, 12, 15, 16, 17, 18, 19] {
            assert_eq!(dt(t, -1), Some(Some(N)), "target {t}");
        }
        assert_eq!(dt(4, 1), None); // struct s has 2 members
        assert_eq!(dt(4, 2), Some(Some(N)));
        assert_eq!(dt(5, 0), None);
        assert_eq!(dt(5, 1), Some(Some(N)));
        assert_eq!(dt(13, 1), None); // fn's proto has 2 params
        assert_eq!(dt(13, 2), Some(Some(N)));
        assert_eq!(dt(14, 0), Some(Some(N)));
        assert_eq!(dt(8, 0), Some(Some(N)));
    }

    #[test]
    fn global_limits() {
        // G1: the string section ends past 0xffffff.
        let mut b = B::new();
        b.strs = vec![0; MAX_NAME_OFFSET as usize];
        b.int("i", 4, 32); // + "i\0": MAX + 2 bytes
        let btf = b.btf();
        let e = run(&btf, Level::Module, false).unwrap_err();
        assert_eq!(
            (e.type_id(), e.to_string().as_str()),
            (None, "String section too large")
        );
        let mut b = B::new();
        b.strs = vec![0; MAX_NAME_OFFSET as usize - 1];
        b.int("i", 4, 32); // MAX + 1 bytes: last offset is MAX
        assert_eq!(fails(&b.btf()), None);
        // G2: more than 0xfffff types.
        let mut b = B::new();
        for _ in 0..MAX_TYPE_ID {
            b.t("", PTR, 0, false, 0);
        }
        assert_eq!(fails(&b.btf()), None);
        b.t("", PTR, 0, false, 0);
        let btf = b.btf();
        let e = run(&btf, Level::Module, false).unwrap_err();
        assert_eq!(
            (e.type_id(), e.to_string().as_str()),
            (Some(MAX_TYPE_ID + 1), "Too many types")
        );
    }

    fn base() -> Arc<Btf> {
        Arc::new(all_kinds().btf())
    }

    #[test]
    fn split_valid_uses_base_strings_and_ids() {
        let base = base();
        let mut b = B::split(&base);
        let s_name = base.type_by_id(4).unwrap().name_off(); // "s" from the base
        b.raw(s_name, STRUCT, 2, false, 16); // N: base name
        b.m("own", 4, 0).m("td", 8, 0); // base struct and base typedef
        b.t("", PTR, 0, false, N + 1); // N+1
        b.t("x", TYPEDEF, 0, false, 10); // N+2 -> base const -> int
        b.t("", ARRAY, 0, false, 0).u(N + 2).u(8).u(4); // N+3: base typedef index
        b.t("tag", DECL_TAG, 0, false, 13).u(1); // N+4: base func, param #1
        b.t("g", FUNC, 0, false, 12); // N+5: base proto
        b.t(".x", DATASEC, 1, false, 4).u(14).u(0).u(4); // N+6: base var
        let btf = b.btf_on(&base);
        assert_eq!(btf.start_id(), N);
        run(&btf, Level::Strict, false).unwrap();
        run(&btf, Level::Module, false).unwrap();
    }

    #[test]
    fn split_failures_name_own_ids() {
        let base = base();
        let one = |f: &dyn Fn(&mut B)| {
            let mut b = B::split(&base);
            b.t("pad", TYPEDEF, 0, false, 1); // N, valid
            f(&mut b); // N+1...
            fails(&b.btf_on(&base))
        };
        // Name offset 0 in split BTF is the base's empty string.
        assert_eq!(
            one(&|b| {
                b.raw(0, TYPEDEF, 0, false, 1);
            }),
            Some(Some(N + 1))
        );
        // Name offsets past the split's own strings.
        assert_eq!(
            one(&|b| {
                let end = b.str_base + b.strs.len() as u32 + 4;
                b.raw(end, STRUCT, 0, false, 4);
            }),
            Some(Some(N + 1))
        );
        // Ids past the split's last id.
        assert_eq!(
            one(&|b| {
                b.t("", PTR, 0, false, N + 2);
            }),
            Some(Some(N + 1))
        );
        // Type tag after a base const (chain enters the base: stops).
        assert_eq!(
            one(&|b| {
                b.t("tt", TYPE_TAG, 0, false, 10);
            }),
            None
        );
        // Own const -> base type tag.
        assert_eq!(
            one(&|b| {
                b.t("", CONST, 0, false, 18);
            }),
            Some(Some(N + 1))
        );
        // Member whose type is a base FWD / base VAR.
        assert_eq!(
            one(&|b| {
                b.t("s", STRUCT, 1, false, 4).m("a", 7, 0);
            }),
            Some(Some(N + 1))
        );
        assert_eq!(
            one(&|b| {
                b.t("s", STRUCT, 1, false, 4).m("a", 14, 0);
            }),
            Some(Some(N + 1))
        );
        // Cycle among own types reaching into the base: still found.
        assert_eq!(
            one(&|b| {
                b.t("s", STRUCT, 2, false, 8).m("a", 4, 0).m("b", N + 2, 0);
                b.t("t", TYPEDEF, 0, false, N + 1);
            }),
            Some(Some(N + 1))
        );
        // Module level stops before resolve.
        let mut b = B::split(&base);
        b.t("s", STRUCT, 1, false, 4).m("a", 7, 0);
        run(&b.btf_on(&base), Level::Module, false).unwrap();
    }

    #[test]
    fn base_is_not_checked() {
        // A base with an invalid type still lets a valid split validate.
        let mut bb = all_kinds();
        bb.t("bad name", TYPEDEF, 0, false, 1); // id 23 in base
        let base = Arc::new(bb.btf());
        assert!(fails(&base).is_some());
        let mut b = B::split(&base);
        b.t("", PTR, 0, false, 23);
        run(&b.btf_on(&base), Level::Strict, false).unwrap();
    }

    #[test]
    fn empty_btf() {
        let b = B::new();
        run(&b.btf(), Level::Strict, false).unwrap();
        let base = base();
        run(&B::split(&base).btf_on(&base), Level::Strict, false).unwrap();
    }
}
