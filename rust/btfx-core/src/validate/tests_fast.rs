//! Tests of the speed-ups: the identifier map and the two-thread split never change a
//! result.
use super::idents::IdentMap;
use super::names::is_ident;
use super::*;
use proptest::prelude::*;

/// Every offset of `strs`: a set bit must be a valid identifier start, and every valid
/// identifier that starts a string must have its bit set.
fn check_map(strs: &[u8], map: &IdentMap) {
    for off in 0..strs.len() {
        let valid = is_ident(&strs[off..]);
        let start = off == 0 || strs[off - 1] == 0;
        if map.get(off) {
            assert!(valid && start, "bit set at {off}");
        } else {
            assert!(!(valid && start), "bit clear at valid start {off}");
        }
    }
}

/// A string section from `parts`: each is (length, filler byte, bad byte position).
fn section(parts: &[(usize, u8, Option<usize>)]) -> Vec<u8> {
    let mut s = vec![0u8];
    for &(len, fill, bad) in parts {
        let start = s.len();
        s.extend(std::iter::repeat_n(fill, len));
        if let Some(p) = bad.filter(|&p| p < len) {
            s[start + p] = b' ';
        }
        s.push(0);
    }
    s
}

#[test]
fn ident_map_edge_cases() {
    let mut parts = Vec::new();
    // Lengths around the 512-byte limit and the 64-byte blocks, bad bytes anywhere.
    for len in [1, 2, 15, 16, 17, 63, 64, 65, 127, 128, 511, 512, 513, 600, 1100] {
        parts.push((len, b'a', None));
        parts.push((len, b'9', None));
        parts.push((len, b'_', Some(len - 1)));
        parts.push((len, b'.', Some(len / 2)));
        parts.push((len, 0xc3, None));
    }
    let strs = section(&parts);
    for mid in [None, Some(1), Some(3), Some(strs.len() / 128), Some(strs.len() / 64)] {
        let map = IdentMap::build_at(&strs, mid).expect("NUL-terminated");
        check_map(&strs, &map);
    }
    assert!(IdentMap::build_at(b"\0abc", None).is_none());
    assert!(IdentMap::build_at(b"", None).is_none());
}

proptest! {
    #[test]
    fn ident_map_matches_is_ident(
        bytes in proptest::collection::vec(
            prop_oneof![Just(0u8), Just(b'a'), Just(b'Z'), Just(b'_'), Just(b'.'), Just(b'7'),
                        Just(b' '), Just(b'-'), Just(0x80u8), Just(0xffu8)],
            1..700),
        runs in proptest::collection::vec((0usize..700, 500usize..560), 0..3),
        mid in 0usize..12,
    ) {
        let mut strs = bytes;
        // Splice in long identifier runs to reach the length limit.
        for (at, len) in runs {
            let at = at.min(strs.len());
            strs.splice(at..at, std::iter::repeat_n(b'x', len));
        }
        strs.push(0);
        let map = IdentMap::build_at(&strs, Some(mid)).expect("NUL-terminated");
        check_map(&strs, &map);
        let one = IdentMap::build_at(&strs, None).expect("NUL-terminated");
        check_map(&strs, &one);
    }
}

/// A valid BTF of `n` types (above the two-thread threshold): INTs, STRUCTs with
/// members on them, FUNC_PROTOs and FUNCs, TYPEDEFs with a forward target.
fn big(n: usize) -> (Vec<u32>, Vec<u8>) {
    // Offset 13: a string that is no identifier.
    let mut strs = b"\0int\0s\0m\0f\0t\0a b\0".to_vec();
    let mut types = Vec::new();
    let mut put = |w: &[u32]| types.extend(w.iter().copied());
    let info = |kind: u32, vlen: u32| (kind << 24) | vlen;
    put(&[1, info(1, 0), 4, 32]); // [1] int
    let mut id = 1u32;
    while (id as usize) < n {
        put(&[5, info(4, 2), 8, 7, 1, 0, 7, 1, 32]); // STRUCT s { int m; int m; }
        put(&[0, info(13, 1), 1, 7, 1]); // FUNC_PROTO int (int m)
        put(&[9, info(12, 0), id + 2]); // FUNC f
        put(&[11, info(8, 0), id + 5]); // TYPEDEF t -> the next STRUCT (forward)
        id += 4;
    }
    put(&[5, info(4, 0), 0]); // the last TYPEDEF's target
    strs.push(0);
    (types, strs)
}

fn blob(types: &[u32], strs: &[u8]) -> Btf {
    let t: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut out = vec![0x9f, 0xeb, 1, 0];
    for w in [24u32, 0, t.len() as u32, t.len() as u32, strs.len() as u32] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(&t);
    out.extend_from_slice(strs);
    Btf::from_slice(&out, None).expect("parse")
}

