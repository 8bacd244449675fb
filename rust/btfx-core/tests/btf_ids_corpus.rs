//! `.BTF_ids` on real Debian modules (corpus from scripts/fetch-corpus.sh): parse, check
//! against the module's own BTF, identity fix-up, and fix-up through a real retarget id
//! map onto the other kernel's vmlinux, checked against the retargeted BTF.
//!
//! Skips (with a printed reason) when the corpus is absent. With `BTFX_BTF_IDS_DUMP=dir`
//! it also writes every fixed section to `dir/<kernel>/<module>.<target>.bin` for
//! tests/test_btf_ids.py to compare with the Python reference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use btfx_core::btf_ids::{check, fixup, parse_btf_ids, BtfIds, Entry};
use btfx_core::compress::decompress;
use btfx_core::load::parse_any;
use btfx_core::rebase::base_index::BaseIndex;
use btfx_core::rebase::retarget::retarget;
use btfx_core::Btf;

struct Kernel {
    name: String,
    base: Arc<Btf>,
    /// (module name, decompressed ELF bytes)
    modules: Vec<(String, Vec<u8>)>,
}

fn corpus_root() -> PathBuf {
    match std::env::var_os("BTFX_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus"),
    }
}

/// Every corpus kernel with its modules that have `.BTF_ids` (per MANIFEST.json).
fn kernels() -> Vec<Kernel> {
    let root = corpus_root();
    let Ok(dirs) = std::fs::read_dir(&root) else {
        eprintln!("skipped: corpus missing at {} (run scripts/fetch-corpus.sh)", root.display());
        return vec![];
    };
    let mut dirs: Vec<PathBuf> = dirs.filter_map(|d| d.ok().map(|d| d.path())).collect();
    dirs.sort();
    let mut out = vec![];
    for dir in dirs {
        let Ok(text) = std::fs::read_to_string(dir.join("MANIFEST.json")) else { continue };
        let m: serde_json::Value = serde_json::from_str(&text).expect("MANIFEST.json");
        let base_path = dir.join(m["vmlinux"]["btf"].as_str().expect("vmlinux.btf path"));
        let base = Arc::new(Btf::from_slice(&std::fs::read(base_path).unwrap(), None).unwrap());
        let root = dir.join(m["modules_root"].as_str().unwrap());
        let mut modules = vec![];
        for e in m["modules"].as_array().unwrap() {
            if e["has_btf_ids"].as_bool() != Some(true) {
                continue;
            }
            let raw = std::fs::read(root.join(e["path"].as_str().unwrap())).unwrap();
            let elf = decompress(&raw).unwrap().into_owned();
            modules.push((e["name"].as_str().unwrap().to_owned(), elf));
        }
        out.push(Kernel { name: m["kernel"].as_str().unwrap().to_owned(), base, modules });
    }
    if out.is_empty() {
        eprintln!("skipped: no complete kernel in {}", root.display());
    }
    out
}

fn section<'a>(elf: &'a [u8], ids: &BtfIds) -> &'a [u8] {
    let start = ids.section_offset as usize;
    &elf[start..start + ids.section_size as usize]
}

/// Per set/set8 name: the sorted (kind name, type name, flags) of its elements.
fn decoded_sets(ids: &BtfIds, btf: &Btf) -> BTreeMap<String, Vec<(String, String, u32)>> {
    let name_of = |id: u32| {
        let t = btf.type_by_id(id).expect("id in BTF");
        (t.kind_name().to_owned(), String::from_utf8_lossy(t.name()).into_owned())
    };
    let mut out = BTreeMap::new();
    for e in &ids.entries {
        let pairs: Vec<(u32, u32)> = match e {
            Entry::Set { ids, .. } => ids.iter().map(|&id| (id, 0)).collect(),
            Entry::Set8 { pairs, .. } => pairs.clone(),
            Entry::Slot { .. } => continue,
        };
        let mut v: Vec<(String, String, u32)> = pairs
            .into_iter()
            .map(|(id, f)| {
                let (k, n) = name_of(id);
                (k, n, f)
            })
            .collect();
        v.sort();
        out.insert(e.symbol(), v);
    }
    out
}

fn sorted_signed(ids: &BtfIds) -> bool {
    ids.entries.iter().all(|e| match e {
        Entry::Set { ids, .. } => ids.windows(2).all(|w| w[0] as i32 <= w[1] as i32),
        Entry::Set8 { pairs, .. } => pairs.windows(2).all(|w| w[0].0 as i32 <= w[1].0 as i32),
        Entry::Slot { .. } => true,
    })
}

/// Replaces the `.BTF_ids` bytes of `elf` by `new` (same size).
fn with_section(elf: &[u8], ids: &BtfIds, new: &[u8]) -> Vec<u8> {
    let mut out = elf.to_vec();
    let start = ids.section_offset as usize;
    out[start..start + new.len()].copy_from_slice(new);
    out
}

