//! Structural equivalence of BTF type graphs by partition refinement
//! (docs/rebase.md §5): two types are equivalent when their kinds, names and scalar data
//! agree and their id fields refer to equivalent types, however deep (cycles included).

use std::collections::HashMap;
use std::sync::Arc;

use crate::btf::Btf;
use crate::error::Result;
use crate::kind::{Kind, SizeWord};
use crate::types::TypeRef;

/// One BTF graph taking part in a comparison: its own types become nodes.
struct Side<'a> {
    btf: &'a Btf,
    /// First node index of this side's own types.
    first_node: u32,
}

/// The result of comparing graphs: a class per node; equal classes = equivalent types.
#[derive(Debug, Clone)]
pub struct Classes {
    /// Class of each node; nodes are the own types of each side, in side order.
    class: Vec<u32>,
    /// (first node, start id, count) per side.
    sides: Vec<(u32, u32, u32)>,
    /// Classes reserved for shared base ids (`0..=shared_last`), identity-compared.
    shared_last: u32,
}

impl Classes {
    /// Class of type `id` of side `side` (base ids of a shared base are their own class).
    pub fn class_of(&self, side: usize, id: u32) -> Option<u32> {
        let (first, start, count) = *self.sides.get(side)?;
        if id < start {
            return (id <= self.shared_last).then_some(id);
        }
        let idx = id - start;
        if idx >= count {
            return None;
        }
        self.class.get((first + idx) as usize).copied()
    }
}

/// The local part of a type: everything but its id fields, with strings by content.
fn local_key(t: &TypeRef<'_>, out: &mut Vec<u8>) {
    let btf = t.btf();
    let order = btf.byte_order();
    let bytes = t.bytes();
    out.clear();
    let Some(kind) = t.kind() else { return };
    let push_str = |out: &mut Vec<u8>, off: u32| {
        let s = btf.str_at(off).unwrap_or(b"");
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s);
    };
    let mut off = 0;
    while off + 4 <= bytes.len() {
        let w = order.u32_at(bytes, off);
        match word_role(kind, off) {
            Role::Id => {}
            Role::Str => push_str(out, w),
            Role::Plain => out.extend_from_slice(&w.to_le_bytes()),
        }
        off += 4;
    }
}

enum Role {
    Id,
    Str,
    Plain,
}

/// What the word at byte `off` of a record of `kind` is, per the kind table.
fn word_role(kind: Kind, off: usize) -> Role {
    let l = kind.layout();
    let info = l.info_size as usize;
    match off {
        0 => Role::Str,
        4 => Role::Plain,
        8 if l.size_word == SizeWord::TypeId => Role::Id,
        8 => Role::Plain,
        _ if off < 12 + info => {
            if l.info_ids.contains(&((off - 12) as u32)) {
                Role::Id
            } else {
                Role::Plain
            }
        }
        _ => {
            let within = ((off - 12 - info) % (l.elem_size.max(1) as usize)) as u32;
            if l.elem_ids.contains(&within) {
                Role::Id
            } else if l.elem_strs.contains(&within) {
                Role::Str
            } else {
                Role::Plain
            }
        }
    }
}

/// Whether two bases can be compared by id: the same object, or identical bytes.
pub fn same_base(a: Option<&Arc<Btf>>, b: Option<&Arc<Btf>>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => {
            Arc::ptr_eq(x, y) || (x.raw() == y.raw() && same_base(x.base(), y.base()))
        }
        (None, None) => true,
        _ => false,
    }
}

/// Partition refinement over the own types of `graphs`. References to ids below a side's
/// start id are identity-compared (the caller guarantees those bases are the same).
pub fn classify(graphs: &[&Btf]) -> Classes {
    classify_with(graphs, false)
}

