//! The quick paths against the general code they stand in for, on random BTF of every
//! kind, valid and not: phase 1's quick accept ([`super::quick_meta`]) and the graph
//! walk's per-kind paths ([`super::graph`]); phase 1's list of modifiers for phase 2;
//! and phase 3 on input phase 1 rejects.

use super::*;

/// xorshift64*: enough randomness for record fields, reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }

    /// True once in `n`.
    fn one_in(&mut self, n: u32) -> bool {
        self.below(n) == 0
    }
}

/// Strings: identifiers at offsets 1, 5, 9, a non-identifier ("a b") at 11, an empty
/// string at 0 and a name offset past the end (`STR_LEN + 3`).
const STRS: &[u8] = b"\0int\0foo\0x\0a b\0.data\0";
const STR_LEN: u32 = STRS.len() as u32;

/// Where the records being generated sit: own type ids `first..=last`, own string
/// offsets from `str_base` (a split BTF's ids and strings below those are its base's).
struct At {
    first: u32,
    last: u32,
    str_base: u32,
}

fn name(r: &mut Rng, at: &At, anonymous: bool) -> u32 {
    let own = at.str_base;
    match r.below(14) {
        0 => 0,
        1 => own + 11,
        2 => own + STR_LEN + 3,
        3 => own + 2, // inside "int": no identifier start the map knows
        _ if anonymous => 0,
        4 | 5 if own > 0 => [1, 5, 9][r.below(3) as usize], // a base string
        _ => own + [1, 5, 9][r.below(3) as usize],
    }
}

/// A type id: mostly earlier ones (own or base), sometimes void, a later one, itself or
/// one past the end.
fn ty(r: &mut Rng, at: &At, id: u32) -> u32 {
    match r.below(16) {
        0 => 0,
        1 => at.last + 1 + r.below(3),
        2 => id,
        3 | 4 => 1 + r.below(at.last),
        _ if id > 1 => 1 + r.below(id - 1),
        _ => 1,
    }
}

/// Random records for ids `at.first..=at.last`, in little-endian words.
fn random_types(r: &mut Rng, at: &At) -> Vec<u32> {
    const KINDS: [u32; 26] = [
        12, 12, 12, 12, 13, 13, 13, 2, 2, 4, 4, 5, 6, 1, 1, 8, 10, 9, 11, 18, 3, 14, 15, 17, 7, 19,
    ];
    let mut w = Vec::new();
    for id in at.first..=at.last {
        let kind = if r.one_in(60) { 16 } else { KINDS[r.below(KINDS.len() as u32) as usize] };
        let vlen = match kind {
            4 | 5 | 13 | 6 | 19 | 15 => r.below(4),
            12 => r.below(3),
            _ if r.one_in(20) => 1,
            _ => 0,
        };
        let kflag = r.one_in(if matches!(kind, 4 | 5 | 6 | 19 | 7) { 3 } else { 25 });
        let anonymous = matches!(kind, 13 | 2 | 10 | 9 | 11 | 3 | 4 | 5 | 6) && !r.one_in(4);
        w.push(name(r, at, anonymous));
        w.push((kind << 24) | (u32::from(kflag) << 31) | vlen);
        match kind {
            // INT: size and encoding
            1 => w.extend([
                [4, 8, 1][r.below(3) as usize],
                [32, 64, 0x0100_0008, 33][r.below(4) as usize],
            ]),
            // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, TYPE_TAG
            2 | 7 | 8 | 9 | 10 | 11 | 12 | 18 => w.push(ty(r, at, id)),
            // ARRAY: size 0, then elem, index, nelems
            3 => {
                let nelems = if r.one_in(10) { 0x4000_0000 } else { r.below(8) };
                w.extend([0, ty(r, at, id), ty(r, at, id), nelems]);
            }
            // STRUCT / UNION: size, then name, type, bit offset per member
            4 | 5 => {
                w.push([16, 8, 0][r.below(3) as usize]);
                let mut off = 0;
                for _ in 0..vlen {
                    off += [0, 32, 8, 4][r.below(4) as usize];
                    let anon = r.one_in(3);
                    // With kflag, sometimes a bitfield size in the top byte.
                    let bf = if kflag && r.one_in(3) { r.below(40) << 24 } else { 0 };
                    let word = if kind == 5 { bf } else { off | bf };
                    w.extend([name(r, at, anon), ty(r, at, id), word]);
                }
            }
            // ENUM: size, then name and value per value
            6 => {
                w.push([4, 8, 3][r.below(3) as usize]);
                for j in 0..vlen {
                    w.extend([name(r, at, false), j]);
                }
            }
            // ENUM64
            19 => {
                w.push(8);
                for j in 0..vlen {
                    w.extend([name(r, at, false), j, 0]);
                }
            }
            // FUNC_PROTO: return type, then name and type per parameter
            13 => {
                w.push(ty(r, at, id));
                for _ in 0..vlen {
                    let p = if r.one_in(8) { [0, 0] } else { [name(r, at, false), ty(r, at, id)] };
                    w.extend(p);
                }
            }
            // VAR: type, linkage
            14 => w.extend([ty(r, at, id), r.below(3)]),
            // DATASEC: size, then type, offset, size per variable
            15 => {
                w.push(64);
                for j in 0..vlen {
                    w.extend([ty(r, at, id), 8 * j, 8]);
                }
            }
            // FLOAT
            16 => w.push([4, 8, 3][r.below(3) as usize]),
            // DECL_TAG: type, component index
            17 => w.extend([ty(r, at, id), [u32::MAX, 0, 1, 5][r.below(4) as usize]]),
            _ => unreachable!(),
        }
    }
    w
}

