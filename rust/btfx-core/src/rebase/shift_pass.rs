//! The rewrite pass of `shift` rebase (docs/rebase.md §1): every non-zero id
//! `x → x + K`, every non-zero string offset `s → s + L`, in place in a copy of the
//! input. The fields are those of the kind table (`Kind::for_each_field`),
//! flattened per kind so that the loop needs no per-field branches. Large inputs run in
//! two halves on two threads ([`crate::threads`]).

use crate::endian::{Be, ByteOrder, Le, Rd};
use crate::kind::{info, record_bytes, Kind, SizeWord, LAYOUT_TABLE, RECORD_PARTS};
use crate::threads::{join2, max_threads};

/// Fewer types than this are shifted on the calling thread only (a thread spawn costs
/// about as much as rewriting a few thousand records).
pub const PARALLEL_MIN_TYPES: usize = 16_384;

/// Where one kind's records have id and string fields, apart from the name (word 0 of
/// every record). `type_word` is 0 or 1, so that a size word is read and written back
/// unchanged instead of being branched around.
#[derive(Clone, Copy)]
struct Shape {
    /// 1 when the word at offset 8 is a type id (not a size).
    type_word: u32,
    /// Ids in the fixed trailing part (ARRAY's `type` and `index_type`).
    info_ids: &'static [u32],
    /// Whether elements hold ids or strings (see `rewrite_elems`).
    elem_fields: bool,
}

const fn first_field(list: &[u32]) -> (u32, u32) {
    if list.is_empty() {
        (0, 0)
    } else {
        (list[0], 1)
    }
}

/// `Shape` by raw kind number, built from `LAYOUT_TABLE`; unknown kinds have only a
/// name (the parser rejects them anyway).
static SHAPES: [Shape; 128] = {
    let none = Shape { type_word: 0, info_ids: &[], elem_fields: false };
    let mut t = [none; 128];
    let mut k = 1;
    while k < LAYOUT_TABLE.len() {
        let l = &LAYOUT_TABLE[k];
        // One id and one string field per element at most: true of every BTF kind.
        assert!(l.elem_ids.len() <= 1 && l.elem_strs.len() <= 1);
        t[k] = Shape {
            type_word: matches!(l.size_word, SizeWord::TypeId) as u32,
            info_ids: l.info_ids,
            elem_fields: l.elem_size > 0 && !(l.elem_ids.is_empty() && l.elem_strs.is_empty()),
        };
        k += 1;
    }
    t
};

/// The largest id and string offset the pass met: one check after the pass tells
/// whether the input was standalone.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Seen {
    pub max_id: u32,
    pub max_str: u32,
}

impl Seen {
    /// Whether the input was standalone: ids within its `n` types, string offsets
    /// within its `s`-byte string section (0 is always allowed).
    pub fn is_standalone(self, n: u32, s: u32) -> bool {
        self.max_id <= n && (self.max_str == 0 || self.max_str < s)
    }

    fn merge(self, o: Seen) -> Seen {
        Seen { max_id: self.max_id.max(o.max_id), max_str: self.max_str.max(o.max_str) }
    }
}

/// Adds `by` to the word at `o` when it is a field (`on == 1`) and not 0 (void, no
/// name); returns the field's value (0 when `on == 0`).
#[inline(always)]
fn bump<E: Rd>(b: &mut [u8], o: usize, on: u32, by: u32) -> u32 {
    let w = E::u32(b, o);
    let v = w * on;
    E::set_u32(b, o, w.wrapping_add(if v != 0 { by } else { 0 }));
    v
}

/// Sets bit `v` of `used` (string offsets past it are not the string map's).
#[inline(always)]
fn mark(used: &mut [u64], v: u32) {
    if let Some(w) = used.get_mut(v as usize / 64) {
        *w |= 1 << (v % 64);
    }
}

/// Rewrites, in `rec`, the fields of one record whose info word is `info`; with `MARK`,
/// also marks its string offsets in `used`.
#[inline(always)]
fn rewrite_record<E: Rd, const MARK: bool>(
    rec: &mut [u8],
    info: u32,
    by: By,
    seen: &mut Seen,
    used: &mut [u64],
) {
    let (k, l) = (by.k, by.l);
    let kind = info::kind(info) as usize;
    let sh = &SHAPES[kind];
    let mut max_str = bump::<E>(rec, 0, 1, l);
    if MARK {
        mark(used, max_str);
    }
    let mut max_id = bump::<E>(rec, 8, sh.type_word, k);
    for &o in sh.info_ids {
        max_id = max_id.max(bump::<E>(rec, 12 + o as usize, 1, k));
    }
    if sh.elem_fields {
        let at = 12 + RECORD_PARTS[kind].0 as usize;
        let elems = rec.get_mut(at..).unwrap_or_default();
        let mut m = (max_id, max_str);
        macro_rules! by_kind {
            ($($k:literal)*) => {
                match kind {
                    $($k => m = rewrite_elems::<E, MARK, $k>(elems, by, m, used),)*
                    _ => {}
                }
            };
        }
        by_kind!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19);
        (max_id, max_str) = m;
    }
    seen.max_id = seen.max_id.max(max_id);
    seen.max_str = seen.max_str.max(max_str);
}

