//! `.BTF_ids` parse, check and fix-up (`btfx.BtfIds` builds its model from these).

use btfx_core::btf_ids::{check, fixup, parse_btf_ids, BtfIds, Entry, Member};
use btfx_core::compress::decompress;
use btfx_core::Result;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::btf::PyBtf;
use crate::errors::IntoPy;

type PyMemberTuple = (u64, &'static str, String);

/// One entry as a tuple: `("slot", offset, kind, name, id)`,
/// `("set", offset, name, count, ids, members)` or
/// `("set8", offset, name, count, flags, pairs, members)`.
fn entry_tuple<'py>(py: Python<'py>, e: &Entry) -> PyResult<Bound<'py, PyAny>> {
    let members = |ms: &[Member]| -> Vec<PyMemberTuple> {
        ms.iter().map(|m| (m.offset, m.kind.as_str(), m.name.clone())).collect()
    };
    Ok(match e {
        Entry::Slot { offset, kind, name, id } => {
            ("slot", *offset, kind.as_str(), name.clone(), *id).into_pyobject(py)?.into_any()
        }
        Entry::Set { offset, name, count, ids, members: ms } => {
            ("set", *offset, name.clone(), *count, ids.clone(), members(ms))
                .into_pyobject(py)?
                .into_any()
        }
        Entry::Set8 { offset, name, count, flags, pairs, members: ms } => {
            ("set8", *offset, name.clone(), *count, *flags, pairs.clone(), members(ms))
                .into_pyobject(py)?
                .into_any()
        }
    })
}

/// The ELF image of `data` (a module file, possibly compressed) and its parsed `.BTF_ids`.
fn parse(data: &[u8]) -> Result<(Vec<u8>, Option<BtfIds>)> {
    let elf = decompress(data)?.into_owned();
    let ids = parse_btf_ids(&elf)?;
    Ok((elf, ids))
}

/// Parses `.BTF_ids` of an ELF file (a module, optionally compressed).
/// Returns `(elf, big_endian, section_offset, section_size, entries)`, or `None` when
/// there is no `.BTF_ids`; `elf` is the uncompressed image.
#[pyfunction]
pub fn btf_ids_parse<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Option<Bound<'py, PyAny>>> {
    let (elf, ids) = py.detach(|| parse(data)).py_err(py)?;
    let Some(ids) = ids else { return Ok(None) };
    let entries = ids.entries.iter().map(|e| entry_tuple(py, e)).collect::<PyResult<Vec<_>>>()?;
    let elf = PyBytes::new(py, &elf);
    let t = (elf, ids.big_endian, ids.section_offset, ids.section_size, entries);
    Ok(Some(t.into_pyobject(py)?.into_any()))
}

/// Problems between `.BTF_ids` of the ELF image `elf` and `btf`, as
/// `(offset, symbol, message)` tuples; empty when they agree.
#[pyfunction]
pub fn btf_ids_check(
    py: Python<'_>,
    elf: &[u8],
    btf: PyRef<'_, PyBtf>,
) -> PyResult<Vec<(u64, String, String)>> {
    let btf = btf.inner.clone();
    let problems = py
        .detach(|| -> Result<_> {
            let ids = parse_btf_ids(elf)?;
            Ok(ids.map(|ids| check(&ids, &btf)).unwrap_or_default())
        })
        .py_err(py)?;
    Ok(problems.into_iter().map(|p| (p.offset, p.symbol, p.message)).collect())
}

/// New `.BTF_ids` bytes of the ELF image `elf` with every id mapped through `id_map`,
/// and `(ids, ids_changed, sets_resorted)`.
#[pyfunction]
pub fn btf_ids_fixup<'py>(
    py: Python<'py>,
    elf: &[u8],
    id_map: Vec<u32>,
) -> PyResult<(Bound<'py, PyBytes>, (usize, usize, usize))> {
    let (bytes, report) = py
        .detach(|| -> Result<_> {
            let ids = parse_btf_ids(elf)?.ok_or_else(|| {
                btfx_core::Error::elf_section(".BTF_ids", "the ELF file has no .BTF_ids section")
            })?;
            fixup(&ids, ids.section(elf)?, &id_map)
        })
        .py_err(py)?;
    Ok((PyBytes::new(py, &bytes), (report.ids, report.ids_changed, report.sets_resorted)))
}
