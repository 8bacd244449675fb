//! Turning Python inputs into shared core blobs without copying `bytes`.

use std::sync::Arc;

use btfx_core::Blob;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

/// A `bytes` object is borrowed (it is immutable); anything else supporting the buffer
/// protocol (bytearray, memoryview, mmap) is copied once into `bytes`, since it could
/// change under us.
pub fn blob_from(obj: &Bound<'_, PyAny>) -> PyResult<Blob> {
    let bytes = match obj.downcast::<PyBytes>() {
        Ok(b) => b.clone(),
        Err(_) => {
            let copied = obj.py().get_type::<PyBytes>().call1((obj,))?;
            copied.downcast_into::<PyBytes>()?
        }
    };
    let backed: PyBackedBytes = bytes.into();
    Ok(Arc::new(backed))
}