#[test]
fn two_threads_report_what_one_reports() {
    let n = 2 * PARALLEL_MIN_TYPES + 8;
    let (types, strs) = big(n);
    let ok = blob(&types, &strs);
    for level in [Level::Module, Level::Strict] {
        let opts = ValidateOptions::new(level, false);
        assert_eq!(validate_on(&ok, &opts, 2), Ok(()));
    }
    // Word indexes of the records of some ids, to corrupt them.
    let rec_word = |id: u32| ok.type_offset(id).expect("own id") as usize / 4;
    let last = ok.last_id();
    let lo = 4 * 1000 + 2; // a STRUCT in the lower half
    let hi = last - 4 * 1000; // a STRUCT in the upper half
    let cases: Vec<Vec<(usize, u32)>> = vec![
        vec![(rec_word(lo), 13)],                     // phase 1: bad name (lower)
        vec![(rec_word(hi), 13)],                     // phase 1: bad name (upper)
        vec![(rec_word(lo), 13), (rec_word(hi), 13)], // both: the lower one wins
        vec![(rec_word(hi) + 4, last + 9)],           // phase 3 R1 (upper)
        vec![(rec_word(hi) + 4, hi)],                 // phase 3 R2 (upper)
        vec![(rec_word(hi) + 4, hi), (rec_word(lo) + 4, 4)], // R3 lower beats R2 upper
        vec![(rec_word(hi + 1) + 4, 0)],              // phase 3 R5 (upper)
    ];
    assert_eq!(ok.type_by_id(lo).and_then(|t| t.kind()), Some(crate::Kind::Struct));
    assert_eq!(ok.type_by_id(hi).and_then(|t| t.kind()), Some(crate::Kind::Struct));
    for case in cases {
        let mut t = types.clone();
        for &(w, v) in &case {
            t[w] = v;
        }
        let btf = blob(&t, &strs);
        for level in [Level::Module, Level::Strict] {
            let opts = ValidateOptions::new(level, false);
            let one = validate_on(&btf, &opts, 1);
            assert_eq!(validate_on(&btf, &opts, 2), one, "{case:?} {level:?}");
            if level == Level::Strict {
                assert!(one.is_err(), "{case:?}");
            }
        }
    }
}

/// Strict validation reports a phase 3 failure before a phase 2 one, as `btf_parse`
/// resolves every type before `btf_check_type_tags`; module level knows only phase 2.
/// On one and two threads.
#[test]
fn strict_reports_phase_3_before_phase_2() {
    let info = |kind: u32, vlen: u32| (kind << 24) | vlen;
    let mut types = vec![
        1,
        info(1, 0),
        4,
        0x0100_0020, // 1: INT "int"
        0,
        info(10, 0),
        3, // 2: CONST -> TYPE_TAG: phase 2 fails here
        5,
        info(18, 0),
        1, // 3: TYPE_TAG "t" -> int
        0,
        info(4, 1),
        4,
        0,
        5,
        0, // 4: STRUCT with a FWD member: phase 3 fails here
        7,
        info(7, 0),
        0, // 5: FWD "f"
    ];
    let strs = b"\0int\0t\0f\0";
    for extra in [0, 2 * PARALLEL_MIN_TYPES] {
        types.extend((0..extra).flat_map(|_| [0, info(2, 0), 1])); // PTRs to int
        let btf = blob(&types, strs);
        for threads in [1, 2] {
            let id = |level| {
                let opts = ValidateOptions::new(level, false);
                validate_on(&btf, &opts, threads).err().and_then(|e| e.type_id())
            };
            assert_eq!(id(Level::Module), Some(2), "{extra} types more, {threads} threads");
            assert_eq!(id(Level::Strict), Some(4), "{extra} types more, {threads} threads");
        }
    }
}

/// R9's parameter names are found by phase 1's thread and merged into phase 3's result:
/// the lower of the two failures is reported, on one and two threads.
#[test]
fn parameter_names_merge_with_phase_3() {
    let info = |kind: u32, vlen: u32| (kind << 24) | vlen;
    let strs = b"\0int\0a b\0f\0";
    let int = [1, info(1, 0), 4, 0x0100_0020];
    let bad_names = |ret: u32| [0, info(13, 1), ret, 5, 1]; // FUNC_PROTO (int "a b")
    let fwd_member = |fwd: u32| [0, info(4, 1), 4, 0, fwd, 0]; // STRUCT { fwd f; }
    let fwd = [9, info(7, 0), 0];
    // [1] int, [2] the proto, [3] the struct, [4] the FWD: names fail at 2, phase 3 at 3.
    let names_first: Vec<u32> = [&int[..], &bad_names(1), &fwd_member(4), &fwd].concat();
    // [1] int, [2] the struct, [3] the FWD, [4] the proto: phase 3 fails at 2 first.
    let phase3_first: Vec<u32> = [&int[..], &fwd_member(3), &fwd, &bad_names(1)].concat();
    // [1] int, [2] a proto returning the FWD [3]: both fail at 2, phase 3's words win.
    let same: Vec<u32> = [&int[..], &bad_names(3), &fwd].concat();
    let cases = [
        (names_first, 2, "Invalid arg#1"),
        (phase3_first, 2, "member #0: Invalid member"),
        (same, 2, "Invalid return type"),
    ];
    for (mut types, id, msg) in cases {
        for extra in [0, 2 * PARALLEL_MIN_TYPES] {
            types.extend((0..extra).flat_map(|_| [0, info(2, 0), 1])); // PTRs to int
            let btf = blob(&types, strs);
            for threads in [1, 2] {
                let opts = ValidateOptions::new(Level::Strict, false);
                let e = validate_on(&btf, &opts, threads).expect_err("fails");
                assert_eq!((e.type_id(), e.to_string()), (Some(id), msg.to_string()));
                let opts = ValidateOptions::new(Level::Module, false);
                assert_eq!(validate_on(&btf, &opts, threads), Ok(()), "module level");
            }
        }
    }
}