/// Rewrites the elements of a record of kind number `K`, their size and field offsets
/// read from `LAYOUT_TABLE[K]` at compile time; returns the running `(max id, max
/// string offset)`.
#[inline(always)]
fn rewrite_elems<E: Rd, const MARK: bool, const K: usize>(
    elems: &mut [u8],
    by: By,
    (mut max_id, mut max_str): (u32, u32),
    used: &mut [u64],
) -> (u32, u32) {
    let (k, l) = (by.k, by.l);
    let esz = const { LAYOUT_TABLE[K].elem_size as usize };
    let str_at = const { first_field(LAYOUT_TABLE[K].elem_strs) };
    let id_at = const { first_field(LAYOUT_TABLE[K].elem_ids) };
    if esz == 0 || (str_at.1 | id_at.1) == 0 {
        return (max_id, max_str);
    }
    for e in elems.chunks_exact_mut(esz) {
        if str_at.1 == 1 {
            let s = bump::<E>(e, str_at.0 as usize, 1, l);
            if MARK {
                mark(used, s);
            }
            max_str = max_str.max(s);
        }
        if id_at.1 == 1 {
            max_id = max_id.max(bump::<E>(e, id_at.0 as usize, 1, k));
        }
    }
    (max_id, max_str)
}

/// Walks the raw type section `sec` record by record, as parsing does, rewriting each
/// record in place; returns the number of records, or `None` where parsing would fail
/// (a truncated record or an unknown kind), for the caller to report through the parser.
/// With `MARK`, every string offset the fields hold is marked in `used`.
fn shift_walk<E: Rd, const MARK: bool>(
    sec: &mut [u8],
    by: By,
    used: &mut [u64],
) -> Option<(u32, Seen)> {
    let mut seen = Seen::default();
    let (mut off, mut n) = (0usize, 0u32);
    while off < sec.len() {
        let info = E::u32(sec.get(off..off + 12)?, 4);
        Kind::from_raw(info::kind(info))?;
        let size = usize::try_from(record_bytes(info)).ok()?;
        rewrite_record::<E, MARK>(sec.get_mut(off..off + size)?, info, by, &mut seen, used);
        off += size;
        n += 1;
    }
    Some((n, seen))
}

/// What every non-zero id (`k`) and string offset (`l`) moves by.
#[derive(Clone, Copy)]
pub(crate) struct By {
    pub k: u32,
    pub l: u32,
}

/// [`shift_walk`] in byte order `order`.
pub(crate) fn shift_raw_types(sec: &mut [u8], order: ByteOrder, by: By) -> Option<(u32, Seen)> {
    match order {
        ByteOrder::Little => shift_walk::<Le, false>(sec, by, &mut []),
        ByteOrder::Big => shift_walk::<Be, false>(sec, by, &mut []),
    }
}

/// [`shift_raw_types`] that also marks, in `used`, every string offset the fields hold
/// (bit 0 included), for the string map.
pub(crate) fn shift_types_marking(
    sec: &mut [u8],
    order: ByteOrder,
    by: By,
    used: &mut [u64],
) -> Option<(u32, Seen)> {
    match order {
        ByteOrder::Little => shift_walk::<Le, true>(sec, by, used),
        ByteOrder::Big => shift_walk::<Be, true>(sec, by, used),
    }
}

/// Rewrites the parsed type section `sec` (records at `offsets`) in place: one walk, or
/// for large inputs two walks over halves of about equal bytes on two threads (the
/// offsets give the second half's first record). A parsed section always walks to its
/// end; were it not to, the maximal `Seen` makes the caller report the input instead of
/// returning a half-rewritten blob.
pub(crate) fn shift_types(sec: &mut [u8], offsets: &[u32], order: ByteOrder, by: By) -> Seen {
    let walk = |part: &mut [u8]| {
        let walked = shift_raw_types(part, order, by).map(|(_, seen)| seen);
        walked.unwrap_or(Seen { max_id: u32::MAX, max_str: u32::MAX })
    };
    let mid_i = offsets.partition_point(|&o| (o as usize) < sec.len() / 2);
    let mid = offsets.get(mid_i).map_or(sec.len(), |&o| o as usize);
    if offsets.len() < PARALLEL_MIN_TYPES || max_threads() < 2 || mid > sec.len() {
        return walk(sec);
    }
    let (lo_sec, hi_sec) = sec.split_at_mut(mid);
    let hi_part = &mut *hi_sec;
    let (lo, hi) = join2(|| walk(lo_sec), || walk(hi_part));
    // `hi` is None only if its thread panicked before writing: redo that half here.
    let hi = hi.unwrap_or_else(|| walk(hi_sec));
    lo.merge(hi)
}

