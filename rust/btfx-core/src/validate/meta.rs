//! Phase 1: `btf_check_all_metas` → `btf_check_meta` → per-kind `*_check_meta`.
//!
//! Per record only: nothing here looks at another type. Strict validation's by-value
//! edges and resolve bytes come from a separate walk ([`super::graph`]), which may run
//! on a second thread at the same time.

use std::ops::Range;

use super::*;

/// The fields of one record, decoded once.
pub(super) struct Rec<'s> {
    pub(super) kind: u8,
    pub(super) vlen: u32,
    pub(super) kflag: bool,
    pub(super) name_off: u32,
    /// The size / type word.
    pub(super) w8: u32,
    /// The bytes after the 12-byte head (kind-specific data and vlen elements).
    pub(super) body: &'s [u8],
}

/// The first failing own type (index from `start_id`) and its message.
pub(super) type Failure = Option<(u32, String)>;

/// The own modifiers, in increasing order: index from `start_id` and the type id each
/// refers to (phase 2 starts its walks from these without reading the records again).
pub(super) type ModLinks = Vec<(u32, u32)>;

/// The first own FUNC_PROTO with a parameter name that is no identifier (R9, a phase 3
/// rule that needs only the record and the identifier map, so phase 1's thread checks
/// it): its index from `start_id` and the 0-based index of the parameter.
pub(super) type BadParamName = Option<(u32, usize)>;

/// What strict validation's phase 1 also finds, from the records it reads anyway.
#[derive(Default)]
pub(super) struct StrictFinds {
    pub(super) bad_name: BadParamName,
    /// (type id, later type id) for each own type naming a later type where the
    /// kernel's resolve pass could push it, or a FUNC_PROTO naming a later type as its
    /// return or a parameter type, in increasing order: where a search of more than one
    /// entry can start ([`super::depth`]).
    pub(super) later: Vec<(u32, u32)>,
}

impl<'a, E: Rd> Validator<'a, E> {
    /// Phase 1 over all own types on at most `threads` threads. `st` is empty or has
    /// one byte per own type, which receives the type's raw kind.
    pub(super) fn meta_all(&self, st: &mut [u8], threads: usize) -> (Failure, ModLinks) {
        let n = self.st_len();
        let mut mods = Vec::new();
        if !super::threads::split(n, threads) {
            let failed = self.meta_range(0..n, st, &mut mods, None);
            return (failed, mods);
        }
        // Two halves of the ids, one per thread; the lower half's error wins.
        let mid = n / 2;
        let (st_lo, st_hi) = st.split_at_mut(mid.min(st.len()));
        let (lo, hi) = super::threads::join2(
            || self.meta_range(0..mid, st_lo, &mut mods, None),
            || {
                let mut mods_hi = Vec::new();
                (self.meta_range(mid..n, st_hi, &mut mods_hi, None), mods_hi)
            },
        );
        let Some((hi, mods_hi)) = hi else {
            return (lo.or(Some((mid as u32, "internal error".into()))), mods);
        };
        mods.extend(mods_hi);
        (lo.or(hi), mods)
    }

    /// Phase 1 over all own types on this thread, also finding R9's first bad parameter
    /// name (strict validation).
    pub(super) fn meta_strict(&self, st: &mut [u8]) -> (Failure, ModLinks, StrictFinds) {
        let (mut mods, mut finds) = (Vec::new(), StrictFinds::default());
        let failed = self.meta_range(0..self.st_len(), st, &mut mods, Some(&mut finds));
        (failed, mods, finds)
    }

    /// Number of own types.
    pub(super) fn st_len(&self) -> usize {
        self.btf.nr_types() as usize
    }

