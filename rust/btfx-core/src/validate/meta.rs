//! Phase 1: `btf_check_all_metas` → `btf_check_meta` → per-kind `*_check_meta`.
//!
//! The only pass that decodes the type section. For strict validation it also records
//! what phase 3 needs: the by-value edges of every type ([`Validator::edges`]) and a
//! per-type resolve byte ([`Validator::res`]: the raw kind plus [`RES_FLAG`] for regular
//! INTs and for FUNC_PROTOs whose parameters pass R5).

use std::ops::Range;

use super::*;

/// In a resolve byte: an INT that is regular (R4), a FUNC_PROTO whose parameters pass R5.
pub(super) const RES_FLAG: u8 = 0x20;

/// The fields of one record, decoded once.
struct Rec<'s> {
    kind: u8,
    vlen: u32,
    kflag: bool,
    name_off: u32,
    /// The size / type word.
    w8: u32,
    /// The bytes after the 12-byte head (kind-specific data and vlen elements).
    body: &'s [u8],
}

/// What phase 1 produces for a range of own types (see [`Validator`] fields).
struct Part {
    edges: Vec<u32>,
    /// Start of each type's edges in `edges`, plus the end.
    first: Vec<u32>,
    r1_ref: u32,
    /// The lowest failing id of the range and its message.
    error: Option<(u32, String)>,
}

impl<'a, E: Rd> Validator<'a, E> {
    pub(super) fn phase1(&mut self, strict: bool) -> Result<()> {
        let n = self.btf.nr_types() as usize;
        let mut st = vec![0u8; n];
        let mut res = if strict { vec![0u8; n] } else { Vec::new() };
        let parts = if super::threads::split(n, self.threads) {
            // Two halves of the ids, one per thread; the lower half's error wins.
            let mid = n / 2;
            let (st_lo, st_hi) = st.split_at_mut(mid);
            let (res_lo, res_hi) = res.split_at_mut(if strict { mid } else { 0 });
            let this = &*self;
            let (lo, hi) = super::threads::join2(
                || this.phase1_part(strict, 0..mid, st_lo, res_lo),
                || this.phase1_part(strict, mid..n, st_hi, res_hi),
            );
            vec![lo, hi.unwrap_or_else(|| Part::failed(mid, "internal error"))]
        } else {
            vec![self.phase1_part(strict, 0..n, &mut st, &mut res)]
        };
        let mut parts = parts.into_iter();
        let mut all = parts.next().unwrap_or_else(|| Part::failed(0, "internal error"));
        for p in parts {
            if all.error.is_none() {
                all.error = p.error;
            }
            all.r1_ref = all.r1_ref.min(p.r1_ref);
            let base = all.edges.len() as u32;
            all.first.pop();
            all.first.extend(p.first.iter().map(|f| f + base));
            all.edges.extend_from_slice(&p.edges);
        }
        if let Some((i, msg)) = all.error {
            return Err(self.err(self.start_id + i, msg));
        }
        self.st = st;
        self.res = res;
        self.edges = all.edges;
        self.first = all.first;
        self.r1_ref = all.r1_ref;
        Ok(())
    }

    /// Number of own types.
    fn st_len(&self) -> usize {
        self.btf.nr_types() as usize
    }

    fn phase1_part(&self, strict: bool, ids: Range<usize>, st: &mut [u8], res: &mut [u8]) -> Part {
        if strict {
            self.phase1_range::<true>(ids, st, res)
        } else {
            self.phase1_range::<false>(ids, st, res)
        }
    }

    /// Phase 1 for own type indexes `ids`; `st` and `res` are their slices. `S`: also
    /// collect the phase 3 data.
    fn phase1_range<const S: bool>(
        &self,
        ids: Range<usize>,
        st: &mut [u8],
        res: &mut [u8],
    ) -> Part {
        let sec = self.sec;
        let n = ids.len();
        let mut part = Part { edges: Vec::new(), first: Vec::new(), r1_ref: u32::MAX, error: None };
        let (edges, first) = (&mut part.edges, &mut part.first);
        if S {
            // Kernel BTF has about two by-value edges per type. The first part gets room
            // for all parts: the others are appended to it.
            let all = if ids.start == 0 { self.st_len() } else { n };
            edges.reserve(2 * all + 16);
            first.reserve(all + 1);
        }
        let start_id = self.start_id + ids.start as u32;
        let mut off = self.btf.type_offset(start_id).unwrap_or(u32::MAX) as usize;
        for i in 0..n {
            let id = start_id + i as u32;
            let head = sec.get(off..).and_then(|r| r.first_chunk::<12>());
            let inf = head.map_or(0, |h| E::at(h, 1));
            let kind = info::kind(inf) as usize;
            let Some(head) = head.filter(|_| kind != 0 && kind < INFO_SIZE.len()) else {
                // Unreachable after parsing (T2); never panic anyway.
                return Part::failed(ids.start + i, format!("Unknown kind {kind}"));
            };
            let vlen = info::vlen(inf);
            let len = 12 + INFO_SIZE[kind] as usize + vlen as usize * ELEM_SIZE[kind] as usize;
            let r = Rec {
                kind: kind as u8,
                vlen,
                kflag: info::kflag(inf),
                name_off: E::at(head, 0),
                w8: E::at(head, 2),
                body: sec.get(off + 12..off + len).unwrap_or(&[]),
            };
            if let Some(s) = st.get_mut(i) {
                *s = kind as u8;
            }
            if S {
                first.push(edges.len() as u32);
            }
            if let Some(msg) = self.check_meta::<S>(&r, edges) {
                part.error = Some(((ids.start + i) as u32, msg));
                return part;
            }
            if S {
                let rb = if is_mod(r.kind) {
                    // Own targets: filled when the DFS finishes the modifier.
                    if self.own(r.w8) {
                        r.kind
                    } else {
                        self.walk_res(r.w8)
                    }
                } else {
                    r.kind | self.res_flag(&r)
                };
                if let Some(x) = res.get_mut(i) {
                    *x = rb;
                }
                if matches!(r.kind, k::PTR | k::FWD) && r.w8 > self.last_id && part.r1_ref > id {
                    part.r1_ref = id;
                }
            }
            off += len;
        }
        if S {
            first.push(edges.len() as u32);
        }
        part
    }

