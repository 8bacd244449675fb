"""Structural equivalence of BTF type graphs (docs/rebase.md §5) and ``base_map`` (§4).

Every type becomes a node with a *local key* (its words, with string fields replaced by
the strings and id fields blanked) and an ordered list of references.  The coarsest
partition that is stable under "same local key and references to the same classes" is
computed by plain iterative refinement.  Two graphs are equivalent when every class holds
as many own types of one graph as of the other (so the own types pair up one-to-one).

References into a base shared by both graphs (the same object, or bases with identical
bytes) are atoms compared by base id; otherwise the reachable base types join the
refinement as nodes that need no partner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional, Protocol, Sequence, Set, Tuple, Union

from ._layout import LAYOUTS, kind_name, split_info
from .btf import Btf
from .parse import TypeRecord
from .rebase_common import id_positions, levels, str_positions

if TYPE_CHECKING:
    from typing_extensions import TypeGuard

Node = Tuple[int, int]  # (side index, type id)
Atom = Tuple[Union[str, int], ...]  # ("void",) or ("base", base type id)
Ref = Union[Node, Atom]  # what a reference field points to
# A node's local key: record words with ids blanked (None) and strings as bytes, or
# ("missing", type id) for a dangling reference.
KeyWord = Union[int, bytes, str, None]
Key = Tuple[KeyWord, ...]

_FIXED_NAMES = {
    "INT": ("encoding",),
    "ARRAY": ("element type", "index type", "nelems"),
    "VAR": ("linkage",),
    "DECL_TAG": ("component_idx",),
}
_ELEM_NAMES = {
    "STRUCT": ("member", ("name", "type", "offset")),
    "UNION": ("member", ("name", "type", "offset")),
    "ENUM": ("enumerator", ("name", "value")),
    "ENUM64": ("enumerator", ("name", "value lo32", "value hi32")),
    "FUNC_PROTO": ("param", ("name", "type")),
    "DATASEC": ("secinfo", ("type", "offset", "size")),
}


class Equivalence:
    """Truthy when the graphs are equivalent; ``difference`` explains the first mismatch."""

    def __init__(self, equal: bool, difference: str | None = None) -> None:
        self.equal = equal
        self.difference = None if equal else difference

    def __bool__(self) -> bool:
        return self.equal

    def __repr__(self) -> str:
        return "<Equivalence: equal>" if self.equal else f"<Equivalence: {self.difference}>"


class TypeSource(Protocol):
    """What :class:`Side` reads of its graph: a :class:`Btf`, or ``_AllLevels``."""

    start_id: int
    start_str_off: int

    def type_by_id(self, type_id: int) -> TypeRecord | None: ...

    def str_bytes(self, offset: int) -> bytes | None: ...


class Side:
    """One graph: ``btf`` (own types ``own``), looked up through ``base`` for lower ids."""

    def __init__(self, label: str, btf: TypeSource, base: Btf | None, own: Sequence[int]) -> None:
        self.label = label
        self.btf = btf
        self.base = base
        self.own = list(own)

    def record(self, type_id: int) -> TypeRecord | None:
        if type_id >= self.btf.start_id:
            return self.btf.type_by_id(type_id)
        return self.base.type_by_id(type_id) if self.base is not None else None

    def string(self, off: int) -> bytes:
        src = self.btf if off >= self.btf.start_str_off or self.base is None else self.base
        return src.str_bytes(off) or b""

    def describe(self, type_id: int) -> str:
        if type_id == 0:
            return f"{self.label} [0] void"
        rec = self.record(type_id)
        if rec is None:
            return f"{self.label} [{type_id}] <missing>"
        name = self.string(rec.name_off).decode("utf-8", "replace")
        return f"{self.label} [{type_id}] {rec.kind_name} '{name}'"


def same_bases(a: Btf | None, b: Btf | None) -> bool:
    """Bases compared by id: the same object, or every level with identical bytes."""
    if a is None or b is None:
        return False
    if a is b:
        return True
    la, lb = levels(a), levels(b)
    return len(la) == len(lb) and all(x.to_bytes() == y.to_bytes() for x, y in zip(la, lb))


class Partition:
    """The coarsest stable partition of the nodes of several sides."""

    def __init__(self, sides: Sequence[Side], shared_base: bool) -> None:
        self.sides = list(sides)
        self.shared_base = shared_base
        self.nodes: List[Node] = []
        self.keys: Dict[Node, Key] = {}
        self.refs: Dict[Node, List[Ref]] = {}  # a Node, or an atom ("void"/base id)
        for s, side in enumerate(self.sides):
            self._collect(s, side)
        self.cls = self._refine()

    def _target(self, s: int, type_id: int) -> Ref:
        if type_id == 0:
            return ("void",)
        if self.shared_base and type_id < self.sides[s].btf.start_id:
            return ("base", type_id)
        return (s, type_id)

    def local_key(self, s: int, rec: TypeRecord) -> Key:
        w: List[KeyWord] = list(rec.words)
        for i in id_positions(rec):
            w[i] = None
        for i in str_positions(rec):
            w[i] = self.sides[s].string(rec.words[i])
        return tuple(w)

    def _collect(self, s: int, side: Side) -> None:
        todo = list(side.own)
        seen: Set[Union[int, Node]] = set(todo)
        while todo:
            type_id = todo.pop()
            rec = side.record(type_id)
            node = (s, type_id)
            if rec is None:  # dangling reference: a class of its own
                self.keys[node] = ("missing", type_id)
                self.refs[node] = []
                self.nodes.append(node)
                continue
            self.keys[node] = self.local_key(s, rec)
            targets = [self._target(s, rec.words[i]) for i in id_positions(rec)]
            self.refs[node] = targets
            self.nodes.append(node)
            for t in targets:
                if _is_node(t) and t not in seen:
                    seen.add(t)
                    todo.append(t[1])
        self.nodes.sort()

    def _refine(self) -> Dict[Node, int]:
        atoms: Dict[Ref, int] = {}

        def atom(t: Ref) -> int:
            return atoms.setdefault(t, -1 - len(atoms))

        initial: Dict[Key, int] = {}
        cls = {n: initial.setdefault(self.keys[n], len(initial)) for n in self.nodes}
        count = len(initial)
        while True:
            sigs: Dict[Tuple[int, Tuple[int, ...]], int] = {}
            new: Dict[Node, int] = {}
            for n in self.nodes:
                refs = tuple(cls[t] if t in cls else atom(t) for t in self.refs[n])
                new[n] = sigs.setdefault((cls[n], refs), len(sigs))
            cls = new
            if len(sigs) == count:
                return cls
            count = len(sigs)

    def class_of(self, t: Ref) -> Union[int, Ref]:
        """A node's class number; an atom stands for itself."""
        return self.cls.get(t, t) if _is_node(t) else t