    /// Phase 1 for own type indexes `ids`; `st` is empty or their slice of kinds. With
    /// `bad_name`, also looks for R9's first bad parameter name.
    fn meta_range(
        &self,
        ids: Range<usize>,
        st: &mut [u8],
        mods: &mut ModLinks,
        mut strict: Option<&mut StrictFinds>,
    ) -> Failure {
        // Record offsets from the parser's index, not from the previous record's
        // length: records then do not wait on each other.
        let offsets = self.btf.type_offsets().get(ids.clone()).unwrap_or(&[]);
        let quick = self.quick_meta(strict.is_some());
        for (i, &off) in offsets.iter().enumerate() {
            let id = self.start_id + (ids.start + i) as u32;
            if let Some(kind) = quick.passes(off as usize) {
                if let Some(s) = st.get_mut(i) {
                    *s = kind;
                }
                // A PTR or FUNC_PROTO naming a later type (a FUNC's type is never pushed).
                if let (Some(f), true) = (strict.as_deref_mut(), kind != k::FUNC) {
                    if self.highest_type(off as usize) > id {
                        if let Some((r, _)) = self.decode(off as usize) {
                            later_types::<E>(&r, id, &mut f.later);
                        }
                    }
                }
                continue;
            }
            let Some((r, _)) = self.decode(off as usize) else {
                // Unreachable after parsing (T2); never panic anyway.
                return Some(((ids.start + i) as u32, "Unknown kind".into()));
            };
            if let Some(s) = st.get_mut(i) {
                *s = r.kind;
            }
            if let Some(msg) = self.check_meta(&r) {
                return Some(((ids.start + i) as u32, msg));
            }
            if is_mod(r.kind) {
                mods.push(((ids.start + i) as u32, r.w8));
            }
            if let Some(f) = strict.as_deref_mut() {
                if r.kind == k::FUNC_PROTO && f.bad_name.is_none() {
                    f.bad_name =
                        self.proto_names(off as usize).map(|j| ((ids.start + i) as u32, j));
                }
                later_types::<E>(&r, id, &mut f.later);
            }
        }
        None
    }

    /// The highest type id the PTR or FUNC_PROTO record at `off` names.
    #[inline(always)]
    fn highest_type(&self, off: usize) -> u32 {
        let Some(head) = self.sec.get(off..).and_then(|r| r.first_chunk::<12>()) else {
            return 0;
        };
        let (inf, w8) = (E::at(head, 1), E::at(head, 2));
        let n = info::vlen(inf) as usize;
        let params = self.sec.get(off + 12..off + 12 + 8 * n).unwrap_or(&[]);
        chunks::<8>(params).map(|p| E::at(p, 1)).fold(w8, u32::max)
    }

    /// The record at type-section offset `off` and its length in bytes.
    #[inline(always)]
    pub(super) fn decode(&self, off: usize) -> Option<(Rec<'a>, usize)> {
        let sec = self.sec;
        let head = sec.get(off..).and_then(|r| r.first_chunk::<12>())?;
        let inf = E::at(head, 1);
        let kind = info::kind(inf) as usize;
        // Kinds 1 to the last of the kind table (the parser rejected any other).
        if kind == 0 || kind >= crate::kind::LAYOUT_TABLE.len() {
            return None;
        }
        let vlen = info::vlen(inf);
        let len = usize::try_from(crate::kind::record_bytes(inf)).ok()?;
        let r = Rec {
            kind: kind as u8,
            vlen,
            kflag: info::kflag(inf),
            name_off: E::at(head, 0),
            w8: E::at(head, 2),
            body: sec.get(off + 12..off + len).unwrap_or(&[]),
        };
        Some((r, len))
    }

    /// One record's meta rules; `Some(message)` on failure.
    #[inline(always)]
    pub(super) fn check_meta(&self, r: &Rec) -> Msg {
        let (kind, vlen, kflag, name_off, w8) = (r.kind, r.vlen, r.kflag, r.name_off, r.w8);

        // `btf_check_meta`: "Invalid btf_info:%x" (classic BTF_INFO_MASK, with the raw info
        // word) / "Invalid name_offset:%u".
        if !self.opts.wide && vlen > info::CLASSIC_VLEN_MAX {
            let raw = u32::from(kflag) << 31 | u32::from(kind) << 24 | vlen;
            return Some(format!("Invalid btf_info:{raw:x}"));
        }
        if name_off >= self.str_end {
            return Some(format!("Invalid name_offset:{name_off}"));
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
            k::STRUCT | k::UNION => self.struct_meta(r),
            _ => self.other_meta(r),
        }
    }