#[test]
fn corpus_btf_ids() {
    let kernels = kernels();
    if kernels.is_empty() {
        return;
    }
    let dump = std::env::var_os("BTFX_BTF_IDS_DUMP").map(PathBuf::from);
    let indexes: Vec<BaseIndex> = kernels.iter().map(|k| BaseIndex::new(k.base.clone())).collect();
    let mut total = 0;
    for k in &kernels {
        assert!(!k.modules.is_empty(), "{}: no module with .BTF_ids in the manifest", k.name);
        for (name, elf) in &k.modules {
            let ids = parse_btf_ids(elf).unwrap().expect("module has .BTF_ids");
            let (slots, sets, set8s) = ids.counts();
            let members: usize = ids
                .entries
                .iter()
                .map(|e| match e {
                    Entry::Set { members, .. } | Entry::Set8 { members, .. } => members.len(),
                    Entry::Slot { .. } => 0,
                })
                .sum();
            eprintln!(
                "{} {name}: {} bytes, {slots} slots, {sets} sets, {set8s} set8 ({members} members)",
                k.name, ids.section_size
            );
            assert!(slots + sets + set8s > 0, "{name}: empty");
            let own = parse_any(Arc::new(elf.clone()), Some(k.base.clone())).unwrap();
            let problems = check(&ids, &own);
            assert!(problems.is_empty(), "{} {name}: {problems:#?}", k.name);
            assert!(sorted_signed(&ids));

            // Identity: byte-for-byte no-op.
            let sec = section(elf, &ids);
            let identity: Vec<u32> = (0..=own.last_id()).collect();
            let (same, report) = fixup(&ids, sec, &identity).unwrap();
            assert_eq!(same, sec, "{name}: identity fixup changed bytes");
            assert_eq!((report.ids_changed, report.sets_resorted), (0, 0));
            if let Some(d) = &dump {
                write_dump(d, &k.name, name, "identity", &same);
            }

            // A non-monotone permutation: reverse the module's own ids. Decoding the
            // result through the inverse permutation must give the same sets, sorted.
            let (start, last) = (own.start_id(), own.last_id());
            let perm: Vec<u32> =
                (0..=last).map(|id| if id < start { id } else { start + last - id }).collect();
            let (permuted, report) = fixup(&ids, sec, &perm).unwrap();
            let perm_ids = parse_btf_ids(&with_section(elf, &ids, &permuted)).unwrap().unwrap();
            assert!(sorted_signed(&perm_ids));
            let mut unpermuted = perm_ids.clone();
            for e in &mut unpermuted.entries {
                match e {
                    Entry::Slot { id, .. } => *id = perm[*id as usize],
                    Entry::Set { ids, .. } => {
                        ids.iter_mut().for_each(|id| *id = perm[*id as usize])
                    }
                    Entry::Set8 { pairs, .. } => {
                        pairs.iter_mut().for_each(|p| p.0 = perm[p.0 as usize])
                    }
                }
            }
            assert_eq!(decoded_sets(&ids, &own), decoded_sets(&unpermuted, &own));
            let own_in_set = |i: &BtfIds| {
                i.entries.iter().any(|e| match e {
                    Entry::Set8 { pairs, .. } => pairs.iter().filter(|p| p.0 >= start).count() > 1,
                    Entry::Set { ids, .. } => ids.iter().filter(|&&x| x >= start).count() > 1,
                    Entry::Slot { .. } => false,
                })
            };
            if own_in_set(&ids) {
                assert!(report.sets_resorted > 0, "{name}: reversal re-sorted no set");
            }
            if let Some(d) = &dump {
                write_dump(d, &k.name, name, "reverse", &permuted);
            }

            // Retarget onto every other kernel's base and fix up through the id map.
            for (target, index) in kernels.iter().zip(&indexes) {
                if target.name == k.name {
                    continue;
                }
                let r = retarget(&own, index, None).unwrap();
                let (fixed, report) = fixup(&ids, sec, &r.id_map)
                    .unwrap_or_else(|e| panic!("{name} -> {}: {e}", target.name));
                let new_btf = Btf::from_slice(&r.btf, Some(target.base.clone())).unwrap();
                let fixed_elf = with_section(elf, &ids, &fixed);
                let new_ids = parse_btf_ids(&fixed_elf).unwrap().unwrap();
                let problems = check(&new_ids, &new_btf);
                assert!(problems.is_empty(), "{name} -> {}: {problems:#?}", target.name);
                assert!(sorted_signed(&new_ids));
                assert_eq!(decoded_sets(&ids, &own), decoded_sets(&new_ids, &new_btf));
                assert!(report.ids_changed > 0, "{name}: retarget changed no id");
                eprintln!(
                    "  -> {}: {} ids, {} changed, {} sets re-sorted",
                    target.name, report.ids, report.ids_changed, report.sets_resorted
                );
                // Header words and uncovered bytes are untouched: only id words differ,
                // and fixing up again through the identity changes nothing.
                let identity: Vec<u32> = (0..=new_btf.last_id()).collect();
                assert_eq!(fixup(&new_ids, &fixed, &identity).unwrap().0, fixed);
                if let Some(d) = &dump {
                    write_dump(d, &k.name, name, &target.name, &fixed);
                }
            }
            total += 1;
        }
    }
    eprintln!("{total} modules with .BTF_ids checked");
}

fn write_dump(dir: &Path, kernel: &str, module: &str, target: &str, bytes: &[u8]) {
    let d = dir.join(kernel);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(format!("{module}.{target}.bin")), bytes).unwrap();
}
