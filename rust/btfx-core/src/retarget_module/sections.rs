//! The BTF part of retargeting one module: decide what the module's `.BTF` is (standalone,
//! split on an old base, already split on the target), rebase it, and fix `.BTF_ids`
//! through the resulting id map. Works on the uncompressed, unsigned ELF image.

use super::names::complete_id_map;
use super::{InputKind, Options, Target};
use crate::btf::Btf;
use crate::btf_ids::{check, fixup, parse_btf_ids, BtfIds, BTF_IDS_SECTION};
use crate::elf::find_btf_sections;
use crate::error::{Error, Result};
use crate::rebase::detach::detach;
use crate::rebase::forward::retarget_declaring;
use crate::rebase::retarget::compose;
use crate::rebase::shift::{check_standalone, shift};
use crate::rebase::{dedup::dedup, Mode, Rebased};
use crate::validate::{Level, ValidateOptions};

/// New contents for the module's BTF sections (`None`: keep the section as it is).
#[derive(Debug, Clone, Default)]
pub struct NewSections {
    pub btf: Option<Vec<u8>>,
    pub btf_ids: Option<Vec<u8>>,
    pub facts: Facts,
}

/// What was found and done, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub input_kind: InputKind,
    /// Types of the module's own BTF before and after (split types only).
    pub types_in: u32,
    pub types_out: u32,
    pub btf_bytes_in: usize,
    pub btf_bytes_out: usize,
    /// `.BTF_ids` present and fixed (false: absent, or left alone on request).
    pub btf_ids_fixed: bool,
    /// Id words looked at / changed / resolved by name, sets re-sorted.
    pub ids_total: usize,
    pub ids_changed: usize,
    pub ids_by_name: usize,
    pub sets_resorted: usize,
    pub warnings: Vec<String>,
}

/// Computes the new `.BTF` and `.BTF_ids` of the ELF image `elf`.
pub fn retarget_sections(elf: &[u8], target: &Target, opts: &Options) -> Result<NewSections> {
    let found = find_btf_sections(elf)?;
    if found.btf_base.is_some() {
        // Distilled base BTF (6.11+): relocation onto a full base is a separate job.
        return Err(Error::elf_section(
            ".BTF.base",
            "module has distilled base BTF (.BTF.base); converting it is not supported yet",
        ));
    }
    let base = target.index.base().clone();
    let (kind, module) = classify(found.btf, target)?;
    let mut facts = Facts {
        input_kind: kind,
        types_in: module.nr_types(),
        btf_bytes_in: found.btf.len(),
        ..Facts::default()
    };
    let ids = parse_btf_ids(elf)?;

    if kind == InputKind::OnBase {
        // Nothing to rebase; the ids must already agree with the BTF.
        if let Some(ids) = &ids {
            if let Some(p) = check(ids, &module).first() {
                return Err(Error::rebase(
                    None,
                    format!(
                        "module BTF is split on the target base but {BTF_IDS_SECTION} does not \
                         match it ({p}); was it built against another vmlinux (old_base)?"
                    ),
                ));
            }
        }
        facts.types_out = facts.types_in;
        facts.btf_bytes_out = facts.btf_bytes_in;
        return Ok(NewSections { btf: None, btf_ids: None, facts });
    }

    let rebased = rebase(&module, kind, target, opts.mode)?;
    let out = Btf::from_slice(&rebased.btf, Some(base))?;
    // Never write BTF the kernel would refuse (btf_parse_module's checks).
    out.validate(&ValidateOptions::new(Level::Module, false))
        .map_err(|e| Error::rebase(e.type_id(), format!("rebased BTF does not validate: {e}")))?;
    facts.types_out = out.nr_types();
    facts.btf_bytes_out = rebased.btf.len();

    let mut new_ids = None;
    match (&ids, opts.fix_btf_ids) {
        (Some(ids), true) => {
            new_ids = Some(fix_ids(elf, ids, &module, &out, rebased.id_map, &mut facts)?);
            facts.btf_ids_fixed = true;
        }
        (Some(_), false) => {
            facts.warnings.push(format!("{BTF_IDS_SECTION} left unfixed on request"));
        }
        (None, _) => {}
    }
    Ok(NewSections { btf: Some(rebased.btf), btf_ids: new_ids, facts })
}

/// Standalone (ids from 1, own strings only) is checked first: split BTF practically
/// always refers to ids past its own count. Then split on `old_base` when given, else
/// split on the target base itself.
fn classify(btf: &[u8], target: &Target) -> Result<(InputKind, Btf)> {
    if let Ok(m) = Btf::from_slice(btf, None) {
        if check_standalone(&m).is_ok() {
            return Ok((InputKind::Standalone, m));
        }
    }
    let module_level = ValidateOptions::new(Level::Module, false);
    if let Some(old) = &target.old_base {
        let m = Btf::from_slice(btf, Some(old.clone()))?;
        m.validate(&module_level).map_err(|e| {
            Error::rebase(e.type_id(), format!("module BTF does not validate on old_base: {e}"))
        })?;
        return Ok((InputKind::Split, m));
    }
    let base = target.index.base().clone();
    match Btf::from_slice(btf, Some(base)).and_then(|m| m.validate(&module_level).map(|()| m)) {
        Ok(m) => Ok((InputKind::OnBase, m)),
        Err(e) => Err(Error::rebase(
            e.type_id(),
            format!(
                "module BTF is neither standalone nor valid split BTF on the target base \
                 ({e}); if it was built against another vmlinux, give that as old_base"
            ),
        )),
    }
}

fn rebase(module: &Btf, kind: InputKind, target: &Target, mode: Mode) -> Result<Rebased> {
    let index = &target.index;
    match (kind, mode) {
        (InputKind::Standalone, Mode::Dedup) => dedup(module, index),
        (InputKind::Standalone, Mode::Shift) => shift(module, index.base()),
        (_, Mode::Dedup) => retarget_declaring(module, index, target.base_map.as_deref()),
        (_, Mode::Shift) => {
            // Detach to standalone, then shift; the two maps chain.
            let detached = detach(module)?;
            let shifted = shift(&Btf::from_slice(&detached.btf, None)?, index.base())?;
            let base_map = target.base_map.as_deref();
            Ok(compose(module.start_id(), &detached, None, shifted, base_map))
        }
    }
}

/// Maps `.BTF_ids` through `id_map` (completed by name for ids it does not cover) and
/// checks the result names the same types as before.
fn fix_ids(
    elf: &[u8],
    ids: &BtfIds,
    old: &Btf,
    new: &Btf,
    mut id_map: Vec<u32>,
    facts: &mut Facts,
) -> Result<Vec<u8>> {
    let section = ids.section(elf)?;
    let before = check(ids, old);
    for p in &before {
        facts.warnings.push(format!("{BTF_IDS_SECTION} of the input disagrees with its BTF: {p}"));
    }
    facts.ids_by_name = complete_id_map(ids, old, new, &mut id_map)?;
    let (bytes, report) = fixup(ids, section, &id_map)?;
    facts.ids_total = report.ids;
    facts.ids_changed = report.ids_changed;
    facts.sets_resorted = report.sets_resorted;
    let fixed = ids.reread(&bytes)?;
    let after = check(&fixed, new);
    if after.len() > before.len() {
        let p = &after[0];
        return Err(Error::rebase(
            None,
            format!("{BTF_IDS_SECTION} would not match the rebased BTF after fix-up: {p}"),
        ));
    }
    Ok(bytes)
}
