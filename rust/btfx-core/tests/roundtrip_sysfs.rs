//! Real kernel BTF from /sys/kernel/btf: parse, index, byte-exact write, byte-order swap.

use std::sync::Arc;

use btfx_core::{Btf, ByteOrder};

fn sysfs_vmlinux() -> Option<Vec<u8>> {
    match std::fs::read("/sys/kernel/btf/vmlinux") {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("skipped: /sys/kernel/btf/vmlinux unreadable: {e}");
            None
        }
    }
}

#[test]
fn vmlinux_round_trips_and_swaps() {
    let Some(data) = sysfs_vmlinux() else { return };
    let btf = Btf::from_slice(&data, None).expect("parse vmlinux");
    assert!(btf.nr_types() > 1000);
    assert_eq!(btf.to_bytes(None), data);
    let other = match btf.byte_order() {
        ByteOrder::Little => ByteOrder::Big,
        ByteOrder::Big => ByteOrder::Little,
    };
    let swapped = btf.to_bytes(Some(other));
    assert_ne!(swapped, data);
    let back = Btf::from_slice(&swapped, None).expect("parse swapped");
    assert_eq!(back.byte_order(), other);
    assert_eq!(back.nr_types(), btf.nr_types());
    assert_eq!(back.to_bytes(Some(btf.byte_order())), data);
    let ids = btf.find_by_name(b"task_struct", Some(btfx_core::Kind::Struct));
    assert_eq!(ids.len(), 1);
    assert_eq!(btf.type_by_id(ids[0]).unwrap().name(), b"task_struct");
}

#[test]
fn modules_parse_split_and_round_trip() {
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
        assert_eq!(m.start_id(), base.type_cnt());
        assert_eq!(m.to_bytes(None), raw, "{}", path.display());
        for t in m.types() {
            for id in t.referenced_ids() {
                assert!(id <= m.last_id(), "{}: {:?} refers to {id}", path.display(), t);
            }
        }
        n += 1;
    }
    eprintln!("{n} modules checked");
}
