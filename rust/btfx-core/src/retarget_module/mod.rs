//! Retargeting kernel modules: give a module's BTF the ids of a target vmlinux and fix
//! its `.BTF_ids` to match, keeping every other byte of the module.
//!
//! One module: [`retarget_module`] on the file's bytes (compressed or not, signed or not).
//! Many: [`batch::retarget_files`], in parallel, one base index for all.
//!
//! Steps: open the container (decompress, split off the signature trailer), compute the
//! new `.BTF` and `.BTF_ids` ([`sections`]), write them into the ELF (in place when the
//! sizes are unchanged, else re-laid out), compress as the input was.

pub mod batch;
mod names;
pub mod sections;

use std::sync::Arc;

use crate::btf::Btf;
use crate::btf_ids::BTF_IDS_SECTION;
use crate::compress::{compress, Compression};
use crate::elf::BTF_SECTION;
use crate::error::{Error, Result};
use crate::module::{replace_sections, ModuleImage};
use crate::rebase::base_index::BaseIndex;
use crate::rebase::retarget::BaseMap;
use crate::rebase::Mode;
pub use sections::{retarget_sections, Facts, NewSections};

/// What a module's `.BTF` was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputKind {
    /// Self-contained BTF, ids from 1 (the 2023 proposal's standalone module BTF).
    #[default]
    Standalone,
    /// Split BTF on the old base given by the caller.
    Split,
    /// Already split BTF on the target base: nothing to do.
    OnBase,
}

impl InputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Standalone => "standalone",
            InputKind::Split => "split",
            InputKind::OnBase => "on-base",
        }
    }
}

/// The kernel to retarget onto (and, for split input, the one the module was built for).
/// Built once, shared by every module of a batch.
#[derive(Debug, Clone)]
pub struct Target {
    pub index: Arc<BaseIndex>,
    pub old_base: Option<Arc<Btf>>,
    /// Old base id → new base id for old base types the module's BTF does not reach.
    pub base_map: Option<Arc<BaseMap>>,
}

impl Target {
    pub fn new(base: Arc<Btf>, old_base: Option<Arc<Btf>>) -> Result<Target> {
        let base_map = match &old_base {
            Some(old) => Some(Arc::new(BaseMap::new(old, &base)?)),
            None => None,
        };
        Ok(Target { index: Arc::new(BaseIndex::new(base)), old_base, base_map })
    }
}

/// What to do with a signed module (every change invalidates its signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignaturePolicy {
    /// Drop the signature and say so in the report.
    #[default]
    Strip,
    /// Refuse to change a signed module (the input stays as it is).
    Keep,
}

/// Options of [`retarget_module`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    /// Fix `.BTF_ids` (false leaves it stale: only useful to show why it is needed).
    pub fix_btf_ids: bool,
    pub signature: SignaturePolicy,
    /// Output compression; `None`: the input's.
    pub compression: Option<Compression>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Dedup,
            fix_btf_ids: true,
            signature: SignaturePolicy::Strip,
            compression: None,
        }
    }
}

/// What [`retarget_module`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub facts: Facts,
    pub compression_in: Compression,
    pub compression_out: Compression,
    pub signed: bool,
    pub signature_stripped: bool,
    /// `.BTF` and `.BTF_ids` kept their sizes: the ELF was patched in place.
    pub patched_in_place: bool,
    /// The output differs from the input.
    pub changed: bool,
    pub bytes_in: usize,
    pub bytes_out: usize,
}

/// A retargeted module file.
#[derive(Debug, Clone)]
pub struct Retargeted {
    pub bytes: Vec<u8>,
    pub report: Report,
}

/// Retargets the module file `file` (bytes as on disk) onto `target`.
pub fn retarget_module(file: &[u8], target: &Target, opts: &Options) -> Result<Retargeted> {
    let image = ModuleImage::open(file)?;
    let signed = image.signature.is_some();
    let new = retarget_sections(&image.elf, target, opts)?;
    let compression_out = opts.compression.unwrap_or(image.compression);
    let mut report = Report {
        facts: new.facts,
        compression_in: image.compression,
        compression_out,
        signed,
        signature_stripped: false,
        patched_in_place: true,
        changed: false,
        bytes_in: file.len(),
        bytes_out: file.len(),
    };
    let mut replacements: Vec<(&str, &[u8])> = Vec::new();
    if let Some(b) = &new.btf {
        replacements.push((BTF_SECTION, b));
    }
    if let Some(b) = &new.btf_ids {
        replacements.push((BTF_IDS_SECTION, b));
    }
    if replacements.is_empty() && compression_out == image.compression {
        return Ok(Retargeted { bytes: file.to_vec(), report });
    }
    if signed && opts.signature == SignaturePolicy::Keep {
        return Err(Error::input(
            "module is signed and retargeting changes it; the signature policy is \"keep\" \
             (use \"strip\", or re-sign the output)",
        ));
    }
    report.patched_in_place = report.facts.btf_bytes_in == report.facts.btf_bytes_out;
    let elf = replace_sections(&image.elf, &replacements)?;
    report.signature_stripped = signed;
    if signed {
        report.facts.warnings.push("module signature stripped (it no longer matches)".into());
    }
    let bytes = compress(&elf, compression_out)?;
    report.changed = bytes != file;
    report.bytes_out = bytes.len();
    Ok(Retargeted { bytes, report })
}