    /// [`RES_FLAG`] if the record is a regular INT or a FUNC_PROTO passing R5.
    #[inline(always)]
    fn res_flag(&self, r: &Rec) -> u8 {
        let ok = match r.kind {
            // R4: `btf_type_int_is_regular` (the size word is not consulted).
            k::INT => {
                let data = r.body.first_chunk::<4>().map_or(0, |c| E::at(c, 0));
                let bits = data & 0xff;
                (data >> 16) & 0xff == 0 && bits % 8 == 0 && matches!(bits / 8, 1 | 2 | 4 | 8)
            }
            // R5: every param has a name and a type, except a final `{0, 0}` (varargs).
            k::FUNC_PROTO => proto_args_bad::<E>(r.body).is_none(),
            _ => false,
        };
        if ok {
            RES_FLAG
        } else {
            0
        }
    }

    /// One record's meta rules; `Some(message)` on failure. With `S`, appends the
    /// record's by-value edges to `edges` (whatever it pushes on failure is dropped).
    #[inline(always)]
    fn check_meta<const S: bool>(&self, r: &Rec, edges: &mut Vec<u32>) -> Msg {
        let (kind, vlen, kflag, name_off, w8) = (r.kind, r.vlen, r.kflag, r.name_off, r.w8);

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
                if S {
                    edges.push(w8);
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
                if S {
                    edges.push(w8);
                    edges.extend(r.body.chunks_exact(8).map(|p| E::u32(p, 4)));
                }
                None
            }
            k::PTR | k::CONST | k::VOLATILE | k::RESTRICT | k::TYPEDEF | k::TYPE_TAG => {
                let msg = self.ref_meta(kind, vlen, kflag, name_off, w8);
                if S && kind != k::PTR {
                    edges.push(w8);
                }
                msg
            }
            k::STRUCT | k::UNION => self.struct_meta::<S>(r, edges),
            _ => self.other_meta::<S>(r, edges),
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
    fn struct_meta<const S: bool>(&self, r: &Rec, edges: &mut Vec<u32>) -> Msg {
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
                return Some(format!("member #{j}: Invalid member name_offset"));
            }
            if m_name != 0 && !self.ident(m_name) {
                return Some(format!("member #{j}: Invalid member name"));
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
            if S {
                edges.push(m_type);
            }
        }
        None
    }

    /// The remaining kinds' meta rules.
    fn other_meta<const S: bool>(&self, r: &Rec, edges: &mut Vec<u32>) -> Msg {
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
                if !valid_id(data(0)) {
                    return fail("Invalid elem");
                }
                if !valid_id(data(1)) {
                    return fail("Invalid index");
                }
                if S {
                    edges.push(data(0));
                    edges.push(data(1));
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
                if data(0) > 1 {
                    return fail("Linkage not supported");
                }
                if S {
                    edges.push(w8);
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
                    if S {
                        edges.push(v_type);
                    }
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
                if S {
                    edges.push(w8);
                }
            }
            _ => return Some(format!("Unknown kind {kind}")),
        }
        None
    }
}

impl Part {
    #[cold]
    fn failed(i: usize, msg: impl Into<String>) -> Part {
        Part {
            edges: Vec::new(),
            first: Vec::new(),
            r1_ref: u32::MAX,
            error: Some((i as u32, msg.into())),
        }
    }
}

/// R5 (`btf_func_check`) on a FUNC_PROTO's parameter array: the 0-based index of the
/// first bad parameter (each needs a name and a type, except a final `{0, 0}`).
pub(super) fn proto_args_bad<E: Rd>(params: &[u8]) -> Option<usize> {
    let nargs = params.len() / 8;
    chunks::<8>(params).enumerate().position(|(j, p)| {
        let (name, ty) = (E::at(p, 0), E::at(p, 1));
        (name == 0 || ty == 0) && !(j + 1 == nargs && name == 0 && ty == 0)
    })
}

/// `b` as consecutive `N`-byte elements (a trailing partial one is ignored).
#[inline(always)]
fn chunks<const N: usize>(b: &[u8]) -> impl Iterator<Item = &[u8; N]> {
    b.chunks_exact(N).filter_map(|c| c.try_into().ok())
}
