//! Times parse + validation of a BTF file (default /sys/kernel/btf/vmlinux).
//!
//! `cargo run --release -p btfx-core --example validate_bench -- [strict|module|parse] [runs] [file] [idle_us]`
//!
//! With `idle_us`, the process sleeps that long before each run, as a caller doing other
//! work between calls would leave the CPUs idle (see `placement.rs` for why that matters).

use std::sync::Arc;
use std::time::{Duration, Instant};

use btfx_core::validate::{Level, ValidateOptions};
use btfx_core::{Blob, Btf};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("strict", String::as_str);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let path = args.get(3).map_or("/sys/kernel/btf/vmlinux", String::as_str);
    let idle = Duration::from_micros(args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0));
    let blob: Blob = Arc::new(std::fs::read(path).expect("read BTF"));
    let level = match mode {
        "module" => Some(Level::Module),
        "parse" => None,
        _ => Some(Level::Strict),
    };
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut vtimes: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        if !idle.is_zero() {
            std::thread::sleep(idle);
        }
        let t0 = Instant::now();
        let btf = Btf::parse(blob.clone(), None).expect("parse");
        let t1 = Instant::now();
        if let Some(level) = level {
            btf.validate(&ValidateOptions { level, wide: false }).expect("validate");
        }
        let t2 = Instant::now();
        times.push(t2 - t0);
        vtimes.push(t2 - t1);
    }
    times.sort();
    vtimes.sort();
    let p90 = |t: &[Duration]| t[(runs - 1) * 9 / 10];
    println!(
        "{mode}: parse+validate best {:?} median {:?} p90 {:?}; validate alone best {:?} median {:?} p90 {:?} ({runs} runs, {idle:?} idle before each)",
        times[0],
        times[runs / 2],
        p90(&times),
        vtimes[0],
        vtimes[runs / 2],
        p90(&vtimes),
    );
}
