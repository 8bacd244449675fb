//! Sizes (R6, R11, R12) and the per-member checks of `btf_struct_resolve` (R11).
//!
//! Each own type gets an [`Ext`]: what `btf_type_id_size` gives for it (the size word of
//! an INT, STRUCT, UNION, ENUM, ENUM64 or FLOAT, 8 for a PTR, an ARRAY's resolved size,
//! through modifiers), plus, when that is an INT, its encoding word. Member checks read
//! it instead of the member type's record, which may sit anywhere in the section.

use super::graph::{admits, RES_FLAG, RES_KIND, SIZED};
use super::spare::Spare;
use super::*;

/// A type's size in the low 32 bits; for an INT, its encoding word in the high 32.
pub(super) type Ext = u64;

/// Links a base type's size follows (docs/rules.md, "`size` of a base type").
const BASE_SIZE_LINKS: u32 = 64;

/// The size table kept from the last strict validation for the next (8 bytes per type:
/// a table for vmlinux is 1 MiB; about 550 page faults, a third of a millisecond, per
/// validation of vmlinux in a loop when made afresh).
static SPARE: Spare<Ext> = Spare::new();

/// A size table for `n` own types. Entries kept from the last validation are not zeroed
/// (a megabyte of stores for vmlinux): the walk writes every entry before anything reads
/// it, and every reader checks its arithmetic, so an old entry can never be seen.
pub(super) fn ext_table(n: usize) -> Vec<Ext> {
    SPARE.take(n, 0)
}

/// Keeps `t` for the next [`ext_table`].
pub(super) fn give_back(t: Vec<Ext>) {
    SPARE.give_back(t)
}

/// The size part of an [`Ext`].
#[inline(always)]
pub(super) fn ext_size(x: Ext) -> u32 {
    x as u32
}

/// R12 (`btf_array_resolve`): the size of an ARRAY of `nelems` elements of `elem`, or
/// `None` when it overflows u32 ("Array size overflows U32_MAX").
#[inline(always)]
pub(super) fn array_size(elem: Ext, nelems: u32) -> Option<u32> {
    ext_size(elem).checked_mul(nelems)
}

/// R11 for one member: its check (`check_member`, or `check_kflag_member` when the
/// struct has `kflag`) for the type it reaches, whose resolve byte is `rb` (a sized kind)
/// and whose [`Ext`] is `x`, in a struct of size `s`, at offset word `w`.
#[inline(always)]
pub(super) fn member_fail(kflag: bool, s: u32, w: u32, rb: u8, x: Ext) -> Option<&'static str> {
    let kind = rb & RES_KIND;
    let size = ext_size(x);
    if kind == k::INT {
        let data = (x >> 32) as u32;
        let bits = data & 0xff;
        if !kflag {
            // btf_int_check_member: the INT's own bit offset moves the member.
            let ioff = (data >> 16) & 0xff;
            let Some(o) = w.checked_add(ioff) else {
                return Some("bits_offset exceeds U32_MAX");
            };
            return copy_fits(s, o, bits);
        }
        // btf_int_check_kflag_member.
        if rb & RES_FLAG == 0 {
            return Some("Invalid member base type");
        }
        let (bf, bo) = (w >> 24, w & 0xff_ffff);
        let n = if bf == 0 {
            if !bo.is_multiple_of(8) {
                return Some("Invalid member offset");
            }
            bits
        } else if bf > bits {
            return Some("Invalid member bitfield_size");
        } else {
            bf
        };
        return copy_fits(s, bo, n);
    }
    if kflag && matches!(kind, k::ENUM | k::ENUM64) {
        // btf_enum_check_kflag_member: no bitfield counts as an int's 32 bits.
        let (bf, bo) = (w >> 24, w & 0xff_ffff);
        let n = if bf == 0 {
            if !bo.is_multiple_of(8) {
                return Some("Member is not byte aligned");
            }
            32
        } else if bf > 32 {
            return Some("Invalid member bitfield_size");
        } else {
            bf
        };
        return (s < (bo + n).div_ceil(8)).then_some("Member exceeds struct_size");
    }
    // btf_generic_check_kflag_member: no bitfield, then as without kflag.
    if kflag && w >> 24 != 0 {
        return Some("Invalid member bitfield_size");
    }
    if kind == k::FLOAT {
        // btf_float_check_member: aligned to min(8, size) bytes.
        let align = 8 * u64::from(size.min(8));
        if align != 0 && !u64::from(w).is_multiple_of(align) {
            return Some("Member is not properly aligned");
        }
        let end = u64::from(w / 8) + u64::from(size);
        return (end > u64::from(s)).then_some("Member exceeds struct_size");
    }
    // PTR, ARRAY, STRUCT, UNION, ENUM, ENUM64 (`btf_ptr_check_member`, ...).
    if !w.is_multiple_of(8) {
        return Some("Member is not byte aligned");
    }
    (s.wrapping_sub(w / 8) < size).then_some("Member exceeds struct_size")
}

