"""The type mapping of libbpf's ``btf__dedup`` on split BTF (docs/rebase.md §2).

The module's standalone BTF ``M`` (ids ``1..N``) is appended to an empty split BTF on the
base ``B`` (libbpf ``btf__add_btf``: ids ``x -> x + K``, strings re-interned against
``B``), then deduplicated.  Base types are canonical and never change; every appended type
ends up mapped to a base type or to a kept ("canonical") appended type.

The passes follow libbpf 1.1's ``src/btf.c`` (Debian bookworm's ``libbpf1``): with
``btf_dedup_resolve_fwds``, enum forward declarations and the identical-array/struct
shortcuts of ``btf_dedup_is_equiv``; without the later additions (the recursive
``btf_dedup_identical_types``, the identical-pointer shortcut, TYPEDEF in the struct pass):

1. ``btf_dedup_prep``: every base type is its own canonical type and a lookup candidate.
2. ``btf_dedup_prim_types``: INT, FLOAT, FWD, ENUM/ENUM64 (with enum forward declarations).
3. ``btf_dedup_struct_types``: STRUCT/UNION via the type-graph equivalence walk
   (``btf_dedup_is_equiv``) with a hypothetical map and FWD resolution.
4. ``btf_dedup_resolve_fwds``: remaining FWDs whose name names exactly one canonical
   struct/union.
5. ``btf_dedup_ref_types``: PTR, TYPEDEF, modifiers, FUNC, ARRAY, FUNC_PROTO, DECL_TAG
   after their targets.
6. ``btf_dedup_compact_types``: kept types in original order get ids ``K+1, K+2, ...``.

libbpf keeps candidates in a hash map that prepends to its buckets, so a lookup meets the
most recently added candidate first; here every candidate list is kept in ascending id
order and walked backwards: the highest id is tried first and the first match wins.

Strings are compared the way libbpf compares them after string dedup: a base type's name
is its raw offset; an appended string is the base offset of its first occurrence if the
base has it, else the string itself (bytes, never equal to an int).  The empty string is 0.

Every walk is iterative or depth-bounded, so deep or cyclic graphs neither hang nor hit
Python's recursion limit.
"""

from __future__ import annotations

from bisect import insort
from typing import Dict, List, Set, Tuple, Union, cast

from ..errors import BtfRebaseError
from ._layout import (
    ARRAY,
    CONST,
    DATASEC,
    DECL_TAG,
    ENUM,
    ENUM64,
    FLOAT,
    FUNC,
    FUNC_PROTO,
    FWD,
    INT,
    PTR,
    RESTRICT,
    STRUCT,
    TYPE_TAG,
    TYPEDEF,
    UNION,
    VAR,
    VOLATILE,
    kind_name,
)
from .btf import Btf
from .parse import TypeRecord
from .rebase_common import first_offsets, id_positions, str_positions

UNPROCESSED = -1  # libbpf BTF_UNPROCESSED_ID
IN_PROGRESS = -2  # libbpf BTF_IN_PROGRESS_ID

# Kinds whose only reference is the size/type word (libbpf's "common" reference kinds).
_REF_ONE = frozenset({CONST, VOLATILE, RESTRICT, PTR, TYPEDEF, FUNC, TYPE_TAG})
_COMPOSITE = (STRUCT, UNION)
_ENUMS = (ENUM, ENUM64)

Name = Union[int, bytes]  # a string's identity: base offset, or the bytes (see module doc)
View = Tuple[Name, ...]  # a record's words; string fields as names, every other word an int
Key = Tuple[Union[str, Name], ...]  # a candidate-table key (see _key)
_VOID: View = (0, 0, 0)


def _word(v: View, i: int) -> int:
    """Word ``i`` of ``v``, a non-string field (info, size/type, type id, value)."""
    return cast(int, v[i])


def _kind(v: View) -> int:
    return (_word(v, 1) >> 24) & 0x7F


def _kflag(v: View) -> int:
    return _word(v, 1) >> 31


def _is_enum_fwd(v: View) -> bool:
    return _kind(v) in _ENUMS and (_word(v, 1) & 0xFFFFFF) == 0


# --- structural comparisons (libbpf btf_equal_* / btf_compat_* / btf_shallow_equal_*) -----
def _equal_common(a: View, b: View) -> bool:
    return a[:3] == b[:3]  # name, info (kind, kflag, vlen), size/type


