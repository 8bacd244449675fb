"""Phase 3 ("resolve", strict-only) corruptions for ``btfgen`` (test-only code).

:func:`_resolve_mutation` appends unreferenced types that pass phases 1 and 2 but fail to
resolve (``docs/rules.md`` R1-R12), so only ``validate("strict")`` rejects the blob. The
defects it can make are listed in :data:`RESOLVE_DEFECTS`; the per-member checks of
``btf_struct_resolve`` (R11, :data:`R11_DEFECTS`) have their own case builder.
``btfgen``'s invalid strategies import this module lazily (it imports ``btfgen``).
"""

from __future__ import annotations

from typing import Callable, List, Tuple

from btfgen import (
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
    INT_BOOL,
    INT_CHAR,
    INT_SIGNED,
    MAX_ID,
    PTR,
    RESTRICT,
    SEC_NAMES,
    STRUCT,
    TYPE_TAG,
    TYPEDEF,
    UNION,
    VAR,
    VOLATILE,
    Invalid,
    Model,
    T,
    _any_int,
    _append,
    _val,
    idents,
    serialize,
)
from hypothesis import strategies as st

Build = Callable[[int], List[T]]  # the types to append, given the id of the first one

U32_MAX = 0xFFFFFFFF
INT_SIZES = (1, 2, 4, 8, 16)


def _append_subject(
    draw, m: Model, helpers: Build, subject: Callable[[int], T], first: bool | None = None
) -> int:
    """Append ``subject`` (the one type that fails) and the valid types it uses, whose ids
    start at ``h`` in ``helpers(h)`` and ``subject(h)``: the subject first (forward
    references: the kernel resolves the helpers on the way) or last. Returns its id."""
    nid = m.last_id + 1
    if first is None:
        first = draw(st.booleans())
    if first:
        _append(m, subject(nid + 1), *helpers(nid + 1))
        return nid
    hs = helpers(nid)
    _append(m, *hs, subject(nid))
    return nid + len(hs)


def _int_word(bits: int, ioff: int = 0, enc: int = 0) -> int:
    return (enc << 24) | (ioff << 16) | bits


def _regular_int(draw) -> Tuple[int, int]:
    """(size, encoding word) of a regular INT (``btf_type_int_is_regular``): 8 to 128 bits,
    in as many or more bytes."""
    nbytes = draw(st.sampled_from(INT_SIZES))
    size = draw(st.sampled_from([s for s in INT_SIZES if s >= nbytes]))
    enc = draw(st.sampled_from([0, INT_SIGNED, INT_CHAR, INT_BOOL]))
    return size, _int_word(8 * nbytes, 0, enc)


