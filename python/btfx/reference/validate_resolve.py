"""Phase 3 of strict validation: the kernel's resolve pass, step by step (docs/rules.md).

The kernel (``btf_check_all_types``) visits own type ids in order; each type that needs
resolving and is not resolved yet is the root of one ``btf_resolve``: a depth-first
search on an explicit stack, whose per-kind step (``btf_modifier_resolve``,
``btf_ptr_resolve``, ``btf_var_resolve``, ``btf_struct_resolve``, ``btf_array_resolve``,
``btf_datasec_resolve``, ``btf_decl_tag_resolve``, ``btf_func_resolve``) either pushes a
child that is neither resolved nor a *sink* or checks the type and pops it, recording its
resolved id and size. What counts as a sink depends on the search's mode, fixed by the
first PTR (pointer mode) or STRUCT/UNION/ARRAY (struct-or-array mode) pushed since the
root. A FUNC_PROTO is checked at its own turn (``btf_func_proto_check``), resolving its
return and parameter types first as new roots. The first failure ends validation: this
model reports the type and message the kernel logs. Base types of split BTF count as
resolved; their sizes and the kinds they reach come from their chains
(``validate_members``). The stack holds at most ``MAX_RESOLVE_DEPTH`` (32) entries, as
the kernel's does: a push beyond that fails the search on its root.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple

from ._layout import (
    ARRAY,
    DATASEC,
    DECL_TAG,
    ENUM,
    ENUM64,
    FLOAT,
    FUNC,
    FUNC_PROTO,
    FWD,
    INT,
    MODIFIERS,
    PTR,
    STRUCT,
    TYPEDEF,
    UNION,
    VAR,
)
from .validate_members import PTR_SIZE, U32_MAX, base_ext, member_fail, regular_int

if TYPE_CHECKING:
    from .btf import Btf
    from .parse import TypeRecord

MAX_RESOLVE_DEPTH = 32
_NOT_VISITED, _VISITED, _RESOLVED = 0, 1, 2
_ANY, _POINTER, _STRUCT_OR_ARRAY = 0, 1, 2  # RESOLVE_TBD, RESOLVE_PTR, ..._STRUCT_OR_ARRAY
_NEEDS_RESOLVE = MODIFIERS | {PTR, STRUCT, UNION, ARRAY, VAR, FUNC, DECL_TAG, DATASEC}
_SOURCE_ONLY = frozenset({VAR, DATASEC, DECL_TAG})
_NO_SIZE = frozenset({FWD, FUNC, FUNC_PROTO})  # and void
_SIZE_WORD = frozenset({INT, STRUCT, UNION, ENUM, ENUM64, FLOAT, DATASEC})
_DECL_TAG_TARGETS = frozenset({STRUCT, UNION, VAR, FUNC, TYPEDEF})


class _Void:
    """``btf_void``: what type id 0 is."""

    id = 0
    kind = 0
    kflag = 0
    vlen = 0
    size_type = 0


VOID = _Void()


class ResolveFailure(Exception):
    def __init__(self, type_id: int, message: str) -> None:
        super().__init__(message)
        self.type_id = type_id
        self.message = message


class _Abort(Exception):
    """``env_stack_push`` failed: -EEXIST (met again: a loop)."""


# What ``btf_type_id_size`` gives: the type reached, its id, its size, and an INT's
# encoding word (0 for other kinds)
Sized = Tuple["TypeRecord", int, int, int]


class _ProtoOf:
    """A base FUNC as a resolved type: it stands for its FUNC_PROTO (the base is trusted
    to have passed ``btf_func_check``)."""

    kind = FUNC_PROTO

    def __init__(self, func_id: int) -> None:
        self.id = func_id


class Resolver:
    def __init__(self, btf: Btf, ident: Callable[[int], bool]) -> None:
        self.btf = btf
        self.ident = ident
        n = len(btf.types)
        self.state = [_NOT_VISITED] * n
        self.resolved_id = [0] * n
        self.resolved_size = [0] * n
        self.stack: List[List] = []  # [type, id, next member]
        self.mode = _ANY

    # ------------------------------------------------------------------ lookups
    def type_of(self, type_id: int):
        """``btf_type_by_id``: VOID for 0, None past the last id."""
        if type_id == 0:
            return VOID
        return self.btf.type_by_id(type_id) if type_id <= self.btf.last_id else None

    def own(self, type_id: int) -> bool:
        return self.btf.start_id <= type_id <= self.btf.last_id

    def resolved(self, type_id: int) -> bool:
        """``env_type_is_resolved``: base types always are; void never is."""
        if 0 < type_id < self.btf.start_id:
            return True
        return self.own(type_id) and self.state[type_id - self.btf.start_id] == _RESOLVED

    def is_sink(self, t) -> bool:
        """``env_type_is_resolve_sink`` in the current mode."""
        if self.mode == _ANY:
            return t.kind not in _NEEDS_RESOLVE
        if self.mode == _POINTER:
            return t.kind not in MODIFIERS and t.kind != PTR
        return t.kind not in MODIFIERS and t.kind not in (ARRAY, STRUCT, UNION)

    def resolved_target(self, type_id: int) -> Tuple[Any, int]:
        """``btf_type_id_resolve``: the type a resolved type stands for (a base type:
        see ``_base_target``)."""
        rid = type_id
        if self.own(type_id):
            rid = self.resolved_id[type_id - self.btf.start_id]
        if 0 < rid < self.btf.start_id:
            return self._base_target(rid)
        return self.type_of(rid), rid

    def _base_target(self, type_id: int) -> Tuple[Any, int]:
        """What base type ``type_id`` stands for, resolved: where its modifiers lead
        (``_base_end``), a FUNC standing for its FUNC_PROTO."""
        end = self._base_end(type_id)
        if end is not None and end is not VOID and end.kind == FUNC:
            return _ProtoOf(end.id), end.id
        return end, (end.id if end is not None else type_id)

    def _base_end(self, type_id: int) -> Any:
        """Where the modifiers from base type ``type_id`` lead: a type, VOID (also for a
        loop of them, which leads nowhere) or None (past the last id)."""
        cur, seen = self.type_of(type_id), set()
        while cur is not None and cur is not VOID and cur.kind in MODIFIERS:
            if cur.id in seen:
                return VOID
            seen.add(cur.id)
            cur = self.type_of(cur.size_type)
        return cur

    def id_size(self, type_id: int) -> Optional[Sized]:
        """``btf_type_id_size``: the sized type ``type_id`` stands for (through one
        resolved modifier or VAR), its id and size; None when there is none."""
        if 0 < type_id < self.btf.start_id:
            return self._base_size(type_id)
        t = self.type_of(type_id)
        if t is None or t is VOID or t.kind in _NO_SIZE:
            return None
        sized = self._own_size(t)
        if sized is not None:
            return sized
        if t.kind not in MODIFIERS and t.kind != VAR:
            return None
        rid = self.resolved_id[type_id - self.btf.start_id]
        if 0 < rid < self.btf.start_id:
            return self._base_size(rid)
        t = self.type_of(rid)
        if t is None or t is VOID or t.kind in _NO_SIZE:
            return None
        return self._own_size(t)

    def _own_size(self, t) -> Optional[Sized]:
        if t.kind in _SIZE_WORD:
            return t, t.id, t.size_type, (t.fixed()[0] if t.kind == INT else 0)
        if t.kind == ARRAY:
            return t, t.id, self.resolved_size[t.id - self.btf.start_id], 0
        if t.kind == PTR:
            return t, t.id, PTR_SIZE, 0
        return None

    def _base_size(self, type_id: int) -> Optional[Sized]:
        """A trusted base type: the type its modifiers lead to, and its chain's size and
        INT encoding (at most 64 links: ``base_ext``)."""
        end = self._base_end(type_id)
        if end is None or end is VOID or end.kind not in _SIZE_WORD | {ARRAY, PTR}:
            return None
        return (end, end.id, *base_ext(self.btf, type_id))

    # ------------------------------------------------------------------ the stack
    def push(self, t, type_id: int) -> None:
        """``env_stack_push``; sets the mode on the first PTR, STRUCT, UNION or ARRAY.
        A full stack fails before a loop does (real BTF stays far below the limit:
        vmlinux reaches 10)."""
        if len(self.stack) == MAX_RESOLVE_DEPTH:
            raise _Abort(f"Exceeded max resolving depth:{MAX_RESOLVE_DEPTH}")
        i = type_id - self.btf.start_id
        if self.state[i] != _NOT_VISITED:
            raise _Abort("Loop detected")
        self.state[i] = _VISITED
        self.stack.append([t, type_id, 0])
        if self.mode == _ANY:
            if t.kind == PTR:
                self.mode = _POINTER
            elif t.kind in (STRUCT, UNION, ARRAY):
                self.mode = _STRUCT_OR_ARRAY

    def pop(self, resolved_id: int, size: int) -> None:
        """``env_stack_pop_resolved``."""
        _, type_id, _ = self.stack.pop()
        i = type_id - self.btf.start_id
        self.resolved_id[i] = resolved_id
        self.resolved_size[i] = size
        self.state[i] = _RESOLVED

    def must_push(self, t, type_id: int) -> bool:
        """Push ``t`` if it is neither a sink nor resolved (the step then returns)."""
        if not self.is_sink(t) and not self.resolved(type_id):
            self.push(t, type_id)
            return True
        return False

    # ------------------------------------------------------------------ per kind
    def step(self, frame: List) -> None:
        t = frame[0]
        kind = t.kind
        if kind in MODIFIERS:
            self.modifier(t)
        elif kind in (PTR, VAR):
            self.ptr_or_var(t)
        elif kind in (STRUCT, UNION):
            self.struct(frame)
        elif kind == ARRAY:
            self.array(t)
        elif kind == DATASEC:
            self.datasec(frame)
        elif kind == DECL_TAG:
            self.decl_tag(t)
        else:  # FUNC (btf_func_resolve)
            self.func_check(t)
            self.pop(t.size_type, 0)

    def named(self, t) -> Tuple[int, Any]:
        """The type a modifier, PTR or VAR names: anything but a VAR, DATASEC or
        DECL_TAG ("Invalid type_id")."""
        nid = t.size_type
        nt = self.type_of(nid)
        if nt is None or nt.kind in _SOURCE_ONLY:
            raise ResolveFailure(t.id, "Invalid type_id")
        return nid, nt

    def modifier(self, t) -> None:
        """``btf_modifier_resolve``: to anything but a VAR, DATASEC or DECL_TAG; void, a
        FWD or a FUNC_PROTO (or a resolved FUNC, which stands for its prototype) when it
        has no size."""
        nid, nt = self.named(t)
        if self.must_push(nt, nid):
            return
        sized = self.id_size(nid)
        if sized is None:
            if self.resolved(nid):
                nt, nid = self.resolved_target(nid)
            if nt is None or not (nt is VOID or nt.kind in (FWD, FUNC_PROTO)):
                raise ResolveFailure(t.id, "Invalid type_id")
            self.pop(nid, 0)
            return
        self.pop(sized[1], 0)

    def ptr_or_var(self, t) -> None:
        """``btf_ptr_resolve`` / ``btf_var_resolve``: after a resolved modifier that led
        to a PTR, that PTR is followed too; a VAR needs a sized type, a PTR anything but
        a VAR, DATASEC or DECL_TAG."""
        nid, nt = self.named(t)
        if self.must_push(nt, nid):
            return
        if nt.kind in MODIFIERS:
            rt, rid = self.resolved_target(nid)
            if rt is not None and rt.kind == PTR and self.own(rid) and self.must_push(rt, rid):
                return
        sized = self.id_size(nid)
        if t.kind == VAR:
            if sized is None:
                raise ResolveFailure(t.id, "Invalid type_id")
            self.pop(sized[1], 0)
            return
        if sized is None:
            if self.resolved(nid):
                nt, _ = self.resolved_target(nid)
            if nt is None or not (nt is VOID or nt.kind in (FWD, FUNC_PROTO)):
                raise ResolveFailure(t.id, "Invalid type_id")
        self.pop(0, 0)

    def struct(self, frame: List) -> None:
        """``btf_struct_resolve``: member by member, each checked once its type is
        resolved (``check_member`` / ``check_kflag_member`` of the kind it reaches)."""
        t, _, nxt = frame
        members = t.elems()
        if nxt:
            self.check_member(t, nxt - 1, members[nxt - 1])
        for j in range(nxt, len(members)):
            mid = members[j][1]
            mt = self.type_of(mid)
            if self.unusable(mt):
                raise ResolveFailure(t.id, f"member #{j}: Invalid member")
            if not self.is_sink(mt) and not self.resolved(mid):
                frame[2] = j + 1
                self.push(mt, mid)
                return
            self.check_member(t, j, members[j])
        self.pop(0, 0)

    def check_member(self, t, j: int, member: Tuple[int, ...]) -> None:
        sized = self.id_size(member[1])
        if sized is None:  # a modifier that leads to nothing sized
            raise ResolveFailure(t.id, f"member #{j}: Invalid member")
        target, _, size, data = sized
        msg = member_fail(t, member[2], target, size, data)
        if msg is not None:
            raise ResolveFailure(t.id, f"member #{j}: {msg}")

    def array(self, t) -> None:
        """``btf_array_resolve``: the index first (a regular INT), then the element
        (sized; a regular INT if an INT), then the size (within u32)."""
        elem, index, nelems = t.fixed()
        sized = self.part(t, index, "Invalid index")
        if sized is None:
            return
        if sized[0].kind != INT or not regular_int(sized[0]):
            raise ResolveFailure(t.id, "Invalid index")
        sized = self.part(t, elem, "Invalid elem")
        if sized is None:
            return
        target, eid, esize, _ = sized
        if target.kind == INT and not regular_int(target):
            raise ResolveFailure(t.id, "Invalid array of int")
        if nelems and esize > U32_MAX // nelems:
            raise ResolveFailure(t.id, "Array size overflows U32_MAX")
        self.pop(eid, esize * nelems)

    def part(self, t, part_id: int, msg: str) -> Optional[Sized]:
        """An ARRAY's index or element: the type it stands for, once resolved (None: it
        was pushed first); ``msg`` if it has none."""
        pt = self.type_of(part_id)
        if self.unusable(pt):
            raise ResolveFailure(t.id, msg)
        if self.must_push(pt, part_id):
            return None
        sized = self.id_size(part_id)
        if sized is None:
            raise ResolveFailure(t.id, msg)
        return sized

    @staticmethod
    def unusable(t) -> bool:
        """``btf_type_nosize_or_null`` or ``btf_type_is_resolve_source_only``."""
        return t is None or t is VOID or t.kind in _NO_SIZE or t.kind in _SOURCE_ONLY

    def datasec(self, frame: List) -> None:
        """``btf_datasec_resolve``: each entry a VAR, resolved, whose type fits the
        entry. The mode goes back to "any" at every step, and after a VAR pushed here
        the next step resumes with the following entry (that entry is not checked)."""
        t, _, nxt = frame
        self.mode = _ANY
        entries = t.elems()
        for j in range(nxt, len(entries)):
            vid, _, vsize = entries[j]
            var = self.type_of(vid)
            if var is None or var.kind != VAR:
                raise ResolveFailure(t.id, f"secinfo #{j}: Not a VAR kind member")
            if not self.is_sink(var) and not self.resolved(vid):
                frame[2] = j + 1
                self.push(var, vid)
                return
            sized = self.id_size(var.size_type)
            if sized is None:
                raise ResolveFailure(t.id, f"secinfo #{j}: Invalid type")
            if vsize < sized[2]:
                raise ResolveFailure(t.id, f"secinfo #{j}: Invalid size")
        self.pop(0, 0)

    def decl_tag(self, t) -> None:
        """``btf_decl_tag_resolve``: on a STRUCT, UNION, VAR, FUNC or TYPEDEF; a
        component index only on a STRUCT/UNION (a member) or FUNC (a parameter)."""
        nid = t.size_type
        nt = self.type_of(nid)
        if nt is None or nt.kind not in _DECL_TAG_TARGETS:
            raise ResolveFailure(t.id, "Invalid type_id")
        if self.must_push(nt, nid):
            return
        component = t.fixed()[0]
        if component != 0xFFFFFFFF:  # -1: the whole declaration
            if nt.kind in (VAR, TYPEDEF):
                raise ResolveFailure(t.id, "Invalid component_idx")
            if nt.kind in (STRUCT, UNION):
                vlen = nt.vlen
            else:  # a FUNC: its type's entries (a FUNC on a non-prototype failed R5)
                proto = self.type_of(nt.size_type)
                vlen = proto.vlen if proto is not None else 0
            if component >= vlen:
                raise ResolveFailure(t.id, "Invalid component_idx")
        self.pop(nid, 0)

    def func_check(self, t) -> None:
        """``btf_func_check``: a FUNC_PROTO whose parameters with a type have names."""
        proto = self.type_of(t.size_type)
        if proto is None or proto.kind != FUNC_PROTO:
            raise ResolveFailure(t.id, "Invalid type_id")
        for n, (name_off, ptype) in enumerate(proto.elems(), 1):
            if not name_off and ptype:
                raise ResolveFailure(t.id, f"Invalid arg#{n}")

    # ------------------------------------------------------------------ the passes
    def resolve(self, t, type_id: int) -> None:
        """``btf_resolve``: one search from ``type_id``; a loop is reported on the root."""
        self.mode = _ANY
        try:
            self.push(t, type_id)
            while self.stack:
                self.step(self.stack[-1])
        except _Abort as e:
            raise ResolveFailure(type_id, str(e)) from None

    def proto_check(self, t) -> None:
        """``btf_func_proto_check``: the return type void or sized; a last parameter of
        type void (varargs) unnamed; the others named by an identifier or not at all,
        and sized. Each type is resolved first if it needs to be."""
        ret = t.size_type
        if ret:
            rt = self.type_of(ret)
            if rt is None or rt.kind in _SOURCE_ONLY:
                raise ResolveFailure(t.id, "Invalid return type")
            self.resolve_if_needed(rt, ret)
            if self.id_size(ret) is None:
                raise ResolveFailure(t.id, "Invalid return type")
        params = t.elems()
        if params and params[-1][1] == 0:
            if params[-1][0]:
                raise ResolveFailure(t.id, f"Invalid arg#{len(params)}")
            params = params[:-1]
        for n, (name_off, ptype) in enumerate(params, 1):
            pt = self.type_of(ptype)
            if pt is None or pt.kind in _SOURCE_ONLY:
                raise ResolveFailure(t.id, f"Invalid arg#{n}")
            if name_off and not self.ident(name_off):
                raise ResolveFailure(t.id, f"Invalid arg#{n}")
            self.resolve_if_needed(pt, ptype)
            if self.id_size(ptype) is None:
                raise ResolveFailure(t.id, f"Invalid arg#{n}")

    def resolve_if_needed(self, t, type_id: int) -> None:
        if t is not VOID and t.kind in _NEEDS_RESOLVE and self.own(type_id):
            if not self.resolved(type_id):
                self.resolve(t, type_id)

    def run(self) -> None:
        """``btf_check_all_types``."""
        for t in self.btf.types:
            if t.kind in _NEEDS_RESOLVE and not self.resolved(t.id):
                self.resolve(t, t.id)
            if t.kind == FUNC_PROTO:
                self.proto_check(t)