def _side_for(label: str, btf: Btf, base: Btf | None) -> Side:
    if btf.base is None:
        base = None
    elif base is None:
        base = btf.base
    return Side(label, btf, base, range(btf.start_id, btf.last_id + 1))


def equivalent(a: Btf, b: Btf, a_base: Btf | None = None, b_base: Btf | None = None) -> Equivalence:
    """docs/rebase.md §5.  ``a_base``/``b_base`` default to the graphs' own bases."""
    sa, sb = _side_for("a", a, a_base), _side_for("b", b, b_base)
    shared = same_bases(sa.base, sb.base) and a.start_id == b.start_id
    if len(sa.own) != len(sb.own):
        return Equivalence(False, f"a has {len(sa.own)} own types, b has {len(sb.own)}")
    p = Partition([sa, sb], shared)
    counts: Dict[int, List[int]] = {}
    for s, side in enumerate((sa, sb)):
        for t in side.own:
            counts.setdefault(p.cls[(s, t)], [0, 0])[s] += 1
    for t in sa.own:
        c = p.cls[(0, t)]
        if counts[c][0] != counts[c][1]:
            return Equivalence(False, _explain(p, t, counts[c]))
    return Equivalence(True)


# ------------------------------------------------------------------------ explanations
def _field(rec: TypeRecord, i: int, side: Side) -> str:
    name = rec.kind_name
    lay = LAYOUTS[rec.kind]
    assert lay is not None
    if i == 0:
        return "name"
    if i == 1:
        return "kind/kflag/vlen"
    if i == 2:
        return "type" if lay.type_is_id else "size"
    fi = i - 3
    if fi < lay.info_words:
        return _FIXED_NAMES.get(name, ("word",) * lay.info_words)[fi]
    e, j = divmod(fi - lay.info_words, lay.elem_words)
    what, parts = _ELEM_NAMES[name]
    label = f"{what} {e}"
    if "name" in parts:
        elem_name = side.string(rec.words[3 + lay.info_words + e * lay.elem_words])
        if elem_name:
            label += f" '{elem_name.decode('utf-8', 'replace')}'"
    return f"{label} {parts[j]}"


def _value(key_word: KeyWord, i: int) -> str:
    if isinstance(key_word, bytes):
        return repr(key_word.decode("utf-8", "replace"))
    if i == 1 and isinstance(key_word, int):
        kind, vlen, kflag = split_info(key_word)
        return f"{kind_name(kind)} kflag={kflag} vlen={vlen}"
    return str(key_word)


