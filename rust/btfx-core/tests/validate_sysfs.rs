//! Validation of real kernel BTF from /sys/kernel/btf (docs/rules.md §2).

use std::sync::Arc;
use std::time::{Duration, Instant};

use btfx_core::validate::{Level, ValidateOptions};
use btfx_core::{Blob, Btf, ByteOrder};

fn sysfs_vmlinux() -> Option<Vec<u8>> {
    match std::fs::read("/sys/kernel/btf/vmlinux") {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("skipped: /sys/kernel/btf/vmlinux unreadable: {e}");
            None
        }
    }
}

const STRICT: ValidateOptions = ValidateOptions { level: Level::Strict, wide: false };
const MODULE: ValidateOptions = ValidateOptions { level: Level::Module, wide: false };

#[test]
fn vmlinux_validates() {
    let Some(data) = sysfs_vmlinux() else { return };
    let btf = Btf::from_slice(&data, None).expect("parse vmlinux");
    btf.validate(&STRICT).expect("strict");
    btf.validate(&MODULE).expect("module");
    btf.validate(&ValidateOptions { level: Level::Strict, wide: true }).expect("strict wide");
    // The same types in the other byte order.
    let other = match btf.byte_order() {
        ByteOrder::Little => ByteOrder::Big,
        ByteOrder::Big => ByteOrder::Little,
    };
    let swapped = Btf::from_slice(&btf.to_bytes(Some(other)), None).expect("parse swapped");
    swapped.validate(&STRICT).expect("strict, swapped");
}

#[test]
fn modules_validate_as_split() {
    let Some(data) = sysfs_vmlinux() else { return };
    let base = Arc::new(Btf::from_slice(&data, None).unwrap());
    let mut n = 0;
    for entry in std::fs::read_dir("/sys/kernel/btf").unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "vmlinux" {
            continue;
        }
        let raw = std::fs::read(&path).unwrap();
        let m = Btf::from_slice(&raw, Some(base.clone()))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        m.validate(&MODULE).unwrap_or_else(|e| panic!("{} (module): {e:?}", path.display()));
        m.validate(&STRICT).unwrap_or_else(|e| panic!("{} (strict): {e:?}", path.display()));
        n += 1;
    }
    if n == 0 {
        eprintln!("skipped: no module BTF in /sys/kernel/btf");
    } else {
        eprintln!("validated {n} modules");
    }
}

fn best_and_median(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2])
}

/// `cargo test --release -p btfx-core --test validate_sysfs -- --ignored --nocapture`
#[test]
#[ignore = "timing; run in release mode"]
fn vmlinux_validate_timing() {
    let Some(data) = sysfs_vmlinux() else { return };
    let blob: Blob = Arc::new(data);
    let (mut parse, mut module, mut strict, mut total) = (vec![], vec![], vec![], vec![]);
    for _ in 0..20 {
        let t0 = Instant::now();
        let btf = Btf::parse(blob.clone(), None).unwrap();
        let t1 = Instant::now();
        btf.validate(&MODULE).unwrap();
        let t2 = Instant::now();
        btf.validate(&STRICT).unwrap();
        let t3 = Instant::now();
        parse.push(t1 - t0);
        module.push(t2 - t1);
        strict.push(t3 - t2);
        total.push((t1 - t0) + (t3 - t2));
    }
    for (what, v) in
        [("parse", parse), ("module", module), ("strict", strict), ("parse+strict", total)]
    {
        let (best, median) = best_and_median(v);
        eprintln!("{what:>13}: best {best:?}, median {median:?} (20 runs)");
    }
}