/// The name token of a named STRUCT/UNION/FWD or of any ENUM/ENUM64, which dedup treats
/// as interchangeable with its declaration (libbpf `btf_dedup_is_equiv`: FWD rules, and
/// `btf_compat_enum`, which compares an enum declaration by name only, so an anonymous
/// one matches any anonymous enum).
fn name_token<'a>(t: &TypeRef<'a>) -> Option<(u8, &'a [u8])> {
    let name = t.name();
    match t.kind()? {
        Kind::Struct if !name.is_empty() => Some((0, name)),
        Kind::Union if !name.is_empty() => Some((1, name)),
        Kind::Fwd => Some((u8::from(t.kflag()), name)),
        Kind::Enum | Kind::Enum64 => Some((2, name)),
        _ => None,
    }
}

/// Whether a type is only a declaration (FWD, or an enum without values).
fn is_declaration(t: &TypeRef<'_>) -> bool {
    match t.kind() {
        Some(Kind::Fwd) => true,
        Some(Kind::Enum | Kind::Enum64) => t.vlen() == 0,
        _ => false,
    }
}

/// [`classify`]; with `by_name`, references to named composites and enums compare by
/// kind and name (so a pointer to a FWD matches a pointer to the full struct).
pub fn classify_with(graphs: &[&Btf], by_name: bool) -> Classes {
    let mut sides = Vec::with_capacity(graphs.len());
    let mut n = 0u32;
    for g in graphs {
        sides.push(Side { btf: g, first_node: n });
        n += g.nr_types();
    }
    let shared_last = graphs.iter().map(|g| g.start_id().saturating_sub(1)).max().unwrap_or(0);
    let first_class = shared_last + 1;
    let node_of = |side: &Side<'_>, id: u32| -> u32 {
        // Class slots: ids of the shared base keep their id; own nodes are offset.
        side.first_node + (id - side.btf.start_id())
    };
    // Edges: for each node, the referenced node (own) or fixed class (base/void).
    #[derive(Clone, Copy)]
    enum Ref {
        Fixed(u32),
        Node(u32),
    }
    let mut refs: Vec<Ref> = Vec::new();
    let mut ref_start: Vec<u32> = Vec::with_capacity(n as usize + 1);
    let mut class = vec![0u32; n as usize];
    let mut keys: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut key = Vec::new();
    let mut tokens: HashMap<(u8, Vec<u8>), u32> = HashMap::new();
    for side in &sides {
        for t in side.btf.types() {
            ref_start.push(refs.len() as u32);
            for id in t.referenced_ids() {
                let token = if by_name {
                    side.btf.type_by_id(id).as_ref().and_then(name_token)
                } else {
                    None
                };
                if let Some((k, name)) = token {
                    // Token classes count down from the top, away from node classes.
                    let next = u32::MAX - 1 - tokens.len() as u32;
                    refs.push(Ref::Fixed(*tokens.entry((k, name.to_vec())).or_insert(next)));
                    continue;
                }
                refs.push(if id < side.btf.start_id() || id > side.btf.last_id() {
                    // void, a shared base id, or dangling (its own fixed class)
                    Ref::Fixed(if id > side.btf.last_id() { u32::MAX } else { id })
                } else {
                    Ref::Node(node_of(side, id))
                });
            }
            local_key(&t, &mut key);
            let next = first_class + keys.len() as u32;
            let c = *keys.entry(key.clone()).or_insert(next);
            class[(node_of(side, t.id())) as usize] = c;
        }
    }
    ref_start.push(refs.len() as u32);
    let mut count = keys.len();
    let mut sig: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut buf: Vec<u32> = Vec::new();
    loop {
        sig.clear();
        let mut next_class = vec![0u32; n as usize];
        for node in 0..n as usize {
            buf.clear();
            buf.push(class[node]);
            let (s, e) = (ref_start[node] as usize, ref_start[node + 1] as usize);
            for r in &refs[s..e] {
                buf.push(match *r {
                    Ref::Fixed(c) => c,
                    Ref::Node(m) => class[m as usize],
                });
            }
            let fresh = first_class + sig.len() as u32;
            next_class[node] = *sig.entry(buf.clone()).or_insert(fresh);
        }
        class = next_class;
        if sig.len() == count {
            break;
        }
        count = sig.len();
    }
    let sides = sides.iter().map(|s| (s.first_node, s.btf.start_id(), s.btf.nr_types())).collect();
    Classes { class, sides, shared_last }
}

