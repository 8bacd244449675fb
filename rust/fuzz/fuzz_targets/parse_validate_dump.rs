//! Any input: parse (raw, ELF, compressed; base and split), validate at both levels,
//! dump raw and JSON, write in both byte orders and re-parse. Nothing may panic, and
//! writing a parsed blob must give bytes that parse to the same number of types; the
//! one-pass shift of raw bytes must give what parse + shift gives, output or error.
#![no_main]

use std::sync::{Arc, OnceLock};

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
    let parsed = Btf::from_slice(data, None)
        .and_then(|m| shift_blob(&m, &base))
        .map_err(|e| e.to_string());
    assert_eq!(one_pass, parsed);
}

fuzz_target!(|data: &[u8]| {
    shift_paths_agree(data);
    if let Ok(btf) = btfx_core::load::parse_any(Arc::new(data.to_vec()), None) {
        exercise(&btf);
    }
    if let Ok(btf) = Btf::from_slice(data, Some(sample_base())) {
        exercise(&btf);
    }
});