def _member_type(draw, kind: int, size: int = 0, word: int = 0) -> Build:
    """Valid types, the last one reaching ``kind`` of ``size`` bytes through up to two
    modifiers (``btf_modifier_check_member`` checks what they reach): an INT (encoding
    ``word``), a ``void *`` (8 bytes), an empty STRUCT or UNION, an ENUM / ENUM64, a FLOAT,
    an ARRAY of 4-byte ints (``size`` a multiple of 4)."""
    mods = draw(st.lists(st.sampled_from([TYPEDEF, CONST, VOLATILE]), max_size=2))

    def build(h: int) -> List[T]:
        if kind == INT:
            ts = [T(INT, "int", size, data=[word])]
        elif kind == PTR:
            ts = [T(PTR, None, 0)]
        elif kind in (STRUCT, UNION):
            ts = [T(kind, None, size)]
        elif kind in (ENUM, ENUM64):
            ts = [T(kind, "e", size, data=[("A", 1)])]
        elif kind == FLOAT:
            ts = [T(FLOAT, "float", size)]
        else:
            assert kind == ARRAY and size % 4 == 0
            ts = [T(INT, "int", 4, data=[32]), T(ARRAY, None, 0, data=[(h, h, size // 4)])]
        for mod in mods:
            ts.append(T(mod, "td" if mod == TYPEDEF else None, h + len(ts) - 1))
        return ts

    return build


def _some_member_type(draw, kinds, min_size: int = 0) -> Tuple[Build, int]:
    """A member type of one of ``kinds`` (INT: a regular one; PTR, STRUCT, UNION, ARRAY,
    ENUM, ENUM64, FLOAT) of at least ``min_size`` (<= 2) bytes, and its size."""
    kind = draw(st.sampled_from(kinds))
    if kind == PTR:
        size = 8
    elif kind in (STRUCT, UNION):
        size = draw(st.integers(min_size, 16))
    elif kind == ARRAY:
        size = 4 * draw(st.integers(1, 4))
    elif kind == FLOAT:
        size = draw(st.sampled_from([2, 4, 8, 12, 16]))
    elif kind == INT:
        size = draw(st.sampled_from([s for s in INT_SIZES if s >= min_size]))
    else:
        size = draw(st.sampled_from([s for s in (1, 2, 4, 8) if s >= min_size]))
    return _member_type(draw, kind, size, _int_word(8 * size)), size


def _bytes(bits: int) -> int:
    return -(-bits // 8)


def _cut_short(draw, start: int, end: int) -> int:
    """A struct size that leaves bits ``[start, end)`` of a member out but keeps its start
    inside (``ceil(bitoff/8) <= size``, phase 1)."""
    return draw(st.integers(_bytes(start), _bytes(end) - 1))


def _r11_case(draw, what: str) -> Tuple[int, int, Build, int, int]:
    """(STRUCT or UNION, kflag, member type, offset word, struct size) of a struct whose
    member fails the per-member check ``what`` of ``btf_struct_resolve`` (R11)."""
    kind = draw(st.sampled_from([STRUCT, UNION]))
    kflag = draw(st.integers(0, 1))

    def bitoff(limit: int = 200) -> int:  # a union's members are at 0 (phase 1)
        return draw(st.integers(0, limit)) if kind == STRUCT else 0

    def byteoff() -> int:
        return 8 * draw(st.integers(0, 16)) if kind == STRUCT else 0

    def spills(bo: int, n: int) -> int:
        """``bo``, or the byte it is in if ``n`` bits from there stay in its last byte."""
        return bo if _bytes(bo + n) > _bytes(bo) else bo - bo % 8

    if what == "R11_not_byte_aligned":  # check_member of PTR, STRUCT, ARRAY, ENUM (any kflag)
        build, size = _some_member_type(draw, [PTR, STRUCT, UNION, ARRAY, ENUM, ENUM64])
        w = 8 * draw(st.integers(0, 8)) + draw(st.integers(1, 7))
        return STRUCT, kflag, build, w, w // 8 + 1 + max(size, 4) + draw(st.integers(0, 8))
    if what == "R11_float_align":  # btf_float_check_member
        size = draw(st.sampled_from([2, 4, 8, 12, 16]))
        w = draw(st.integers(1, 255).filter(lambda v: v % (8 * min(8, size))))
        return STRUCT, kflag, _member_type(draw, FLOAT, size), w, w // 8 + 1 + size
    if what in ("R11_exceeds_ptr", "R11_exceeds_array", "R11_exceeds_struct"):
        # btf_ptr_check_member, btf_array_check_member, btf_struct_check_member
        mkinds = {"R11_exceeds_ptr": [PTR], "R11_exceeds_array": [ARRAY]}
        build, size = _some_member_type(draw, mkinds.get(what, [STRUCT, UNION]), 1)
        w = byteoff()
        return kind, kflag, build, w, _cut_short(draw, w, w + 8 * size)
    if what == "R11_exceeds_float":  # btf_float_check_member
        size = draw(st.sampled_from([2, 4, 8, 12, 16]))
        build = _member_type(draw, FLOAT, size)
        w = 8 * min(8, size) * draw(st.integers(0, 4)) if kind == STRUCT else 0
        return kind, kflag, build, w, _cut_short(draw, w, w + 8 * size)
    if what == "R11_exceeds_enum":
        size = draw(st.sampled_from([1, 2, 4, 8]))
        build = _member_type(draw, draw(st.sampled_from([ENUM, ENUM64])), size)
        if not kflag:  # btf_enum_check_member
            w = byteoff()
            return kind, 0, build, w, _cut_short(draw, w, w + 8 * size)
        # btf_enum_check_kflag_member: a bitfield, or 32 bits whatever the size
        bf = draw(st.integers(0, 32))
        bo = spills(bitoff(128), bf) if bf else byteoff()
        return kind, 1, build, (bf << 24) | bo, _cut_short(draw, bo, bo + (bf or 32))
    if what == "R11_exceeds_int":
        if kflag:  # btf_int_check_kflag_member: a regular INT
            size, word = _regular_int(draw)
            bits = word & 0xFF
            bf = draw(st.integers(0, bits))
            bo = spills(bitoff(128), bf) if bf else byteoff()
            if bf + bo % 8 > 128:  # not "nr_copy_bits exceeds 128"
                bo -= bo % 8
            build = _member_type(draw, INT, size, word)
            return kind, 1, build, (bf << 24) | bo, _cut_short(draw, bo, bo + (bf or bits))
        # btf_int_check_member: any INT, at any bit offset
        size = draw(st.sampled_from(INT_SIZES))
        bits = draw(st.integers(1, 8 * size))
        ioff = draw(st.integers(0, 8 * size - bits))
        w = spills(bitoff(128), ioff + bits)
        if bits + (w + ioff) % 8 > 128:
            w -= w % 8
        build = _member_type(draw, INT, size, _int_word(bits, ioff))
        return kind, 0, build, w, _cut_short(draw, w, w + ioff + bits)
    if what == "R11_int_bits_offset":  # btf_int_check_member: w + int offset > U32_MAX
        size = draw(st.sampled_from(INT_SIZES))
        bits = draw(st.integers(1, 8 * size - 1))
        ioff = draw(st.integers(1, 8 * size - bits))
        w = U32_MAX - draw(st.integers(0, ioff - 1))
        build = _member_type(draw, INT, size, _int_word(bits, ioff))
        return STRUCT, 0, build, w, _bytes(w) + draw(st.integers(0, 8))
    if what == "R11_nr_copy_bits":  # more than 128 bits from the byte the member starts in
        if kflag:  # a regular 128-bit INT, a bitfield of 122 bits or more
            bf = draw(st.integers(122, 128))
            bo = 8 * draw(st.integers(0, 8)) + draw(st.integers(129 - bf, 7))
            build = _member_type(draw, INT, 16, _int_word(128))
            return STRUCT, 1, build, (bf << 24) | bo, bo // 8 + 17
        bits = draw(st.integers(122, 128))
        ioff = draw(st.integers(0, 128 - bits))
        w = 8 * draw(st.integers(0, 8)) + (draw(st.integers(129 - bits, 7)) - ioff) % 8
        build = _member_type(draw, INT, 16, _int_word(bits, ioff))
        return STRUCT, 0, build, w, w // 8 + 18
    if what == "R11_int_base_type":  # kflag: an INT that is not regular
        size = draw(st.sampled_from(INT_SIZES))
        if draw(st.booleans()):  # a bit offset
            bits = draw(st.integers(1, 8 * size - 1))
            ioff = draw(st.integers(1, 8 * size - bits))
        else:  # a bit count that is not 8, 16, 32, 64 or 128
            bits = draw(st.integers(1, 8 * size).filter(lambda b: b not in (8, 16, 32, 64, 128)))
            ioff = 0
        bo = bitoff()
        w = (draw(st.integers(0, 255)) << 24) | bo
        build = _member_type(draw, INT, size, _int_word(bits, ioff))
        return kind, 1, build, w, _bytes(bo) + draw(st.integers(0, 16))
    if what == "R11_int_member_offset":  # kflag, no bitfield, not at a byte
        size, word = _regular_int(draw)
        bo = 8 * draw(st.integers(0, 8)) + draw(st.integers(1, 7))
        return STRUCT, 1, _member_type(draw, INT, size, word), bo, bo // 8 + 1 + size
    if what == "R11_int_bitfield_size":  # kflag, a bitfield wider than the INT
        size, word = _regular_int(draw)
        bo = bitoff()
        w = (draw(st.integers((word & 0xFF) + 1, 255)) << 24) | bo
        return kind, 1, _member_type(draw, INT, size, word), w, _bytes(bo) + 40
    if what == "R11_enum_bitfield_size":  # kflag, an enum bitfield wider than 32 bits
        build, _ = _some_member_type(draw, [ENUM, ENUM64])
        bo = bitoff()
        w = (draw(st.integers(33, 255)) << 24) | bo
        return kind, 1, build, w, _bytes(bo) + draw(st.integers(0, 16))
    # btf_generic_check_kflag_member: a bitfield of a PTR, STRUCT, UNION, ARRAY or FLOAT
    assert what == "R11_generic_bitfield", what
    build, size = _some_member_type(draw, [PTR, STRUCT, UNION, ARRAY, FLOAT])
    bo = bitoff()
    w = (draw(st.integers(1, 255)) << 24) | bo
    return kind, 1, build, w, _bytes(bo) + size + draw(st.integers(0, 8))


def _r11_mutation(draw, m: Model, what: str) -> int:
    """A STRUCT or UNION with one member failing R11 (and perhaps a valid ``void *`` at 0
    before it); returns its id."""
    kind, kflag, build, word, size = _r11_case(draw, what)
    lead = int(size >= 8 and draw(st.booleans()))  # btf_ptr_check_member: 8 bytes
    name = draw(st.one_of(st.none(), idents))
    member = draw(idents)

    def helpers(h: int) -> List[T]:
        return [T(PTR, None, 0) for _ in range(lead)] + build(h + lead)

    def subject(h: int) -> T:
        members = [("p", h, 0)] * lead + [(member, h + len(helpers(h)) - 1, word)]
        return T(kind, name, size, kflag=kflag, data=members)

    return _append_subject(draw, m, helpers, subject)


def _r12_mutation(draw, m: Model) -> int:
    """An ARRAY whose ``nelems`` times its element's size is beyond U32_MAX
    (``btf_array_resolve``): the element an INT, an ARRAY of INTs or an empty STRUCT."""
    isize = draw(st.sampled_from([2, 4, 8, 16]))
    elem = draw(st.sampled_from([INT, ARRAY, STRUCT]))
    inner = 0
    if elem == INT:
        esize = isize
    elif elem == ARRAY:
        inner = draw(st.integers(1, U32_MAX // isize))  # the inner ARRAY fits
        esize = isize * inner
    else:
        esize = draw(st.integers(2, U32_MAX))
    nelems = draw(st.integers(U32_MAX // esize + 1, U32_MAX))
    mods = draw(st.lists(st.sampled_from([TYPEDEF, CONST, VOLATILE]), max_size=2))

    def helpers(h: int) -> List[T]:
        ts = [T(INT, "int", isize, data=[_int_word(8 * isize)])]  # element and index
        if elem == ARRAY:
            ts.append(T(ARRAY, None, 0, data=[(h, h, inner)]))
        elif elem == STRUCT:
            ts.append(T(STRUCT, None, esize))
        for mod in mods:
            ts.append(T(mod, "td" if mod == TYPEDEF else None, h + len(ts) - 1))
        return ts

    def subject(h: int) -> T:
        return T(ARRAY, None, 0, data=[(h + len(helpers(h)) - 1, h, nelems)])

    return _append_subject(draw, m, helpers, subject)


def _r6_mutation(draw, m: Model, what: str) -> int:
    """A DATASEC with an entry that is a FUNC, or whose size is below its VAR type's
    (``btf_datasec_resolve``); returns its id."""
    name = draw(st.sampled_from(SEC_NAMES))
    pad = draw(st.integers(0, 8))
    if what == "R6_datasec_func":
        lead = draw(st.booleans())  # a valid VAR entry first
        fsize = draw(st.integers(1, 16))
        linkage = draw(st.integers(0, 1))

        def helpers(h: int) -> List[T]:
            ts = [T(FUNC_PROTO, None, 0), T(FUNC, "fn", h, vlen=linkage)]
            if lead:
                ts += [T(INT, "int", 4, data=[32]), T(VAR, "v", h + 2, data=[0])]
            return ts

        def subject(h: int) -> T:
            entries = [(h + 3, 0, 4)] * lead + [(h + 1, 4 * lead + pad, fsize)]
            return T(DATASEC, name, 4 * lead + pad + fsize, data=entries)

        return _append_subject(draw, m, helpers, subject)
    # The entry's size is checked only when the VAR is resolved before the DATASEC (the
    # kernel skips it for an entry whose VAR it has to resolve first): the VAR comes first.
    assert what == "R6_datasec_size", what
    kinds = [INT, PTR, STRUCT, UNION, ARRAY, ENUM, ENUM64, FLOAT]
    build, size = _some_member_type(draw, kinds, 2)
    esize = draw(st.integers(1, size - 1))
    linkage = draw(st.integers(0, 1))

    def var_and_type(h: int) -> List[T]:
        ts = build(h)
        return ts + [T(VAR, "v", h + len(ts) - 1, data=[linkage])]

    def section(h: int) -> T:
        return T(DATASEC, name, pad + esize, data=[(h + len(var_and_type(h)) - 1, pad, esize)])

    return _append_subject(draw, m, var_and_type, section, first=False)


def _r9_self_mutation(draw, m: Model) -> int:
    """A FUNC_PROTO returning a modifier of itself, before or after it: not a loop (a
    FUNC_PROTO is never on the kernel's resolve stack) but an unsized return type."""
    mod = draw(st.sampled_from([TYPEDEF, TYPEDEF, CONST, VOLATILE]))
    name = draw(idents) if mod == TYPEDEF else None
    params = [(draw(idents), _any_int(m)) for _ in range(draw(st.integers(0, 2)))]
    nid = m.last_id + 1
    if draw(st.booleans()):
        _append(m, T(FUNC_PROTO, None, nid + 1, data=params), T(mod, name, nid))
        return nid
    _append(m, T(mod, name, nid + 1), T(FUNC_PROTO, None, nid, data=params))
    return nid + 1


def _r13_mutation(draw, m: Model) -> int:
    """A loop of PTRs and modifiers holding a PTR (``btf_ptr_resolve`` follows only those),
    its ids in any order, maybe with a VAR of it first: the first appended id fails."""
    kinds = [PTR] + draw(
        st.lists(st.sampled_from([PTR, TYPEDEF, CONST, VOLATILE, RESTRICT]), max_size=3)
    )
    kinds = draw(st.permutations(kinds))
    nid = m.last_id + 1
    var = draw(st.booleans())
    first = nid + 1 if var else nid
    ids = draw(st.permutations(range(first, first + len(kinds))))  # ids[j]: the j-th link
    loop: List[T | None] = [None] * len(kinds)
    for j, kind in enumerate(kinds):
        name = draw(idents) if kind == TYPEDEF else None
        loop[ids[j] - first] = T(kind, name, ids[(j + 1) % len(kinds)])
    head = [T(VAR, draw(idents), ids[0], data=[0])] if var else []
    _append(m, *head, *[t for t in loop if t is not None])
    return nid


def _deep_mutation(draw, m: Model) -> int:
    """A search that needs more than the kernel's 32 stack entries (``env_stack_push``:
    "Exceeded max resolving depth:32", on the search's root). A head names the first of
    ``k`` links, each naming the next and the last a regular int; the links' ids go down
    (only the head names a later type: what the native bound must catch) or up. The
    head: a STRUCT (links STRUCT/UNION/ARRAY/modifiers), a VAR (those or PTRs and
    modifiers), a DATASEC of a VAR (one entry more), or a FUNC_PROTO whose parameter the
    kernel resolves at its turn from an empty stack (the first link is the root)."""
    target = _any_int(m)
    nid = m.last_id + 1
    head = draw(st.sampled_from(["struct", "var", "datasec", "proto"]))
    by_value = head == "struct" or (head != "proto" and draw(st.booleans()))
    kinds = [STRUCT, UNION, ARRAY, TYPEDEF, CONST] if by_value else [PTR, TYPEDEF, CONST]
    kinds += [VOLATILE, RESTRICT]
    heads = 2 if head == "datasec" else 1
    # Stack entries: the head types, then the links (the FUNC_PROTO is never pushed).
    k = {"struct": 32, "var": 32, "datasec": 31, "proto": 33}[head] + draw(st.integers(0, 6))
    down = draw(st.booleans())
    first = nid + heads  # the lowest link id
    ids = [first + (k - 1 - j if down else j) for j in range(k)]  # ids[j]: link j
    links: List[T | None] = [None] * k
    size = 64  # every STRUCT and UNION: room for any link below it (an int is <= 16)
    for j in range(k):
        nxt = ids[j + 1] if j + 1 < k else target
        kind = draw(st.sampled_from(kinds))
        if j % 16 == 15:  # no run of 32 modifiers (phase 2 would reject it)
            kind = STRUCT if by_value else PTR
        if kind in (STRUCT, UNION):
            t = T(kind, draw(idents), size, data=[(draw(idents), nxt, 0)])
        elif kind == ARRAY:
            t = T(ARRAY, None, 0, data=[(nxt, target, 1)])
        else:
            t = T(kind, draw(idents) if kind == TYPEDEF else None, nxt)
        links[ids[j] - first] = t
    top = ids[0]
    if head == "struct":
        heads_t = [T(STRUCT, draw(idents), size, data=[(draw(idents), top, 0)])]
    elif head == "var":
        heads_t = [T(VAR, draw(idents), top, data=[0])]
    elif head == "datasec":
        heads_t = [T(DATASEC, ".data", size, data=[(nid + 1, 0, size)]), T(VAR, "v", top, data=[0])]
    else:
        heads_t = [T(FUNC_PROTO, None, target, data=[(draw(idents), top)])]
    _append(m, *heads_t, *[t for t in links if t is not None])
    return top if head == "proto" else nid


R11_DEFECTS = [
    "R11_not_byte_aligned",
    "R11_float_align",
    "R11_exceeds_ptr",
    "R11_exceeds_int",
    "R11_exceeds_array",
    "R11_exceeds_struct",
    "R11_exceeds_enum",
    "R11_exceeds_float",
    "R11_int_bits_offset",
    "R11_int_base_type",
    "R11_int_member_offset",
    "R11_int_bitfield_size",
    "R11_enum_bitfield_size",
    "R11_generic_bitfield",
    "R11_nr_copy_bits",
]
RESOLVE_DEFECTS = [
    "R1_ptr",
    "R1_member",
    "R1_array",
    "R1_proto",
    "R1_var",
    "R1_datasec",
    "R1_func",
    "R1_decl_tag",
    "R2_struct_self",
    "R2_struct_pair",
    "R2_array_self",
    "R2_via_typedef",
    "R3_member_fwd",
    "R3_member_void",
    "R3_elem_proto",
    "R3_var_func",
    "R4_index_ptr",
    "R4_index_bits",
    "R4_index_enum",
    "R4_index_offset",
    "R8_array_of_int",
    "R8_array_of_typedef_int",
    "R5_not_proto",
    "R5_unnamed",
    "R5_void_param",
    "R5_varargs_middle",
    "R9_ret_fwd",
    "R9_param_fwd",
    "R9_param_name",
    "R9_proto_typedef_self",
    "R10_ptr_var",
    "R10_mod_datasec",
    "R6_datasec_int",
    "R6_datasec_func",
    "R6_datasec_size",
    "R7_tag_void",
    "R7_tag_int",
    "R7_tag_idx",
    "R12_array_overflow",
    "R13_ptr_loop",
    "deep_stack",
    *R11_DEFECTS,
]


def _resolve_mutation(draw, m: Model, what: str | None = None) -> Invalid:
    """Phase 3 (strict only): appended, unreferenced types that fail to resolve; ``what``
    picks the defect (one of :data:`RESOLVE_DEFECTS`)."""
    target = _any_int(m)
    nid = m.last_id + 1
    big = draw(st.integers(nid + 8, MAX_ID))  # > last_id after appending <= 8 types
    if what is None:
        what = draw(st.sampled_from(RESOLVE_DEFECTS))
    fid = None  # the failing id (default: first appended)
    if what in R11_DEFECTS:
        fid = _r11_mutation(draw, m, what)
    elif what == "R12_array_overflow":
        fid = _r12_mutation(draw, m)
    elif what in ("R6_datasec_func", "R6_datasec_size"):
        fid = _r6_mutation(draw, m, what)
    elif what == "R9_proto_typedef_self":
        fid = _r9_self_mutation(draw, m)
    elif what == "R13_ptr_loop":
        fid = _r13_mutation(draw, m)
    elif what == "deep_stack":
        fid = _deep_mutation(draw, m)
    elif what == "R1_ptr":
        _append(m, T(PTR, None, big))
    elif what == "R1_member":
        _append(m, T(STRUCT, draw(idents), 8, data=[(draw(idents), big, 0)]))
    elif what == "R1_array":
        if draw(st.booleans()):
            _append(m, T(ARRAY, None, 0, data=[(big, target, 1)]))
        else:
            _append(m, T(ARRAY, None, 0, data=[(target, big, 1)]))
    elif what == "R1_proto":
        if draw(st.booleans()):
            _append(m, T(FUNC_PROTO, None, big))
        else:
            _append(m, T(FUNC_PROTO, None, 0, data=[(draw(idents), big)]))
    elif what == "R1_var":
        _append(m, T(VAR, draw(idents), big, data=[0]))
    elif what == "R1_datasec":
        _append(m, T(DATASEC, ".data", 8, data=[(big, 0, 4)]))
    elif what == "R1_func":
        _append(m, T(FUNC, draw(idents), big))
    elif what == "R1_decl_tag":
        _append(m, T(DECL_TAG, draw(idents), big, data=[-1]))
    elif what == "R2_struct_self":
        _append(m, T(STRUCT, draw(idents), 8, data=[(draw(idents), nid, 0)]))
    elif what == "R2_struct_pair":
        _append(
            m,
            T(STRUCT, draw(idents), 8, data=[(draw(idents), nid + 1, 0)]),
            T(UNION, None, 8, data=[(draw(idents), nid, 0)]),
        )
    elif what == "R2_array_self":
        _append(m, T(ARRAY, None, 0, data=[(nid, target, 2)]))
    elif what == "R2_via_typedef":
        _append(
            m, T(TYPEDEF, draw(idents), nid + 1), T(STRUCT, None, 8, data=[(draw(idents), nid, 0)])
        )
    elif what == "R3_member_fwd":
        _append(
            m, T(FWD, draw(idents), 0), T(STRUCT, draw(idents), 8, data=[(draw(idents), nid, 0)])
        )
        fid = nid + 1
    elif what == "R3_member_void":
        _append(m, T(CONST, None, 0), T(UNION, draw(idents), 8, data=[(draw(idents), nid, 0)]))
        fid = nid + 1
    elif what == "R3_elem_proto":
        _append(m, T(FUNC_PROTO, None, 0), T(ARRAY, None, 0, data=[(nid, target, 1)]))
        fid = nid + 1
    elif what == "R3_var_func":
        _append(
            m,
            T(FUNC_PROTO, None, 0),
            T(FUNC, draw(idents), nid),
            T(VAR, draw(idents), nid + 1, data=[1]),
        )
        fid = nid + 2
    elif what.startswith("R4"):
        if what == "R4_index_ptr":
            idx = T(PTR, None, 0)
        elif what == "R4_index_bits":
            # Not a whole number of bytes, or a number that is not 1, 2, 4, 8 or 16.
            bits = draw(st.integers(1, 127).filter(lambda b: b not in (8, 16, 32, 64)))
            idx = T(INT, "int", 16, data=[bits])
        elif what == "R4_index_enum":
            idx = T(ENUM, None, 4, data=[("A", 0)])
        else:
            idx = T(INT, "int", 4, data=[(8 << 16) | 8])
        _append(m, idx, T(ARRAY, None, 0, data=[(target, nid, 3)]))
        fid = nid + 1
    elif what.startswith("R8"):
        # An element INT that is not regular (a bit offset or a bit count that is not 8,
        # 16, 32, 64 or 128), directly or through a TYPEDEF; the index is fine.
        bits = draw(st.integers(1, 64).filter(lambda b: b not in (8, 16, 32, 64)))
        off = draw(st.sampled_from([0, 1])) if bits < 64 else 0
        elem = T(INT, "int", 8, data=[(off << 16) | bits])
        if what == "R8_array_of_int":
            _append(m, elem, T(ARRAY, None, 0, data=[(nid, target, 2)]))
            fid = nid + 1
        else:
            _append(m, elem, T(TYPEDEF, "td", nid), T(ARRAY, None, 0, data=[(nid + 1, target, 2)]))
            fid = nid + 2
    elif what == "R5_not_proto":
        _append(m, T(FUNC, draw(idents), target))
    elif what in ("R5_unnamed", "R5_void_param", "R5_varargs_middle"):
        good = (draw(idents), target)
        bad = {
            "R5_unnamed": (None, target),
            "R5_void_param": (draw(idents), 0),
            "R5_varargs_middle": (None, 0),
        }[what]
        params = [good, bad, good]
        if what == "R5_void_param" and draw(st.booleans()):
            params = [good, bad]  # a named void last param is not varargs
        _append(m, T(FUNC_PROTO, None, target, data=params), T(FUNC, draw(idents), nid))
        # A typed parameter with no name fails the FUNC (btf_func_check); a void one
        # that is not an unnamed last one fails the FUNC_PROTO (btf_func_proto_check).
        fid = nid + 1 if what == "R5_unnamed" else nid
    elif what.startswith("R9"):
        fwd = T(FWD, draw(idents), 0, kflag=draw(st.integers(0, 1)))
        if what == "R9_ret_fwd":
            _append(m, fwd, T(FUNC_PROTO, None, nid, data=[(draw(idents), target)]))
        elif what == "R9_param_fwd":
            _append(m, fwd, T(FUNC_PROTO, None, target, data=[(draw(idents), target), (None, nid)]))
        else:  # a parameter name that is no identifier
            bad_name = draw(st.sampled_from(["1abc", "a-b", "a b"]))
            _append(m, fwd, T(FUNC_PROTO, None, 0, data=[(bad_name, target)]))
        fid = nid + 1
    elif what == "R10_ptr_var":
        # A PTR (or a modifier) naming a VAR, before or after it.
        mod = draw(st.sampled_from([PTR, CONST, VOLATILE, TYPEDEF, TYPE_TAG]))
        name = draw(idents) if mod in (TYPEDEF, TYPE_TAG) else None
        var = T(VAR, draw(idents), target, data=[0])
        if draw(st.booleans()):
            _append(m, var, T(mod, name, nid))
            fid = nid + 1
        else:
            _append(m, T(mod, name, nid + 1), var)
    elif what == "R10_mod_datasec":
        _append(
            m,
            T(VAR, draw(idents), target, data=[0]),
            T(DATASEC, ".data", 16, data=[(nid, 0, 16)]),  # wide enough for any int
            T(draw(st.sampled_from([CONST, VOLATILE, RESTRICT])), None, nid + 1),
        )
        fid = nid + 2
    elif what == "R6_datasec_int":
        _append(m, T(DATASEC, ".data", 8, data=[(target, 0, 4)]))
    elif what == "R7_tag_void":
        _append(m, T(DECL_TAG, draw(idents), 0, data=[-1]))
    elif what == "R7_tag_int":
        _append(m, T(DECL_TAG, draw(idents), target, data=[-1]))
    else:  # component_idx out of range for its target
        _append(
            m,
            T(STRUCT, draw(idents), 16, data=[(draw(idents), target, 0)]),  # any int fits
            T(DECL_TAG, draw(idents), nid, data=[draw(st.integers(1, 5))]),
        )
        fid = nid + 1
    return _val(serialize(m), nid if fid is None else fid, what, strict_only=True)