/// The outcome of [`equivalent`].
#[derive(Debug, Clone)]
pub struct Equivalence {
    pub equivalent: bool,
    /// A readable first difference when not equivalent.
    pub difference: Option<String>,
    pub classes: Classes,
}

fn describe(t: &TypeRef<'_>) -> String {
    let name = t.name();
    let name = if name.is_empty() { "(anon)".into() } else { String::from_utf8_lossy(name) };
    format!("[{}] {} '{}'", t.id(), t.kind_name(), name)
}

/// Structural comparison of the own types of `a` and `b` (bases must be the same).
pub fn equivalent(a: &Btf, b: &Btf) -> Equivalence {
    let classes = classify(&[a, b]);
    let mut counts: HashMap<u32, (u32, u32)> = HashMap::new();
    for id in a.start_id()..a.type_cnt() {
        if let Some(c) = classes.class_of(0, id) {
            counts.entry(c).or_default().0 += 1;
        }
    }
    for id in b.start_id()..b.type_cnt() {
        if let Some(c) = classes.class_of(1, id) {
            counts.entry(c).or_default().1 += 1;
        }
    }
    let mut difference = None;
    if a.nr_types() != b.nr_types() {
        difference = Some(format!("a has {} types, b has {}", a.nr_types(), b.nr_types()));
    }
    let unmatched = |side: usize, g: &Btf, other: &Btf| -> Option<String> {
        for t in g.types() {
            let c = classes.class_of(side, t.id())?;
            let (ca, cb) = counts.get(&c).copied().unwrap_or_default();
            let (mine, theirs) = if side == 0 { (ca, cb) } else { (cb, ca) };
            if mine != theirs {
                let (me, you) = if side == 0 { ("a", "b") } else { ("b", "a") };
                let same_name: Vec<u32> = other.find_by_name(t.name(), t.kind());
                let hint = match same_name.iter().find(|&&id| id >= other.start_id()) {
                    Some(&id) if !t.name().is_empty() => other
                        .type_by_id(id)
                        .map(|o| format!("; {you} has {} with a different shape", describe(&o)))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                return Some(format!(
                    "{me} type {} occurs {mine} time(s) structurally, {you} has {theirs}{hint}",
                    describe(&t)
                ));
            }
        }
        None
    };
    if let Some(d) = unmatched(0, a, b).or_else(|| unmatched(1, b, a)) {
        difference = Some(match difference {
            Some(first) => format!("{first}; {d}"),
            None => d,
        });
    }
    Equivalence { equivalent: difference.is_none(), difference, classes }
}

/// A graph for [`equivalent_up_to_duplicates`]: standalone BTF (e.g. from `detach`) and
/// which of its ids were the original's own types.
pub struct Detached<'a> {
    pub btf: &'a Btf,
    pub own: Vec<u32>,
}

/// Equivalence up to duplicates and declarations, the equivalence libbpf's dedup
/// applies: references to named structs and unions and to enums compare by kind and
/// name (a pointer to a FWD matches a pointer to the full struct, a field of an
/// anonymous value-less enum a field of an anonymous enum), FWD / value-less enum declarations are
/// not required to have partners, and duplicates count once. Every own type of each side
/// must have a structural counterpart somewhere in the other side's graph, so a module
/// that keeps a redundant copy of a vmlinux type matches one that points at vmlinux's.
pub fn equivalent_up_to_duplicates(a: &Detached<'_>, b: &Detached<'_>) -> Equivalence {
    let classes = classify_with(&[a.btf, b.btf], true);
    let all = |side: usize, g: &Btf| -> std::collections::HashSet<u32> {
        (g.start_id()..g.type_cnt()).filter_map(|id| classes.class_of(side, id)).collect()
    };
    let (all_a, all_b) = (all(0, a.btf), all(1, b.btf));
    let missing = |side: usize, g: &Detached<'_>, other: &std::collections::HashSet<u32>| {
        g.own.iter().filter_map(|&id| g.btf.type_by_id(id)).filter(|t| !is_declaration(t)).find_map(
            |t| {
                let c = classes.class_of(side, t.id())?;
                if other.contains(&c) {
                    return None;
                }
                let (me, you) = if side == 0 { ("a", "b") } else { ("b", "a") };
                Some(format!(
                    "{me} type {} (detached id) has no structural counterpart in {you}",
                    describe(&t)
                ))
            },
        )
    };
    let difference = missing(0, a, &all_b).or_else(|| missing(1, b, &all_a));
    Equivalence { equivalent: difference.is_none(), difference, classes }
}