def _scalar_difference(p: Partition, a: Node, b: Node) -> str:
    ka, kb = p.keys[a], p.keys[b]
    sa = p.sides[a[0]]
    rec = sa.record(a[1])
    assert rec is not None
    for i, (x, y) in enumerate(zip(ka, kb)):
        if x != y:
            return f"{_field(rec, i, sa)} {_value(x, i)} != {_value(y, i)}"
    return f"record length {len(ka)} != {len(kb)} words"  # pragma: no cover


def _explain(p: Partition, a_id: int, count: List[int]) -> str:
    a: Node = (0, a_id)
    sb = p.sides[1]
    b_own = [(1, t) for t in sb.own]
    key_a = p.keys[a]
    head = p.sides[0].describe(a_id)
    same_key = [n for n in b_own if p.keys[n] == key_a]
    b: Optional[Node]
    if not same_key:
        similar = [
            n for n in b_own if p.keys[n][0] == key_a[0] and _kind_of(p.keys[n]) == _kind_of(key_a)
        ]
        if similar:
            b = similar[0]
            return (
                f"{head} has no counterpart in b; closest is {sb.describe(b[1])}: "
                f"{_scalar_difference(p, a, b)}"
            )
        return f"{head} has no counterpart in b (no {kind_name(_kind_of(key_a))} of that name)"
    b = next((n for n in same_key if p.cls[n] != p.cls[a]), None)
    if b is None:
        return f"a has {count[0]} types equivalent to {head}, b has {count[1]}"
    return f"{head} vs {sb.describe(b[1])}: {_ref_difference(p, a, b)}"


def _kind_of(key: Key) -> int:
    info = key[1] if len(key) > 1 else 0
    return split_info(info)[0] if isinstance(info, int) else -1


def _ref_difference(p: Partition, a: Node, b: Node) -> str:
    """Follow the first differing reference down to where the records themselves differ."""
    path: List[str] = []
    seen: Set[Tuple[Node, Node]] = set()
    while (a, b) not in seen and len(path) < 64:
        seen.add((a, b))
        sa, sb = p.sides[a[0]], p.sides[b[0]]
        if p.keys.get(a) != p.keys.get(b):
            path.append(
                f"{sa.describe(a[1])} vs {sb.describe(b[1])}: {_scalar_difference(p, a, b)}"
            )
            break
        rec = sa.record(a[1])
        assert rec is not None
        pos = id_positions(rec)
        step = None
        for i, ta, tb in zip(pos, p.refs[a], p.refs[b]):
            if p.class_of(ta) != p.class_of(tb):
                step = (i, ta, tb)
                break
        if step is None:
            path.append("(cycle of mutually inconsistent references)")
            break
        i, ta, tb = step
        field = _field(rec, i, sa)
        if not (_is_node(ta) and _is_node(tb)):
            path.append(f"{field} refers to {_atom_text(p, ta)} vs {_atom_text(p, tb)}")
            break
        path.append(f"{field} ->")
        a, b = ta, tb
    return " ".join(path)


def _is_node(t: Ref) -> TypeGuard[Node]:
    return isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], int)


def _atom_text(p: Partition, t: Ref) -> str:
    if _is_node(t):
        return p.sides[t[0]].describe(t[1])
    if t == ("void",):
        return "void"
    return f"base type [{t[1]}]"


def base_map(old_base: Btf, new_base: Btf) -> List[int]:
    """For each old base id ``0..=old_base.last_id``: the unique equivalent new base type,
    or 0 when there is none or several (docs/rebase.md §4)."""
    so = Side("old", old_base, None, range(1, old_base.last_id + 1))
    sn = Side("new", new_base, None, range(1, new_base.last_id + 1))
    # the whole level chain is compared structurally: every id is an own type here
    so.btf, sn.btf = _AllLevels(old_base), _AllLevels(new_base)
    p = Partition([so, sn], shared_base=False)
    by_class: Dict[int, List[int]] = {}
    for t in sn.own:
        by_class.setdefault(p.cls[(1, t)], []).append(t)
    out = [0]
    for t in so.own:
        matches = by_class.get(p.cls[(0, t)], [])
        out.append(matches[0] if len(matches) == 1 else 0)
    return out


class _AllLevels:
    """A view of a (possibly multi-level) BTF where every id from 1 is "own"."""

    def __init__(self, btf: Btf) -> None:
        self._btf = btf
        self.start_id = 1
        self.start_str_off = 0

    def type_by_id(self, type_id: int) -> TypeRecord | None:
        return self._btf.type_by_id(type_id)

    def str_bytes(self, off: int) -> bytes | None:
        return self._btf.str_bytes(off)