/// The [`Ext`] of a record of raw `kind` with size/type word `w8` and first trailing word
/// `data`, on its own: 0 for a modifier or ARRAY (whose size comes from what they reach)
/// and for kinds without a size.
fn record_ext(kind: u8, w8: u32, data: u32) -> Ext {
    match kind {
        k::INT => u64::from(w8) | u64::from(data) << 32,
        k::PTR => 8,
        k::STRUCT | k::UNION | k::ENUM | k::ENUM64 | k::FLOAT => u64::from(w8),
        _ => 0,
    }
}

/// An INT member's `nr_copy_bits` (`n` bits from bit `o`) within a struct of size `s`.
#[inline(always)]
fn copy_fits(s: u32, o: u32, n: u32) -> Option<&'static str> {
    let copy = n + o % 8;
    if copy > 128 {
        return Some("nr_copy_bits exceeds 128");
    }
    let bytes = o / 8;
    (s < bytes || s - bytes < copy.div_ceil(8)).then_some("Member exceeds struct_size")
}

impl<'a, E: Rd> Validator<'a, E> {
    /// The [`Ext`] a decoded record gives on its own ([`record_ext`]).
    pub(super) fn ext_record(&self, r: &super::meta::Rec) -> Ext {
        record_ext(r.kind, r.w8, E::u32(r.body, 0))
    }

    /// The [`Ext`] of a type that has no by-value edges, or of any type as its record
    /// alone says ([`record_ext`]).
    pub(super) fn ext_own_record(&self, id: u32) -> Ext {
        let Some((sec, o)) = self.rec(id) else { return 0 };
        record_ext(info::kind(E::u32(sec, o + 4)) as u8, E::u32(sec, o + 8), E::u32(sec, o + 12))
    }

    /// The [`Ext`] of a base type (or of any id outside the own types): through
    /// modifiers and ARRAY elements, at most [`BASE_SIZE_LINKS`] links; more links, or
    /// a partial product past u32, give 0.
    #[cold]
    pub(super) fn ext_base(&self, id: u32) -> Ext {
        let mut cur = id;
        let mut mult: Option<u32> = None;
        for _ in 0..=BASE_SIZE_LINKS {
            if cur == 0 || cur > self.last_id {
                return 0;
            }
            let kind = self.kind_of(cur);
            if is_mod(kind) {
                cur = self.word_of(cur, 8);
            } else if kind == k::ARRAY {
                let Some(m) = mult.unwrap_or(1).checked_mul(self.word_of(cur, 20)) else {
                    return 0;
                };
                mult = Some(m);
                cur = self.word_of(cur, 12);
            } else {
                let x = self.ext_own_record(cur);
                return match mult {
                    None => x,
                    Some(m) => ext_size(x).checked_mul(m).map_or(0, u64::from),
                };
            }
        }
        0
    }

    /// The [`Ext`] of any type id, own ones from `ext` where it has them (the finished
    /// ones), others from their records (own types without by-value edges) or as
    /// [`Self::ext_base`] says.
    #[inline(always)]
    pub(super) fn ext_in(&self, ext: &[Ext], id: u32) -> Ext {
        if let Some(&x) = ext.get(id.wrapping_sub(self.start_id) as usize) {
            return x;
        }
        self.ext_far(id)
    }

    /// [`Self::ext_in`] for an id `ext` does not have yet.
    #[inline(never)]
    pub(super) fn ext_far(&self, id: u32) -> Ext {
        if self.own(id) {
            self.ext_own_record(id)
        } else {
            self.ext_base(id)
        }
    }

    /// R3 and R11, member by member (`btf_struct_resolve`), for own STRUCT/UNION `id`
    /// whose members' types are `es`, reading resolve bytes from `res` and sizes from
    /// `ext`.
    pub(super) fn members_check(&self, res: &[u8], ext: &[Ext], id: u32, es: &[u32]) -> Msg {
        let (sec, o) = self.rec(id)?;
        let kflag = info::kflag(E::u32(sec, o + 4));
        let s = E::u32(sec, o + 8);
        for (j, &t) in es.iter().enumerate() {
            let rb = self.res_in(res, t);
            let msg = if admits(rb, SIZED) {
                let w = E::u32(sec, o + 12 + 12 * j + 8);
                member_fail(kflag, s, w, rb, self.ext_in(ext, t))
            } else {
                Some("Invalid member")
            };
            if let Some(m) = msg {
                return Some(format!("member #{j}: {m}"));
            }
        }
        None
    }
}