/// Checks an id map between two split BTFs on different bases (e.g. a module and its
/// retargeted version): every own type `x` of `a` must be equivalent — in the sense of
/// [`equivalent_up_to_duplicates`] — to `b`'s type `id_map[x]`, which may be a type of
/// `b`'s base. Declarations stand for what libbpf's dedup lets them stand for, at the
/// top and at any depth (`compatible_declarations`): a FWD for a struct/union of
/// its name and kind, a value-less enum for any enum of its name — anonymous ones
/// included, whatever the signedness, size or ENUM/ENUM64 kind — and the other way round.
pub fn check_id_map(a: &Btf, b: &Btf, id_map: &[u32]) -> Result<Equivalence> {
    use crate::rebase::detach::{detach, detach_with_roots};
    let own_a: Vec<u32> = (a.start_id()..a.type_cnt()).collect();
    let targets: Vec<u32> =
        own_a.iter().map(|&x| id_map.get(x as usize).copied().unwrap_or(0)).collect();
    let (da, a_ids) = match a.is_split() {
        true => {
            let d = detach(a)?;
            let ids = own_a.iter().map(|&x| d.id_map[x as usize]).collect::<Vec<_>>();
            (Btf::from_slice(&d.btf, None)?, ids)
        }
        false => (Btf::from_slice(a.raw(), None)?, own_a.clone()),
    };
    let base_roots: Vec<u32> =
        targets.iter().copied().filter(|&y| y != 0 && y < b.start_id()).collect();
    let (db, b_map): (Btf, Vec<u32>) = match b.is_split() {
        true => {
            let d = detach_with_roots(b, &base_roots)?;
            (Btf::from_slice(&d.btf, None)?, d.id_map)
        }
        false => (Btf::from_slice(b.raw(), None)?, (0..b.type_cnt()).collect()),
    };
    let classes = classify_with(&[&da, &db], true);
    // (x, its detached id in `da`, y = id_map[x], its detached id in `db`) for every own
    // type up to the first one without an image.
    let mut roots = Vec::with_capacity(own_a.len());
    let mut no_image = None;
    for ((&x, &xa), &y) in own_a.iter().zip(&a_ids).zip(&targets) {
        let Some(ta) = da.type_by_id(xa) else { continue };
        let yb = b_map.get(y as usize).copied().unwrap_or(0);
        if y == 0 || db.type_by_id(yb).is_none() {
            no_image = Some(format!("a type {} (id {x}) has no image in b", describe(&ta)));
            break;
        }
        roots.push((x, xa, y, yb));
    }
    let mut sim = Simulation::new(&da, &db, &classes);
    let pairs: Vec<u32> = roots.iter().map(|&(_, xa, _, yb)| sim.pair(xa, yb)).collect();
    sim.settle();
    // The first own type that does not correspond to its image, else the one without one.
    let difference = roots
        .iter()
        .zip(&pairs)
        .find(|&(_, &p)| sim.failed[p as usize])
        .and_then(|(&(x, xa, y, yb), _)| {
            let (ta, tb) = (da.type_by_id(xa)?, db.type_by_id(yb)?);
            Some(format!(
                "a type {} (id {x}) maps to b type {} (id {y}), which differs structurally",
                describe(&ta),
                describe(&tb)
            ))
        })
        .or(no_image);
    Ok(Equivalence { equivalent: difference.is_none(), difference, classes })
}

