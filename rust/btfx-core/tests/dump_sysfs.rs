//! `dump_raw_bytes` / `dump_json` against the real `bpftool btf dump ... format raw`.
//!
//! Uses /sys/kernel/btf (vmlinux and every module, split on vmlinux) when readable and
//! `bpftool` is on PATH; skips with a message otherwise. More split corpora can be
//! checked with `BTFX_DUMP_BASE=/path/base.btf BTFX_DUMP_SPLIT_DIR=/dir/of/raw/split/btf`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use btfx_core::dump::{dump_json_bytes, dump_raw_bytes};
use btfx_core::Btf;

/// How many modules also get a JSON comparison (each is a full bpftool run).
const JSON_MODULES: usize = 5;

fn bpftool_ok() -> bool {
    match Command::new("bpftool").arg("version").output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!("skipped: `bpftool version` failed: {:?}", o.status);
            false
        }
        Err(e) => {
            eprintln!("skipped: bpftool not runnable: {e}");
            false
        }
    }
}

fn bpftool_dump(file: &Path, base: Option<&Path>, json: bool) -> Vec<u8> {
    let mut cmd = Command::new("bpftool");
    if json {
        cmd.arg("-j");
    }
    if let Some(b) = base {
        cmd.arg("-B").arg(b);
    }
    cmd.args(["btf", "dump", "file"]).arg(file).args(["format", "raw"]);
    let out = cmd.output().expect("run bpftool");
    assert!(
        out.status.success(),
        "bpftool failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The first differing line, for a readable failure.
fn first_diff(ours: &[u8], theirs: &[u8]) -> String {
    let a: Vec<&[u8]> = ours.split(|&b| b == b'\n').collect();
    let b: Vec<&[u8]> = theirs.split(|&b| b == b'\n').collect();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied();
        let y = b.get(i).copied();
        if x != y {
            let show = |l: Option<&[u8]>| {
                l.map_or("<none>".to_string(), |l| {
                    let s = String::from_utf8_lossy(l);
                    // JSON is one long line: show the neighbourhood of the difference.
                    let p = x
                        .zip(y)
                        .and_then(|(x, y)| x.iter().zip(y).position(|(p, q)| p != q))
                        .unwrap_or(0);
                    let lo = s.floor_char_boundary_compat(p.saturating_sub(200));
                    let hi = s.floor_char_boundary_compat((p + 200).min(s.len()));
                    s[lo..hi].to_string()
                })
            };
            return format!(
                "first difference at line {}:\n  ours:    {}\n  bpftool: {}",
                i + 1,
                show(x),
                show(y)
            );
        }
    }
    "no line differs".to_string()
}

trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        i = i.min(self.len());
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

fn check_raw(btf: &Btf, file: &Path, base: Option<&Path>) -> Result<(), String> {
    let ours = dump_raw_bytes(btf);
    let theirs = bpftool_dump(file, base, false);
    if ours != theirs {
        return Err(format!(
            "{}: raw dump differs\n{}",
            file.display(),
            first_diff(&ours, &theirs)
        ));
    }
    Ok(())
}

fn check_json(btf: &Btf, file: &Path, base: Option<&Path>) -> Result<(), String> {
    let ours = dump_json_bytes(btf);
    let theirs = bpftool_dump(file, base, true);
    let a: serde_json::Value = serde_json::from_slice(&ours)
        .map_err(|e| format!("{}: our JSON does not parse: {e}", file.display()))?;
    let b: serde_json::Value = serde_json::from_slice(&theirs)
        .map_err(|e| format!("{}: bpftool JSON does not parse: {e}", file.display()))?;
    if a != b {
        return Err(format!(
            "{}: JSON values differ\n{}",
            file.display(),
            first_diff(&ours, &theirs)
        ));
    }
    // Stronger than required: the bytes match too (compact writer, same escapes).
    if ours != theirs {
        return Err(format!(
            "{}: JSON bytes differ\n{}",
            file.display(),
            first_diff(&ours, &theirs)
        ));
    }
    Ok(())
}

/// Checks `base` and every split BTF file in `splits` (raw for all, JSON for the first
/// `JSON_MODULES` or all), running bpftool on several threads.
fn check_corpus(base_path: &Path, splits: Vec<PathBuf>, json_all: bool) {
    let base_data = std::fs::read(base_path).expect("read base");
    let base = Arc::new(Btf::from_slice(&base_data, None).expect("parse base"));
    let t = std::time::Instant::now();
    let raw = dump_raw_bytes(&base);
    eprintln!("{}: dump_raw_bytes {} bytes in {:?}", base_path.display(), raw.len(), t.elapsed());
    let mut errors = Vec::new();
    errors.extend(check_raw(&base, base_path, None).err());
    errors.extend(check_json(&base, base_path, None).err());

    let threads = std::thread::available_parallelism().map_or(4, |n| n.get()).min(16);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let found = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(path) = splits.get(i) else { break };
                let result = std::fs::read(path)
                    .map_err(|e| format!("{}: {e}", path.display()))
                    .and_then(|data| {
                        Btf::from_slice(&data, Some(base.clone()))
                            .map_err(|e| format!("{}: {e}", path.display()))
                    })
                    .and_then(|m| {
                        check_raw(&m, path, Some(base_path))?;
                        if json_all || i < JSON_MODULES {
                            check_json(&m, path, Some(base_path))?;
                        }
                        Ok(())
                    });
                if let Err(e) = result {
                    found.lock().unwrap().push(e);
                }
            });
        }
    });
    errors.extend(found.into_inner().unwrap());
    let json_n = if json_all { splits.len() } else { splits.len().min(JSON_MODULES) };
    eprintln!(
        "{}: base (raw+json) and {} split files (raw; json for {json_n}): {} failures",
        base_path.display(),
        splits.len(),
        errors.len()
    );
    assert!(errors.is_empty(), "{} failures; first:\n{}", errors.len(), errors[0]);
}

