//! `btfx._native`: the thin PyO3 layer over `btfx-core`.
//!
//! Core work runs with the GIL released; `bytes` inputs are borrowed, not copied.

mod btf;
mod btf_ids;
mod choice;
mod errors;
mod input;
mod module;
mod rebase;
mod retarget;
mod typeview;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<btf::PyBtf>()?;
    m.add_class::<typeview::PyType>()?;
    m.add_class::<typeview::PyMember>()?;
    m.add_class::<typeview::PyEnumValue>()?;
    m.add_class::<typeview::PyParam>()?;
    m.add_class::<typeview::PyVarSecinfo>()?;
    m.add_class::<rebase::PyBaseIndex>()?;
    m.add_class::<rebase::PyBaseMap>()?;
    m.add_class::<rebase::PyRebaseResult>()?;
    m.add_class::<rebase::PyEquivalence>()?;
    m.add_function(wrap_pyfunction!(rebase::rebase, m)?)?;
    m.add_function(wrap_pyfunction!(rebase::detach_btf, m)?)?;
    m.add_function(wrap_pyfunction!(rebase::retarget_btf, m)?)?;
    m.add_function(wrap_pyfunction!(rebase::equivalent, m)?)?;
    m.add_function(wrap_pyfunction!(btf_ids::btf_ids_parse, m)?)?;
    m.add_function(wrap_pyfunction!(btf_ids::btf_ids_check, m)?)?;
    m.add_function(wrap_pyfunction!(btf_ids::btf_ids_fixup, m)?)?;
    m.add_class::<retarget::PyTarget>()?;
    m.add_function(wrap_pyfunction!(retarget::retarget_module_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(retarget::retarget_files_native, m)?)?;
    m.add_function(wrap_pyfunction!(module::module_open, m)?)?;
    m.add_function(wrap_pyfunction!(module::compress, m)?)?;
    m.add_function(wrap_pyfunction!(module::elf_replace_sections, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