/// Whether `x` and `y` are a declaration and a type it may stand for, by libbpf's rules
/// (`btf_dedup_is_equiv`, `btf_compat_enum`, `btf_is_enum_fwd`): the same name (the empty
/// name included), and either a FWD and a STRUCT (FWD kflag 0) or UNION (kflag 1) or an
/// equal FWD, or two ENUM/ENUM64 of which at least one has no values — signedness (kflag),
/// size and kind are then not compared.
fn compatible_declarations(x: &TypeRef<'_>, y: &TypeRef<'_>) -> bool {
    if x.name() != y.name() {
        return false;
    }
    let fwd_fits = |fwd: &TypeRef<'_>, other: &TypeRef<'_>| match other.kind() {
        Some(Kind::Struct) => !fwd.kflag(),
        Some(Kind::Union) => fwd.kflag(),
        Some(Kind::Fwd) => fwd.kflag() == other.kflag(),
        _ => false,
    };
    match (x.kind(), y.kind()) {
        (Some(Kind::Enum | Kind::Enum64), Some(Kind::Enum | Kind::Enum64)) => {
            x.vlen() == 0 || y.vlen() == 0
        }
        (Some(Kind::Fwd), _) => fwd_fits(x, y),
        (_, Some(Kind::Fwd)) => fwd_fits(y, x),
        _ => false,
    }
}

/// What an id field of a detached (standalone) graph refers to, for [`Simulation`]: void
/// or a dangling id, a named composite/enum/FWD (compared by name, as [`classify_with`]
/// with `by_name` does), or another type compared structurally.
#[derive(PartialEq)]
enum Target<'a> {
    Fixed(u32),
    Token(u8, &'a [u8]),
    Node(u32),
}

fn target(g: &Btf, id: u32) -> Target<'_> {
    if id == 0 || id > g.last_id() {
        return Target::Fixed(if id == 0 { 0 } else { u32::MAX });
    }
    match g.type_by_id(id).as_ref().and_then(name_token) {
        Some((k, name)) => Target::Token(k, name),
        None => Target::Node(id),
    }
}

/// The greatest relation between the types of two detached graphs `a` and `b` in which
/// related types are in the same class, are [`compatible_declarations`], or have equal
/// local parts and pairwise related references (a simulation, not an equivalence: a
/// declaration relates to types that do not relate to each other). Pairs are explored
/// from the roots only, then every pair that cannot hold is removed together with the
/// pairs that depend on it; what remains holds.
struct Simulation<'g> {
    a: &'g Btf,
    b: &'g Btf,
    classes: &'g Classes,
    index: HashMap<(u32, u32), u32>,
    pairs: Vec<(u32, u32)>,
    failed: Vec<bool>,
    /// For each pair, the pairs whose outcome depends on it.
    parents: Vec<Vec<u32>>,
    todo: Vec<u32>,
    keys: (Vec<u8>, Vec<u8>),
}

impl<'g> Simulation<'g> {
    fn new(a: &'g Btf, b: &'g Btf, classes: &'g Classes) -> Self {
        Simulation {
            a,
            b,
            classes,
            index: HashMap::new(),
            pairs: Vec::new(),
            failed: Vec::new(),
            parents: Vec::new(),
            todo: Vec::new(),
            keys: (Vec::new(), Vec::new()),
        }
    }

    /// The index of pair `(x, y)`, explored (with everything it depends on) if new.
    fn pair(&mut self, x: u32, y: u32) -> u32 {
        let p = self.intern(x, y);
        while let Some(q) = self.todo.pop() {
            self.explore(q);
        }
        p
    }

    fn intern(&mut self, x: u32, y: u32) -> u32 {
        if let Some(&p) = self.index.get(&(x, y)) {
            return p;
        }
        let p = self.pairs.len() as u32;
        self.index.insert((x, y), p);
        self.pairs.push((x, y));
        self.failed.push(false);
        self.parents.push(Vec::new());
        self.todo.push(p);
        p
    }

