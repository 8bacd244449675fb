//! Retargeting many module files in parallel: one [`Target`] (base index built once),
//! one error per module (a failing module never stops the others), atomic writes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::{retarget_module, Options, Report, Target};
use crate::error::{Error, Result};

/// One module to retarget: read `input`, write `output` (may be the same path: in place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub input: PathBuf,
    pub output: PathBuf,
}

/// Retargets every job on `threads` worker threads (0: one per core) and returns one
/// result per job, in job order. `on_done(index, result)` is called from the worker
/// threads as each job finishes.
pub fn retarget_files(
    jobs: &[Job],
    target: &Target,
    opts: &Options,
    threads: usize,
    on_done: &(dyn Fn(usize, &Result<Report>) + Sync),
) -> Result<Vec<Result<Report>>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::input(format!("cannot start {threads} worker threads: {e}")))?;
    Ok(pool.install(|| {
        jobs.par_iter()
            .enumerate()
            .map(|(i, job)| {
                let result = retarget_file(job, target, opts);
                on_done(i, &result);
                result
            })
            .collect()
    }))
}

/// Retargets one file: read, retarget, write atomically (nothing is written when the
/// output would be the unchanged input file itself).
pub fn retarget_file(job: &Job, target: &Target, opts: &Options) -> Result<Report> {
    let data = fs::read(&job.input).map_err(|e| Error::io(&job.input, "cannot read", &e))?;
    let out = retarget_module(&data, target, opts)?;
    if !out.report.changed && same_file(&job.input, &job.output) {
        return Ok(out.report);
    }
    write_atomic(&job.output, &out.bytes, Some(&job.input))?;
    Ok(out.report)
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// so readers see the old file or the new one, never a part. The permissions of
/// `like` (the input) are kept. No fsync: like cp and install, durability across a
/// power loss is left to the caller (`sync`), which keeps big batches fast.
pub fn write_atomic(path: &Path, bytes: &[u8], like: Option<&Path>) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "cannot create directory", &e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.btfx-{}-{n}.tmp", std::process::id()));
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if let Some(perm) = like.and_then(|p| fs::metadata(p).ok()).map(|m| m.permissions()) {
            f.set_permissions(perm)?;
        }
        fs::rename(&tmp, path)
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(path, "cannot write", &e)
    })
}
