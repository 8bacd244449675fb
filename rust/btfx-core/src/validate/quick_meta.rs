//! Phase 1's quick accept: the common kinds of kernel BTF checked with no per-rule
//! branches and no messages.
//!
//! [`QuickMeta::passes`] returns a record's kind only when every rule of
//! [`Validator::check_meta`] holds for it; any doubt (another kind, a failing rule, a
//! name the identifier map does not know) returns `None`, and the exact check, which
//! finds and words the failure, runs instead. So it can only make phase 1 faster,
//! never change its result.

use super::idents::IdentMap;
use super::*;

/// What the quick accept reads, copied out of the [`Validator`].
pub(super) struct QuickMeta<'a, E> {
    sec: &'a [u8],
    idents: Option<&'a IdentMap>,
    start_str_off: u32,
    str_end: u32,
    /// The classic vlen limit applies (not [`ValidateOptions::wide`]).
    classic: bool,
    /// A FUNC_PROTO passes only if the map knows every parameter name (strict: R9).
    param_names: bool,
    _e: std::marker::PhantomData<E>,
}

impl<'a, E: Rd> Validator<'a, E> {
    /// The quick accept over this BTF (after the identifier map is built); with
    /// `param_names`, a FUNC_PROTO also needs parameter names the map knows.
    pub(super) fn quick_meta(&self, param_names: bool) -> QuickMeta<'_, E> {
        QuickMeta {
            sec: self.sec,
            idents: self.idents.get().and_then(Option::as_ref),
            start_str_off: self.start_str_off,
            str_end: self.str_end,
            classic: !self.opts.wide,
            param_names,
            _e: std::marker::PhantomData,
        }
    }
}

impl<E: Rd> QuickMeta<'_, E> {
    /// Whether the string at `off` is an identifier the map knows (own strings only).
    #[inline(always)]
    fn known_ident(&self, off: u32) -> bool {
        self.idents.is_some_and(|m| m.knows(off, self.start_str_off))
    }

    /// Whether the map knows every name given to a parameter of the FUNC_PROTO at `off`
    /// (with `vlen` of them): R9 then passes on names.
    #[inline(always)]
    fn param_names_known(&self, off: usize, vlen: u32) -> bool {
        let params = self.sec.get(off + 12..off + 12 + 8 * vlen as usize).unwrap_or(&[]);
        // No short cut: the lookups of one record then overlap.
        params.chunks_exact(8).fold(true, |all, p| {
            let name = E::u32(p, 0);
            all & ((name == 0) | self.known_ident(name))
        })
    }

    /// The raw kind of the record at `off` if it is a FUNC, FUNC_PROTO or PTR (two thirds
    /// of kernel BTF) that passes every meta rule; `None` otherwise. (Structs and enums
    /// gain nothing here: their element loops cost the same either way.)
    #[inline(always)]
    pub(super) fn passes(&self, off: usize) -> Option<u8> {
        let head = self.sec.get(off..).and_then(|r| r.first_chunk::<12>())?;
        let (name_off, inf, w8) = (E::at(head, 0), E::at(head, 1), E::at(head, 2));
        let kind = info::kind(inf) as u8;
        let (vlen, kflag) = (info::vlen(inf), info::kflag(inf));
        // `btf_check_meta`: a name offset inside the strings; none of the three kinds
        // takes a kind flag. The vlens accepted below are within the classic limit.
        if kflag || name_off >= self.str_end {
            return None;
        }
        let ok = match kind {
            // btf_func_check_meta: an identifier, linkage 0 (static) or 1 (global).
            k::FUNC => vlen <= 1 && self.known_ident(name_off),
            // btf_func_proto_check_meta: anonymous.
            k::FUNC_PROTO => {
                name_off == 0
                    && (!self.classic || vlen <= info::CLASSIC_VLEN_MAX)
                    && (!self.param_names || self.param_names_known(off, vlen))
            }
            // btf_ref_type_check_meta: anonymous, no vlen, a type id in range.
            k::PTR => name_off == 0 && vlen == 0 && w8 <= MAX_TYPE_ID,
            _ => false,
        };
        ok.then_some(kind)
    }
}