def _equal_int_tag(a: View, b: View) -> bool:
    return a[:4] == b[:4]


def _compat_enum(a: View, b: View) -> bool:
    if not _is_enum_fwd(a) and not _is_enum_fwd(b):
        return a == b  # btf_equal_enum: common part and every (name, value)
    # an enum forward declaration matches any enum/enum64 of that name (the empty name of
    # anonymous enums included), whatever its signedness (kflag), size or kind
    return a[0] == b[0] and _kind(a) in _ENUMS and _kind(b) in _ENUMS


def _shallow_equal_struct(a: View, b: View) -> bool:
    # members are (name, type, offset) from word 3: compare names and offsets only
    return a[:3] == b[:3] and a[3::3] == b[3::3] and a[5::3] == b[5::3]


def _compat_array(a: View, b: View) -> bool:
    return a[:3] == b[:3] and a[5] == b[5]  # common part and nelems


def _compat_fnproto(a: View, b: View) -> bool:
    # params are (name, type) from word 3; the return type (word 2) is not compared
    return a[:2] == b[:2] and a[3::2] == b[3::2]


def _members(v: View) -> List[int]:
    return cast(List[int], list(v[4::3]))  # member type ids


def _params(v: View) -> List[int]:
    return cast(List[int], list(v[4::2]))  # param type ids


# --- candidate-table keys (what libbpf's btf_hash_* functions hash) ------------------------
def _key(v: View) -> Key | None:
    kind = _kind(v)
    if kind in (VAR, DATASEC):
        return None  # never deduplicated
    if kind in (INT, DECL_TAG):
        return ("int_tag",) + tuple(v[:4])
    if kind in _ENUMS:
        return ("enum", v[0])  # name only, so enum forward declarations meet full enums
    if kind in _COMPOSITE:
        return ("struct",) + tuple(v[:3]) + tuple(v[3::3]) + tuple(v[5::3])
    if kind in (ARRAY, FUNC_PROTO):
        return ("whole",) + tuple(v)
    return ("common",) + tuple(v[:3])


