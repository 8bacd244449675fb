//! Times `shift` rebase of a standalone BTF file onto a base (default: vmlinux onto
//! itself) against a plain copy of the input.
//!
//! `cargo run --release -p btfx-core --example shift_bench -- [runs] [standalone] [base]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use btfx_core::rebase::shift::{shift, shift_blob, shift_raw};
use btfx_core::{Blob, Btf};

fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let path = args.get(2).map_or("/sys/kernel/btf/vmlinux", String::as_str);
    let base_path = args.get(3).map_or("/sys/kernel/btf/vmlinux", String::as_str);
    let blob: Blob = Arc::new(std::fs::read(path).expect("read standalone BTF"));
    let base_blob: Blob = Arc::new(std::fs::read(base_path).expect("read base BTF"));
    let m = Btf::parse(blob.clone(), None).expect("parse standalone");
    let base = Btf::parse(base_blob, None).expect("parse base");
    let t_copy = best(runs, || {
        std::hint::black_box((*blob).as_ref().to_vec());
    });
    let t_blob = best(runs, || {
        std::hint::black_box(shift_blob(&m, &base).expect("shift"));
    });
    let t_shift = best(runs, || {
        std::hint::black_box(shift(&m, &base).expect("shift"));
    });
    let raw: &[u8] = (*blob).as_ref();
    let t_parse_blob = best(runs, || {
        let m = Btf::parse(blob.clone(), None).expect("parse");
        std::hint::black_box(shift_blob(&m, &base).expect("shift"));
    });
    let t_raw = best(runs, || {
        std::hint::black_box(shift_raw(raw, &base).expect("shift"));
    });
    println!("from bytes: parse + shifted blob {t_parse_blob:?}, one pass {t_raw:?}");
    println!(
        "shifted blob {t_blob:?} (with id and string maps {t_shift:?})  copy {t_copy:?}  \
         blob/copy {:.2}",
        t_blob.as_secs_f64() / t_copy.as_secs_f64()
    );
}
