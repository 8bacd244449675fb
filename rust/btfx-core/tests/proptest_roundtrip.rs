//! Property tests: any well-framed BTF blob parses, writes back byte for byte, and
//! survives a byte-order round trip; framing defects are format errors, never panics.

use btfx_core::kind::Kind;
use btfx_core::{Btf, ByteOrder, Error};
use proptest::prelude::*;

/// One record: kind, raw info extras (kflag, vlen), and random words for all fields.
#[derive(Debug, Clone)]
struct Rec {
    kind: Kind,
    kflag: bool,
    vlen: u32,
    words: Vec<u32>,
}

fn rec() -> impl Strategy<Value = Rec> {
    (0usize..19, any::<bool>(), 0u32..4, proptest::collection::vec(any::<u32>(), 64)).prop_map(
        |(k, kflag, vlen, words)| {
            let kind = Kind::ALL[k];
            let vlen = if kind.layout().elem_size == 0 { vlen % 2 } else { vlen };
            Rec { kind, kflag, vlen, words }
        },
    )
}

fn encode(recs: &[Rec], strings: &[u8], order: ByteOrder, hdr_len: u32) -> Vec<u8> {
    let mut types = Vec::new();
    for r in recs {
        let info = (r.kind as u32) << 24 | r.vlen | if r.kflag { 1 << 31 } else { 0 };
        let n = (r.kind.record_size(r.vlen) / 4) as usize;
        for i in 0..n {
            let w = if i == 1 { info } else { r.words[i % r.words.len()] };
            types.extend_from_slice(&order.u32_bytes(w));
        }
    }
    let mut out = Vec::new();
    match order {
        ByteOrder::Little => out.extend_from_slice(&[0x9f, 0xeb, 1, 0]),
        ByteOrder::Big => out.extend_from_slice(&[0xeb, 0x9f, 1, 0]),
    }
    for w in [hdr_len, 0, types.len() as u32, types.len() as u32, strings.len() as u32] {
        out.extend_from_slice(&order.u32_bytes(w));
    }
    if hdr_len >= 32 {
        out.extend_from_slice(&[0; 8]);
        out.resize(hdr_len as usize, 0);
    }
    out.extend_from_slice(&types);
    out.extend_from_slice(strings);
    out
}

fn strings() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec("[a-z_]{0,8}", 0..6).prop_map(|names| {
        let mut s = vec![0u8];
        for n in names {
            s.extend_from_slice(n.as_bytes());
            s.push(0);
        }
        s
    })
}

proptest! {
    #[test]
    fn write_parse_is_identity(
        recs in proptest::collection::vec(rec(), 0..40),
        strs in strings(),
        big in any::<bool>(),
        wide_hdr in any::<bool>(),
    ) {
        let order = if big { ByteOrder::Big } else { ByteOrder::Little };
        let blob = encode(&recs, &strs, order, if wide_hdr { 32 } else { 24 });
        let btf = Btf::from_slice(&blob, None).expect("well-framed BTF parses");
        prop_assert_eq!(btf.nr_types() as usize, recs.len());
        prop_assert_eq!(btf.to_bytes(None), blob.clone());
        let other = if big { ByteOrder::Little } else { ByteOrder::Big };
        let swapped = btf.to_bytes(Some(other));
        let back = Btf::from_slice(&swapped, None).expect("swapped BTF parses");
        prop_assert_eq!(back.to_bytes(Some(order)), blob);
        for (t, r) in btf.types().zip(&recs) {
            prop_assert_eq!(t.kind(), Some(r.kind));
            prop_assert_eq!(t.vlen(), r.vlen);
            prop_assert_eq!(t.kflag(), r.kflag);
        }
    }

    #[test]
    fn truncation_is_a_format_error(
        recs in proptest::collection::vec(rec(), 1..10),
        strs in strings(),
        cut in 1usize..64,
    ) {
        let blob = encode(&recs, &strs, ByteOrder::Little, 24);
        let cut = cut.min(blob.len());
        let short = &blob[..blob.len() - cut];
        match Btf::from_slice(short, None) {
            Err(Error::Format { .. }) => {}
            other => prop_assert!(false, "expected a format error, got {:?}", other.map(|b| b.nr_types())),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Btf::from_slice(&data, None);
        let mut hdr = encode(&[], &[0], ByteOrder::Little, 24);
        hdr.extend_from_slice(&data);
        let _ = Btf::from_slice(&hdr, None);
    }
}