#[cfg(test)]
mod tests {
    use crate::btf::Btf;
    use crate::builder::{StrTable, TypeWriter};
    use crate::endian::ByteOrder;
    use crate::kind::Kind;
    use crate::rebase::remap_record;
    use crate::rebase::shift::record_at;
    use crate::rebase::shift::{shift, shift_blob, shift_raw, shift_str_map};
    use crate::threads::set_max_threads;

    /// A standalone BTF of `n` records cycling through every kind, with ids and names
    /// spread over the whole valid range (the pass does not care about meaning).
    fn many_kinds(order: ByteOrder, n: u32) -> Vec<u8> {
        let mut w = TypeWriter::new(order, 0);
        let mut s = StrTable::new_base();
        let names: Vec<u32> =
            (0..64).map(|i| s.intern(format!("name_{i}").as_bytes()).unwrap()).collect();
        let name = |i: u32| if i.is_multiple_of(5) { 0 } else { names[(i % 64) as usize] };
        let id = |i: u32| (i * 7919) % (n + 1);
        for i in 0..n {
            let kind = Kind::ALL[i as usize % Kind::ALL.len()];
            let l = kind.layout();
            let vlen = if l.elem_size > 0 { i % 6 } else { i % 3 };
            let mut words = vec![name(i), (kind as u32) << 24 | vlen, id(i + 1)];
            words.extend((0..l.info_size / 4).map(|j| id(i + j + 2)));
            for e in 0..vlen {
                for word in 0..l.elem_size / 4 {
                    let v = if l.elem_strs.contains(&(word * 4)) {
                        name(i + e)
                    } else if l.elem_ids.contains(&(word * 4)) {
                        id(i + e)
                    } else {
                        0xdead_0000 | e // neither: must stay as it is
                    };
                    words.push(v);
                }
            }
            w.push(&words);
        }
        w.finish(s.bytes())
    }

    /// What shift must produce, through the generic kind-table walk (`remap_record`).
    fn expected(m: &Btf, k: u32, l: u32) -> Vec<u8> {
        let mut out = m.raw().to_vec();
        let h = m.header();
        let at = (h.hdr_len + h.type_off) as usize;
        let sec = &mut out[at..at + h.type_len as usize];
        let order = m.byte_order();
        for &off in m.type_offsets() {
            let (kind, vlen, rec) = record_at(sec, off, order).unwrap();
            let len = rec.len();
            let rec = &mut sec[off as usize..off as usize + len];
            let bump = |by: u32| move |v: u32| if v == 0 { 0 } else { v + by };
            remap_record(rec, kind, vlen, order, bump(k), bump(l));
        }
        out
    }