    /// btf_ref_type_check_meta
    #[inline(always)]
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
    #[inline(always)]
    fn struct_meta(&self, r: &Rec) -> Msg {
        if r.name_off != 0 && !self.ident(r.name_off) {
            return fail("Invalid name");
        }
        let is_union = r.kind == k::UNION;
        let size = u64::from(r.w8);
        let members = chunks::<12>(r.body);
        let mut last = 0u32;
        for (j, m) in members.enumerate() {
            let m_name = E::at(m, 0);
            if m_name >= self.str_end {
                return Some(format!("member #{j}: Invalid member name_offset:{m_name}"));
            }
            if m_name != 0 && !self.ident(m_name) {
                return Some(format!("member #{j}: Invalid name"));
            }
            let m_type = E::at(m, 1);
            if m_type == 0 || m_type > MAX_TYPE_ID {
                return Some(format!("member #{j}: Invalid type_id"));
            }
            let raw = E::at(m, 2);
            let bitoff = if r.kflag { raw & 0x00ff_ffff } else { raw };
            if (is_union && bitoff != 0) || last > bitoff {
                return Some(format!("member #{j}: Invalid member bits_offset"));
            }
            if u64::from(bitoff).div_ceil(8) > size {
                return Some(format!("member #{j}: Member bits_offset exceeds its struct size"));
            }
            last = bitoff;
        }
        None
    }

    /// The remaining kinds' meta rules.
    fn other_meta(&self, r: &Rec) -> Msg {
        let (kind, vlen, kflag, name_off, w8) = (r.kind, r.vlen, r.kflag, r.name_off, r.w8);
        let valid_id = |id: u32| id != 0 && id <= MAX_TYPE_ID;
        // Word `j` of the kind-specific data after the head.
        let data = |j: usize| E::u32(r.body, 4 * j);
        match kind {
            // btf_int_check_meta
            k::INT => {
                let data = data(0);
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
                    return fail("nr_bits exceeds 128");
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
                if !valid_id(data(0)) {
                    return fail("Invalid elem");
                }
                if !valid_id(data(1)) {
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
                    let v_name = E::u32(r.body, step * j);
                    if v_name >= self.str_end {
                        return Some(format!("value #{j}: Invalid name_offset:{v_name}"));
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
                if data(0) > 1 {
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
                if !names::is_section_name(self.str_from(name_off)) {
                    return fail("Invalid name");
                }
                let size = u64::from(w8);
                let (mut last_end, mut sum) = (0u64, 0u64);
                let vars = chunks::<12>(r.body);
                for (j, v) in vars.enumerate() {
                    let v_type = E::at(v, 0);
                    let v_off = u64::from(E::at(v, 1));
                    let v_size = u64::from(E::at(v, 2));
                    if !valid_id(v_type) {
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
                if (data(0) as i32) < -1 {
                    return fail("Invalid component_idx");
                }
            }
            _ => return Some(format!("Unknown kind {kind}")),
        }
        None
    }
}

/// `b` as consecutive `N`-byte elements (a trailing partial one is ignored).
#[inline(always)]
pub(super) fn chunks<const N: usize>(b: &[u8]) -> impl Iterator<Item = &[u8; N]> {
    b.chunks_exact(N).filter_map(|c| c.try_into().ok())
}

/// Appends `(id, t)` for each later type `t` that own type `id`, whose record is `r`,
/// names where a resolve step could push it (a modifier's, PTR's, VAR's or DECL_TAG's
/// type, an ARRAY's element or index, a member's or DATASEC entry's type), or as a
/// FUNC_PROTO's return or parameter type: the fields of
/// [`for_each_pushed`](super::depth::for_each_pushed), read here per kind with fixed
/// element sizes from the record phase 1 decoded (the table-driven reader costs 4M more
/// instructions per validation of vmlinux on this hot path). A test holds the two equal.
#[inline(always)]
fn later_types<E: Rd>(r: &Rec, id: u32, out: &mut Vec<(u32, u32)>) {
    let mut push = |t: u32| {
        if t > id {
            out.push((id, t));
        }
    };
    // The elements are scanned for the highest id first (no early exit: it vectorizes),
    // and again only when it is later.
    let mut scan = |at: usize, step: usize, first: u32| {
        let ids = || r.body.chunks_exact(step).map(|e| E::u32(e, at));
        if ids().fold(first, u32::max) > id {
            push(first);
            ids().for_each(&mut push);
        }
    };
    match r.kind {
        k::FUNC | k::INT | k::ENUM | k::ENUM64 | k::FWD | k::FLOAT => {}
        k::ARRAY => {
            push(E::u32(r.body, 0));
            push(E::u32(r.body, 4));
        }
        k::STRUCT | k::UNION => scan(4, 12, 0),
        k::DATASEC => scan(0, 12, 0),
        k::FUNC_PROTO => scan(4, 8, r.w8),
        _ => push(r.w8), // modifiers, PTR, VAR, DECL_TAG
    }
}