fn sorted_files(dir: &Path, skip: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != skip))
        .collect();
    v.sort();
    v
}

#[test]
fn sysfs_dump_matches_bpftool() {
    let vmlinux = Path::new("/sys/kernel/btf/vmlinux");
    if let Err(e) = std::fs::metadata(vmlinux) {
        eprintln!("skipped: {}: {e}", vmlinux.display());
        return;
    }
    if !bpftool_ok() {
        return;
    }
    let modules = sorted_files(Path::new("/sys/kernel/btf"), "vmlinux");
    if modules.is_empty() {
        eprintln!("note: no module BTF under /sys/kernel/btf (split dumps not checked here)");
    }
    check_corpus(vmlinux, modules, false);
}

#[test]
fn extra_split_corpus_matches_bpftool() {
    let (Some(base), Some(dir)) =
        (std::env::var_os("BTFX_DUMP_BASE"), std::env::var_os("BTFX_DUMP_SPLIT_DIR"))
    else {
        eprintln!("skipped: BTFX_DUMP_BASE / BTFX_DUMP_SPLIT_DIR not set");
        return;
    };
    if !bpftool_ok() {
        return;
    }
    let base = PathBuf::from(base);
    let splits = sorted_files(Path::new(&dir), "").into_iter().filter(|p| *p != base).collect();
    check_corpus(&base, splits, std::env::var_os("BTFX_DUMP_JSON_ALL").is_some());
}

/// Timing only: `cargo test --release --test dump_sysfs timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_vmlinux() {
    let Ok(data) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        eprintln!("skipped: no /sys/kernel/btf/vmlinux");
        return;
    };
    let btf = Btf::from_slice(&data, None).unwrap();
    let best = |f: &dyn Fn() -> usize| {
        (0..10)
            .map(|_| {
                let t = std::time::Instant::now();
                let n = f();
                (t.elapsed(), n)
            })
            .min()
            .unwrap()
    };
    let (t, n) = best(&|| dump_raw_bytes(&btf).len());
    eprintln!("dump_raw_bytes: {n} bytes, best of 10: {t:?}");
    let (t, n) = best(&|| btfx_core::dump::dump_raw(&btf).len());
    eprintln!("dump_raw (String): {n} bytes, best of 10: {t:?}");
    let (t, n) = best(&|| dump_json_bytes(&btf).len());
    eprintln!("dump_json_bytes: {n} bytes, best of 10: {t:?}");
    let (t, n) = best(&|| btfx_core::dump::dump_json(&btf).len());
    eprintln!("dump_json (String): {n} bytes, best of 10: {t:?}");
}
