//! Any input: parse (raw, ELF, compressed; base and split), validate at both levels,
//! dump raw and JSON, write in both byte orders and re-parse. Nothing may panic, and
//! writing a parsed blob must give bytes that parse to the same number of types; the
//! one-pass shift of raw bytes must give what parse + shift gives, output or error; the
//! record index of a section large enough for two chains is the plain walk's.
#![no_main]

use std::sync::{Arc, OnceLock};

use btfx_core::builder::TypeWriter;
use btfx_core::error::Error;
use btfx_core::index::plain_walk;
use btfx_core::validate::{Level, ValidateOptions};
use btfx_core::{Btf, ByteOrder};
use libfuzzer_sys::fuzz_target;

static SAMPLE: &[u8] = include_bytes!("../../../python/btfx/data/sample.btf");

fn sample_base() -> Arc<Btf> {
    static BASE: OnceLock<Arc<Btf>> = OnceLock::new();
    BASE.get_or_init(|| Arc::new(Btf::from_slice(SAMPLE, None).expect("sample parses"))).clone()
}

fn exercise(btf: &Btf) {
    for level in [Level::Module, Level::Strict] {
        for wide in [false, true] {
            let _ = btf.validate(&ValidateOptions { level, wide });
        }
    }
    let _ = btfx_core::dump::dump_raw_bytes(btf);
    let _ = btfx_core::dump::dump_json(btf);
    for order in [ByteOrder::Little, ByteOrder::Big] {
        // Split BTF re-parses only in its base's byte order.
        if btf.is_split() && order != btf.byte_order() {
            continue;
        }
        let out = btf.to_bytes(Some(order));
        let again = Btf::from_slice(&out, btf.base().cloned()).expect("written BTF re-parses");
        assert_eq!(again.nr_types(), btf.nr_types());
        assert_eq!(again.to_bytes(Some(btf.byte_order())), btf.to_bytes(None));
    }
}

/// `shift_raw` (finds and rewrites records in one pass) agrees with parsing first.
fn shift_paths_agree(data: &[u8]) {
    use btfx_core::rebase::shift::{shift_blob, shift_raw};
    let base = sample_base();
    let one_pass = shift_raw(data, &base).map(|(out, _)| out).map_err(|e| e.to_string());
    let parsed =
        Btf::from_slice(data, None).and_then(|m| shift_blob(&m, &base)).map_err(|e| e.to_string());
    assert_eq!(one_pass, parsed);
}

/// The input's records repeated past 32 KB or 256 KB (where parsing walks two or four
/// chains, from guessed boundaries at the half or quarter marks), with one word
/// overwritten as the input's last 8 bytes say: parsing gives the plain walk's offsets,
/// or its error at the same record and offset, with the same message.
fn index_agrees(data: &[u8]) {
    let Ok(m) = Btf::from_slice(data, None) else { return };
    let (order, types) = (m.byte_order(), m.type_section());
    if types.is_empty() || data.len() < 8 {
        return;
    }
    let tail = &data[data.len() - 8..];
    let size = if tail[3] & 0x80 == 0 { 40_000 } else { 300_000 };
    let mut sec = types.repeat(size / types.len() + 1);
    let at = (u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize % sec.len()) & !3;
    if at + 4 <= sec.len() {
        let v = u32::from_le_bytes([tail[4], tail[5], tail[6], tail[7]]);
        sec[at..at + 4].copy_from_slice(&order.u32_bytes(v));
    }
    let mut w = TypeWriter::new(order, sec.len());
    w.push_raw(&sec);
    let blob = w.finish(b"\0");
    match (Btf::from_slice(&blob, None), plain_walk(&sec, order)) {
        (Ok(b), Ok(want)) => assert_eq!(b.type_offsets(), &want[..]),
        (Err(Error::Format { type_id, offset, message, .. }), Err((index, off, msg))) => {
            assert_eq!((type_id, offset, message), (Some(1 + index), Some(24 + off), msg));
        }
        (got, want) => panic!("index {:?} vs plain walk {want:?}", got.map(|b| b.nr_types())),
    }
}

fuzz_target!(|data: &[u8]| {
    shift_paths_agree(data);
    index_agrees(data);
    if let Ok(btf) = btfx_core::load::parse_any(Arc::new(data.to_vec()), None) {
        exercise(&btf);
    }
    if let Ok(btf) = Btf::from_slice(data, Some(sample_base())) {
        exercise(&btf);
    }
});
