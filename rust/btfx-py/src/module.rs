//! Module containers: open (decompress + split signature), compress, replace ELF
//! section contents. Core work runs with the GIL released.

use btfx_core::module::{self, Compression, ModuleImage};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::IntoPy;

/// `compress.rs`'s names: "none", "xz", "zstd", "gzip".
pub(crate) fn compression_from(name: &str) -> PyResult<Compression> {
    Compression::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown compression {name:?}: expected 'none', 'xz', 'zstd' or 'gzip'"
        ))
    })
}

/// `module_open`'s result: ELF image, compression name, signature trailer.
type Opened<'py> = (Bound<'py, PyBytes>, &'static str, Option<Bound<'py, PyBytes>>);

/// Decompress a module file, split off its signature: `(elf, compression, trailer)`.
#[pyfunction]
pub fn module_open<'py>(py: Python<'py>, data: PyBackedBytes) -> PyResult<Opened<'py>> {
    let (elf, compression, trailer) = py
        .detach(|| {
            ModuleImage::open(&data).map(|m| {
                (m.elf.into_owned(), m.compression.as_str(), m.signature.map(|s| s.trailer))
            })
        })
        .py_err(py)?;
    Ok((PyBytes::new(py, &elf), compression, trailer.map(|t| PyBytes::new(py, &t))))
}

/// Compress `data` as the kernel and kmod accept (see `btfx_core::compress::compress`).
#[pyfunction]
pub fn compress<'py>(
    py: Python<'py>,
    data: PyBackedBytes,
    compression: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let c = compression_from(compression)?;
    let out = py.detach(|| module::compress(&data, c)).py_err(py)?;
    Ok(PyBytes::new(py, &out))
}

/// Replace the contents of named sections of an ELF file (in place when sizes match,
/// else an ET_REL re-layout).
#[pyfunction]
pub fn elf_replace_sections<'py>(
    py: Python<'py>,
    elf: PyBackedBytes,
    replacements: &Bound<'py, PyDict>,
) -> PyResult<Bound<'py, PyBytes>> {
    let replacements = replacements
        .iter()
        .map(|(k, v)| Ok((k.extract::<String>()?, v.extract::<PyBackedBytes>()?)))
        .collect::<PyResult<Vec<_>>>()?;
    let out = py
        .detach(|| {
            let pairs: Vec<(&str, &[u8])> =
                replacements.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
            module::replace_sections(&elf, &pairs)
        })
        .py_err(py)?;
    Ok(PyBytes::new(py, &out))
}
