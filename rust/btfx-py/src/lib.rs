//! `btfx._native`: the thin PyO3 layer over `btfx-core`.
//!
//! Core work runs with the GIL released; `bytes` inputs are borrowed, not copied.

mod btf;
mod errors;
mod input;
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
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