    #[test]
    fn one_and_two_threads_equal_the_kind_table_walk() {
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let m = Btf::from_slice(&many_kinds(order, 20_000), None).unwrap();
            let base = Btf::from_slice(&many_kinds(order, 300), None).unwrap();
            let want = expected(&m, base.last_id(), base.str_end());
            for threads in [1, 2] {
                set_max_threads(threads);
                let got = shift_blob(&m, &base).unwrap();
                set_max_threads(0);
                assert!(got == want, "{order:?}, {threads} threads");
            }
            // The string map: every non-zero string field value, through the kind table.
            let l = base.str_end();
            let mut strs = std::collections::BTreeSet::new();
            for &off in m.type_offsets() {
                let (kind, vlen, rec) = record_at(m.type_section(), off, order).unwrap();
                kind.for_each_field(vlen, false, |o| {
                    strs.insert(order.u32_at(rec, o));
                });
            }
            strs.remove(&0);
            let want_map: Vec<(u32, u32)> = strs.into_iter().map(|s| (s, s + l)).collect();
            assert_eq!(shift_str_map(&m, l), want_map);
            let full = shift(&m, &base).unwrap();
            assert!(full.btf == want);
            assert_eq!(full.str_map, want_map);
            assert_eq!(full.id_map.len(), m.nr_types() as usize + 1);
        }
    }

    #[test]
    fn an_out_of_range_id_in_the_upper_half_names_its_type() {
        let mut blob = many_kinds(ByteOrder::Little, 20_000);
        let m = Btf::from_slice(&blob, None).unwrap();
        // Type 19_000 is a record of kind ALL[18_999 % 19]; its word 2 is rewritten to
        // an id past the last type whatever the kind (a size word counts only for kinds
        // with a type word, so pick one that has it).
        let id = (18_000..20_000u32)
            .find(|&id| {
                let off = m.type_offsets()[id as usize - 1];
                let (kind, _, _) = record_at(m.type_section(), off, ByteOrder::Little).unwrap();
                kind.has_type()
            })
            .unwrap();
        let at = 24 + m.type_offsets()[id as usize - 1] as usize + 8;
        blob[at..at + 4].copy_from_slice(&20_001u32.to_le_bytes());
        let m = Btf::from_slice(&blob, None).unwrap();
        let base = Btf::from_slice(&many_kinds(ByteOrder::Little, 10), None).unwrap();
        for threads in [1, 2] {
            set_max_threads(threads);
            let err = shift_blob(&m, &base).unwrap_err();
            set_max_threads(0);
            assert!(err.to_string().contains(&format!("[{id}] refers to id 20001")), "{err}");
        }
    }

    /// A type section large enough to be indexed first and shifted on two threads
    /// gives what parse + `shift_blob` gives, valid or with an out-of-range id late in
    /// the upper half; so does one thread.
    #[test]
    fn large_raw_input_equals_parse_then_shift() {
        let order = ByteOrder::Little;
        let good = many_kinds(order, 100_000);
        let type_len = order.u32_at(&good, 12) as usize;
        assert!(type_len >= 2 << 20, "{type_len} bytes: below the index-first size");
        let base = Btf::from_slice(&many_kinds(order, 300), None).unwrap();
        let m = Btf::from_slice(&good, None).unwrap();
        let mut bad = good.clone();
        let id = (95_000..100_000u32)
            .find(|&id| {
                let off = m.type_offsets()[id as usize - 1];
                record_at(m.type_section(), off, order).unwrap().0.has_type()
            })
            .unwrap();
        let at = 24 + m.type_offsets()[id as usize - 1] as usize + 8;
        bad[at..at + 4].copy_from_slice(&100_001u32.to_le_bytes());
        for raw in [&good, &bad] {
            let want = Btf::from_slice(raw, None)
                .and_then(|m| shift_blob(&m, &base))
                .map_err(|e| e.to_string());
            for threads in [1, 2] {
                set_max_threads(threads);
                let got = shift_raw(raw, &base).map(|(out, _)| out).map_err(|e| e.to_string());
                set_max_threads(0);
                assert_eq!(got, want, "{threads} threads");
            }
        }
    }

    /// `shift_raw` (one pass over the bytes) gives what parse + `shift_blob` gives,
    /// output or error.
    #[test]
    fn raw_pass_equals_parse_then_shift() {
        let parse_then_shift = |raw: &[u8], base: &Btf| {
            Btf::from_slice(raw, None).and_then(|m| shift_blob(&m, base)).map_err(|e| e.to_string())
        };
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let good = many_kinds(order, 3_000);
            let base = Btf::from_slice(&many_kinds(order, 300), None).unwrap();
            let other = match order {
                ByteOrder::Little => ByteOrder::Big,
                ByteOrder::Big => ByteOrder::Little,
            };
            let other_base = Btf::from_slice(&many_kinds(other, 30), None).unwrap();
            let m = Btf::from_slice(&good, None).unwrap();
            let second = 24 + m.type_offsets()[1] as usize;
            let mut cases = vec![good.clone()];
            // Truncated: the last record loses its last word.
            // (type_len and str_off both move down by 4; the strings keep their bytes.)
            let mut t = good.clone();
            for at in [12, 16] {
                let v = order.u32_at(&t, at) - 4;
                order.set_u32(&mut t, at, v);
            }
            let end = 24 + order.u32_at(&t, 12) as usize;
            t.drain(end..end + 4);
            cases.push(t);
            // Unknown kind 25 in the second record.
            let mut u = good.clone();
            u[if order == ByteOrder::Little { second + 7 } else { second + 4 }] = 25;
            cases.push(u);
            // Not standalone: the first record's name points past the string section.
            let mut n = good.clone();
            n[24..28].fill(0x7f);
            cases.push(n);
            for (i, case) in cases.iter().enumerate() {
                for (j, b) in [&base, &other_base].into_iter().enumerate() {
                    let want = parse_then_shift(case, b);
                    assert_eq!(want.is_ok(), i == 0 && j == 0, "case {i}, base {j}: {want:?}");
                    let got = shift_raw(case, b).map(|(out, _)| out).map_err(|e| e.to_string());
                    assert_eq!(got, want, "{order:?}");
                }
            }
        }
    }
}