class Dedup:
    """Runs the passes; afterwards ``id_map[x]`` (x in ``0..N``) is the final id of ``M``'s
    type ``x`` and ``kept`` lists the ``M`` ids that survive, in order."""

    def __init__(self, m: Btf, base: Btf) -> None:
        self.m = m
        self.base = base
        self.k = base.last_id  # K
        self.n = m.last_id  # N
        self.total = self.k + self.n + 1  # type count of the combined BTF, void included
        self.base_strings = first_offsets(base)
        self.views: List[View] = [_VOID]
        self.views.extend(self._base_view(i) for i in range(1, self.k + 1))
        self.views.extend(self._module_view(rec) for rec in m.types)
        self.map: List[int] = [UNPROCESSED] * self.total
        self.map[0] = 0
        for i in range(1, self.total):
            if _kind(self.views[i]) in (VAR, DATASEC):
                self.map[i] = i
        self.table: Dict[Key, List[int]] = {}
        self.hypot: Dict[int, int] = {}
        self.hypot_list: List[int] = []
        self.hypot_adjust_canon = False

    # ------------------------------------------------------------------ views
    def _base_view(self, type_id: int) -> View:
        rec = self.base.type_by_id(type_id)
        assert rec is not None
        return rec.words  # base names stay raw offsets, ids are already final

    def _name_key(self, off: int) -> Name:
        """The post-``btf__add_btf`` identity of a string of ``M``."""
        if off == 0:
            return 0
        s = self.m.str_bytes(off) or b""
        if s == b"":
            return 0
        found = self.base_strings.get(s)
        return found if found is not None else s

    def _module_view(self, rec: TypeRecord) -> View:
        w: List[Name] = list(rec.words)
        for i in id_positions(rec):
            if rec.words[i]:
                w[i] = rec.words[i] + self.k
        for i in str_positions(rec):
            w[i] = self._name_key(rec.words[i])
        return tuple(w)

    def _where(self, type_id: int) -> Tuple[int, str]:
        """(id as the user knows it, what it is) for error messages."""
        if type_id > self.k:
            return type_id - self.k, f"module type [{type_id - self.k}]"
        return type_id, f"base type [{type_id}]"

    # ------------------------------------------------------------------ map helpers
    def is_mapped(self, type_id: int) -> bool:
        return self.map[type_id] >= 0

    def resolve(self, type_id: int) -> int:
        """libbpf ``resolve_type_id``: follow the canonical map to its fixed point."""
        steps = 0
        while self.map[type_id] >= 0 and self.map[type_id] != type_id:
            type_id = self.map[type_id]
            steps += 1
            if steps > self.total:  # pragma: no cover - the passes never build a map cycle
                raise BtfRebaseError("internal error: canonical type map has a cycle")
        return type_id

    def resolve_fwd(self, type_id: int) -> int:
        """libbpf ``resolve_fwd_id``: a FWD resolved to a struct/union, else unchanged."""
        if _kind(self.views[type_id]) != FWD:
            return type_id
        target = self.resolve(type_id)
        return type_id if _kind(self.views[target]) == FWD else target

    def add_candidate(self, key: Key, type_id: int) -> None:
        insort(self.table.setdefault(key, []), type_id)

    def candidates(self, key: Key) -> List[int]:
        """The candidates for ``key``, highest id first (libbpf: most recently added)."""
        return self.table.get(key, [])[::-1]

    # ------------------------------------------------------------------ passes
    def run(self) -> None:
        self.prep()
        self.prim_types()
        self.struct_types()
        self.resolve_fwds()
        self.ref_types()
        self.compact()

    def module_ids(self) -> range:
        return range(self.k + 1, self.total)

    def prep(self) -> None:
        """``btf_dedup_prep``: base types are canonical candidates."""
        for type_id in range(1, self.k + 1):
            self.map[type_id] = type_id
            key = _key(self.views[type_id])
            if key is not None:
                self.table.setdefault(key, []).append(type_id)  # ascending already

    def prim_types(self) -> None:
        """``btf_dedup_prim_types``."""
        for type_id in self.module_ids():
            v = self.views[type_id]
            kind = _kind(v)
            if kind not in (INT, ENUM, ENUM64, FWD, FLOAT):
                continue
            key = _key(v)
            assert key is not None  # only VAR and DATASEC have none
            new_id = type_id
            for cand in self.candidates(key):
                c = self.views[cand]
                if kind == INT:
                    if _equal_int_tag(v, c):
                        new_id = cand
                        break
                elif kind in _ENUMS:
                    if v == c:  # btf_equal_enum
                        new_id = cand
                        break
                    if _compat_enum(v, c):
                        if _is_enum_fwd(v):  # our forward declaration resolves to cand
                            new_id = cand
                            break
                        self.map[cand] = type_id  # a canonical enum fwd now means us
                elif _equal_common(v, c):  # FWD, FLOAT
                    new_id = cand
                    break
            self.map[type_id] = new_id
            if new_id == type_id:
                self.add_candidate(key, type_id)

    def struct_types(self) -> None:
        """``btf_dedup_struct_types``."""
        for type_id in self.module_ids():
            if self.is_mapped(type_id):
                continue
            v = self.views[type_id]
            if _kind(v) not in _COMPOSITE:
                continue
            key = _key(v)
            assert key is not None  # only VAR and DATASEC have none
            new_id = type_id
            for cand in self.candidates(key):
                if not _shallow_equal_struct(v, self.views[cand]):
                    continue  # also keeps FWDs out (libbpf guards hash collisions here)
                self.clear_hypot()
                if not self.is_equiv(type_id, cand):
                    continue
                self.merge_hypot()
                if self.hypot_adjust_canon:
                    continue  # would need to change a base type: not equivalent
                new_id = cand
                break
            self.map[type_id] = new_id
            if new_id == type_id:
                self.add_candidate(key, type_id)

    def resolve_fwds(self) -> None:
        """``btf_dedup_resolve_fwds``: a FWD still canonical resolves to the only canonical
        struct/union carrying its name (base or module), when that kind fits."""
        by_name: Dict[Name, int] = {}
        for type_id in range(1, self.total):
            v = self.views[type_id]
            if _kind(v) not in _COMPOSITE or self.map[type_id] != type_id:
                continue
            by_name[v[0]] = 0 if v[0] in by_name else type_id  # 0: ambiguous
        for type_id in self.module_ids():
            v = self.views[type_id]
            if _kind(v) != FWD or self.map[type_id] != type_id:
                continue
            cand = by_name.get(v[0], 0)
            if cand == 0:
                continue
            wanted = UNION if _kflag(v) else STRUCT
            if _kind(self.views[cand]) == wanted:
                self.map[type_id] = cand

    def ref_types(self) -> None:
        """``btf_dedup_ref_types``: each reference type after the types it refers to
        (an explicit post-order walk instead of libbpf's recursion)."""
        for root in self.module_ids():
            if self.map[root] >= 0:
                continue
            stack: List[Tuple[int, bool]] = [(root, False)]
            while stack:
                type_id, children_done = stack.pop()
                if children_done:
                    self._dedup_ref(type_id)
                    continue
                state = self.map[type_id]
                if state == IN_PROGRESS:
                    uid, what = self._where(type_id)
                    raise BtfRebaseError(
                        f"reference type loop through {what} (libbpf dedup: ELOOP)",
                        type_id=uid,
                    )
                if state >= 0:
                    continue
                refs = self._ref_targets(type_id)
                self.map[type_id] = IN_PROGRESS
                stack.append((type_id, True))
                stack.extend((r, False) for r in reversed(refs))

    def _ref_targets(self, type_id: int) -> List[int]:
        v = self.views[type_id]
        kind = _kind(v)
        if kind in _REF_ONE or kind == DECL_TAG:
            return [_word(v, 2)]
        if kind == ARRAY:
            return [_word(v, 3), _word(v, 4)]  # element type, then index type
        if kind == FUNC_PROTO:
            return [_word(v, 2)] + _params(v)
        uid, what = self._where(type_id)
        raise BtfRebaseError(
            f"{what} of kind {kind_name(kind)} reached as a reference target "
            "(libbpf dedup: EINVAL)",
            type_id=uid,
            kind=kind_name(kind),
        )

    def _dedup_ref(self, type_id: int) -> None:
        """Rewrite the references of ``type_id`` to canonical ids (libbpf rewrites the
        record in place), then find an equal candidate or become canonical."""
        v = list(self.views[type_id])
        kind = _kind(self.views[type_id])
        if kind == ARRAY:
            positions = [3, 4]
        elif kind == FUNC_PROTO:
            positions = [2] + list(range(4, len(v), 2))
        else:
            positions = [2]
        for i in positions:
            v[i] = self.resolve(cast(int, v[i]))  # a type id
        view = tuple(v)
        self.views[type_id] = view
        key = _key(view)
        assert key is not None  # only VAR and DATASEC have none
        new_id = type_id
        for cand in self.candidates(key):
            c = self.views[cand]
            same = (
                _equal_int_tag(view, c)
                if kind == DECL_TAG
                else (view == c if kind in (ARRAY, FUNC_PROTO) else _equal_common(view, c))
            )
            if same:
                new_id = cand
                break
        self.map[type_id] = new_id
        if new_id == type_id:
            self.add_candidate(key, type_id)

    def compact(self) -> None:
        """``btf_dedup_compact_types`` + the final id of every ``M`` type."""
        self.kept = [t for t in self.module_ids() if self.map[t] == t]
        new_ids = {old: self.k + 1 + i for i, old in enumerate(self.kept)}

        def final(type_id: int) -> int:
            r = self.resolve(type_id)
            return new_ids[r] if r > self.k else r

        self.final = final
        self.id_map = [0] + [final(t) for t in self.module_ids()]

    # ------------------------------------------------------------------ equivalence walk
    def clear_hypot(self) -> None:
        self.hypot.clear()
        self.hypot_list.clear()
        self.hypot_adjust_canon = False

    def is_equiv(self, cand_id: int, canon_id: int) -> bool:
        """``btf_dedup_is_equiv``: depth-first, side by side, stop at the first mismatch.

        The explicit stack visits pairs in exactly the order libbpf's recursion does
        (children pushed in reverse), so the hypothetical map evolves identically."""
        stack = [(cand_id, canon_id)]
        while stack:
            cand, canon = stack.pop()
            step = self._equiv_step(cand, canon)
            if step is False:
                return False
            if step is not True:
                stack.extend(reversed(step))
        return True

    def _equiv_step(self, cand: int, canon: int):
        """One pair: True/False when decided, else the list of child pairs to check."""
        if self.resolve(cand) == self.resolve(canon):
            return True
        canon = self.resolve_fwd(canon)
        seen = self.hypot.get(canon)
        if seen is not None:
            # a contradiction, unless the two candidate-side types are identical copies
            return (
                seen == cand
                or self.identical_arrays(seen, cand)
                or self.identical_structs(seen, cand)
            )
        self.hypot[canon] = cand
        self.hypot_list.append(canon)

        ct, nt = self.views[cand], self.views[canon]
        ck, nk = _kind(ct), _kind(nt)
        if ct[0] != nt[0]:
            return False
        if FWD in (ck, nk) and ck != nk:
            if ck == FWD:
                real, fwd = nk, (UNION if _kflag(ct) else STRUCT)
            else:
                real, fwd = ck, (UNION if _kflag(nt) else STRUCT)
                if fwd == real and canon <= self.k:
                    self.hypot_adjust_canon = True  # would resolve a base FWD
            return fwd == real
        if ck != nk:
            return False
        if ck == INT:
            return _equal_int_tag(ct, nt)
        if ck in _ENUMS:
            return _compat_enum(ct, nt)
        if ck in (FWD, FLOAT):
            return _equal_common(ct, nt)
        if ck in _REF_ONE:
            if ct[1] != nt[1]:
                return False
            return [(ct[2], nt[2])]
        if ck == ARRAY:
            if not _compat_array(ct, nt):
                return False
            return [(ct[4], nt[4]), (ct[3], nt[3])]  # index type first, then element
        if ck in _COMPOSITE:
            if not _shallow_equal_struct(ct, nt):
                return False
            return list(zip(_members(ct), _members(nt)))
        if ck == FUNC_PROTO:
            if not _compat_fnproto(ct, nt):
                return False
            return [(ct[2], nt[2])] + list(zip(_params(ct), _params(nt)))
        uid, what = self._where(cand)
        raise BtfRebaseError(
            f"{what} of kind {kind_name(ck)} inside a struct/union type graph "
            "(libbpf dedup: EINVAL)",
            type_id=uid,
            kind=kind_name(ck),
        )

    def identical_arrays(self, id1: int, id2: int) -> bool:
        """``btf_dedup_identical_arrays``: two ARRAYs equal word for word (the same
        element and index type ids, the same number of elements)."""
        a, b = self.views[id1], self.views[id2]
        return _kind(a) == ARRAY and _kind(b) == ARRAY and a == b

    def identical_structs(self, id1: int, id2: int) -> bool:
        """``btf_dedup_identical_structs`` as in libbpf 1.1: two STRUCTs (or two UNIONs)
        with the same names and offsets whose member types are the same ids or, pairwise,
        identical arrays or (checked the same way, as deep as it goes) identical structs.

        libbpf recurses; this checks every pair the recursion would reach, each once.  A
        pair met again is not checked again, so a by-value cycle (where libbpf would not
        terminate) counts as identical."""
        pending: List[Tuple[int, int]] = [(id1, id2)]
        checked: Set[Tuple[int, int]] = {(id1, id2)}
        while pending:
            i1, i2 = pending.pop()
            a, b = self.views[i1], self.views[i2]
            if _kind(a) not in _COMPOSITE or _kind(a) != _kind(b):
                return False
            if not _shallow_equal_struct(a, b):
                return False
            for x, y in zip(_members(a), _members(b)):
                if x == y or self.identical_arrays(x, y) or (x, y) in checked:
                    continue
                checked.add((x, y))
                pending.append((x, y))
        return True

    def merge_hypot(self) -> None:
        """``btf_dedup_merge_hypot_map``: record FWD resolutions (even of base FWDs) and,
        unless a base type would have to change, map not-yet-processed structs/unions of
        the candidate graph onto their canonical counterparts."""
        for canon in self.hypot_list:
            t_id = self.resolve(self.hypot[canon])
            c_id = self.resolve(canon)
            t_kind = _kind(self.views[t_id])
            c_kind = _kind(self.views[c_id])
            if t_kind != FWD and c_kind == FWD:
                self.map[c_id] = t_id
            if self.hypot_adjust_canon:
                continue
            if t_kind == FWD and c_kind != FWD:
                self.map[t_id] = c_id
            if (
                t_kind in _COMPOSITE
                and c_kind != FWD
                and self.is_mapped(c_id)
                and not self.is_mapped(t_id)
            ):
                self.map[t_id] = c_id


def dedup_map(m: Btf, base: Btf) -> Dedup:
    """Run the dedup passes of ``M`` on ``base``; see :class:`Dedup`."""
    d = Dedup(m, base)
    try:
        d.run()
    except (IndexError, KeyError) as exc:
        raise BtfRebaseError(f"type id out of range in the base BTF ({exc})") from exc
    return d


__all__ = ["Dedup", "dedup_map"]