    fn explore(&mut self, p: u32) {
        let (x, y) = self.pairs[p as usize];
        if self.classes.class_of(0, x) == self.classes.class_of(1, y) {
            return;
        }
        let (Some(tx), Some(ty)) = (self.a.type_by_id(x), self.b.type_by_id(y)) else {
            self.failed[p as usize] = true;
            return;
        };
        if compatible_declarations(&tx, &ty) {
            return;
        }
        local_key(&tx, &mut self.keys.0);
        local_key(&ty, &mut self.keys.1);
        if self.keys.0 != self.keys.1 {
            self.failed[p as usize] = true;
            return;
        }
        // Equal local parts: the same kind and vlen, so the same id fields in order.
        let (a, b) = (self.a, self.b);
        for (rx, ry) in tx.referenced_ids().zip(ty.referenced_ids()) {
            match (target(a, rx), target(b, ry)) {
                (Target::Node(cx), Target::Node(cy)) => {
                    let c = self.intern(cx, cy);
                    self.parents[c as usize].push(p);
                }
                (u, v) if u == v => {}
                _ => {
                    self.failed[p as usize] = true;
                    return;
                }
            }
        }
    }

    /// Removes the pairs that depend on a removed pair, until none changes.
    fn settle(&mut self) {
        let mut work: Vec<u32> =
            (0..self.pairs.len() as u32).filter(|&p| self.failed[p as usize]).collect();
        while let Some(p) = work.pop() {
            for i in 0..self.parents[p as usize].len() {
                let q = self.parents[p as usize][i];
                if !self.failed[q as usize] {
                    self.failed[q as usize] = true;
                    work.push(q);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{StrTable, TypeWriter};
    use crate::endian::ByteOrder;

    use crate::kind::test_info::{ARRAY, ENUM, ENUM64, INT, KFLAG, STRUCT};

    /// Standalone BTF: [1] int, [2] `second` (name, info, size, trailing words), [3] an
    /// anonymous struct with one member `a` of type 2, [4] an array of 2.
    fn graph(second: (&str, u32, u32, &[u32])) -> Btf {
        let mut w = TypeWriter::new(ByteOrder::Little, 0);
        let mut s = StrTable::new_base();
        let int = s.intern(b"int").unwrap();
        w.push(&[int, INT, 4, 1 << 24 | 32]);
        let (name, info, size, rest) = second;
        let mut words = vec![s.intern(name.as_bytes()).unwrap(), info, size];
        words.extend_from_slice(rest);
        w.push(&words);
        let a = s.intern(b"a").unwrap();
        w.push(&[0, STRUCT | 1, 1, a, 2, 0]);
        w.push(&[0, ARRAY, 0, 2, 1, 0]);
        Btf::from_slice(&w.finish(s.bytes()), None).unwrap()
    }

    fn check(a: &Btf, b: &Btf) -> Equivalence {
        check_id_map(a, b, &[0, 1, 2, 3, 4]).unwrap()
    }

    #[test]
    fn id_map_anonymous_enum_declarations() {
        let signed_decl = graph(("", ENUM | KFLAG, 1, &[]));
        let unsigned_decl = graph(("", ENUM, 1, &[]));
        let decl64 = graph(("", ENUM64, 8, &[]));
        let full = graph(("", ENUM | 1, 1, &[0, 7]));
        let other_full = graph(("", ENUM | 1, 1, &[0, 8]));
        let named_decl = graph(("e", ENUM, 1, &[]));
        let anon_int = graph(("", INT, 1, &[8]));
        // libbpf btf_compat_enum: a declaration stands for any enum of its name (here the
        // empty one), whatever the signedness, size and kind, at any depth, both ways.
        for (a, b) in [
            (&signed_decl, &unsigned_decl),
            (&unsigned_decl, &signed_decl),
            (&signed_decl, &decl64),
            (&signed_decl, &full),
            (&full, &unsigned_decl),
        ] {
            let e = check(a, b);
            assert!(e.equivalent, "{:?}", e.difference);
        }
        for (a, b) in [
            (&full, &other_full),
            (&signed_decl, &named_decl),
            (&signed_decl, &anon_int),
            (&anon_int, &signed_decl),
        ] {
            let e = check(a, b);
            assert!(!e.equivalent && e.difference.is_some());
        }
    }
}