fn blob(types: &[u32]) -> Vec<u8> {
    let t: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut out = vec![0x9f, 0xeb, 1, 0];
    for w in [24u32, 0, t.len() as u32, t.len() as u32, STR_LEN] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(&t);
    out.extend_from_slice(STRS);
    out
}

/// The quick paths agree with the general ones on `btf` (read as byte order `E`).
fn check<E: Rd>(btf: &Btf) {
    for wide in [false, true] {
        let v = Validator::<E>::new(btf, &ValidateOptions::new(Level::Strict, wide), 1);
        // Graph walk: the per-kind paths build exactly what the table builds.
        let mut g = v.walk_all(true);
        assert_eq!(g, v.walk_all(false));
        // Phase 3 runs on its own thread whatever phase 1 finds: it must stay in
        // bounds on any record (its verdict is then dropped).
        let _ = v.phase3(&mut g);
        // Phase 1: the quick accept only accepts what the full check passes.
        v.build_idents(1);
        // Phase 1 lists every own modifier with its type word when it passes.
        let mut kinds = vec![0u8; v.st_len()];
        if let (None, mods) = v.meta_all(&mut kinds, 1) {
            let every: Vec<(u32, u32)> = (0..kinds.len() as u32)
                .filter(|&i| is_mod(kinds[i as usize]))
                .map(|i| (i, v.word_of(v.start_id + i, 8)))
                .collect();
            assert_eq!(mods, every);
        }
        // With parameter names (strict), a FUNC_PROTO it accepts also passes R9's names.
        for names in [false, true] {
            let quick = v.quick_meta(names);
            for &off in btf.type_offsets() {
                if let Some(kind) = quick.passes(off as usize) {
                    let (r, _) = v.decode(off as usize).expect("parsed record");
                    assert_eq!(kind, r.kind);
                    assert_eq!(v.check_meta(&r), None, "record at {off}");
                    if names && kind == k::FUNC_PROTO {
                        assert_eq!(v.proto_names(off as usize), None, "record at {off}");
                    }
                }
            }
        }
    }
}

#[test]
fn quick_paths_match_the_general_ones() {
    let (mut accepted, mut walked) = (0, 0);
    for seed in 1..=3000u64 {
        let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let n = 1 + r.below(40);
        let types = random_types(&mut r, &At { first: 1, last: n, str_base: 0 });
        let Ok(btf) = Btf::from_slice(&blob(&types), None) else {
            continue;
        };
        check::<Le>(&btf);
        let big = Btf::from_slice(&btf.to_bytes(Some(ByteOrder::Big)), None).expect("swapped");
        check::<Be>(&big);
        walked += 1;
        if validate_on(&btf, &ValidateOptions::new(Level::Strict, false), 1).is_ok() {
            accepted += 1;
        }
        // The same base under a random split BTF.
        let base = std::sync::Arc::new(btf);
        let own = At { first: n + 1, last: n + 1 + r.below(30), str_base: STR_LEN };
        let types = random_types(&mut r, &own);
        if let Ok(split) = Btf::from_slice(&blob(&types), Some(base)) {
            check::<Le>(&split);
            walked += 1;
        }
    }
    // The generator reaches both outcomes.
    assert!(walked > 5800, "{walked}");
    assert!(accepted > 0 && accepted < 3000, "{accepted}");
}
