//! Core errors become the exception classes of `btfx.errors` (defined in Python, shared
//! with the pure-Python reference).

use btfx_core::Error;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Converts a core error into the matching `btfx.errors` exception.
pub fn to_pyerr(py: Python<'_>, err: Error) -> PyErr {
    match build(py, &err) {
        Ok(e) => e,
        Err(e) => e,
    }
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    if let Error::Io { message, .. } = err {
        // Files that cannot be read or written are OSErrors, as for open().
        return Ok(pyo3::exceptions::PyOSError::new_err(message.clone()));
    }
    let module = py.import("btfx.errors")?;
    let kwargs = PyDict::new(py);
    let (class, message) = match err {
        Error::Format { message, section, type_id, offset } => {
            kwargs.set_item("section", section.as_str())?;
            kwargs.set_item("type_id", type_id)?;
            kwargs.set_item("offset", offset)?;
            ("BtfFormatError", message.clone())
        }
        Error::Validation { message, section, type_id, kind, offset } => {
            kwargs.set_item("section", section.as_str())?;
            kwargs.set_item("type_id", type_id)?;
            kwargs.set_item("kind", kind)?;
            kwargs.set_item("offset", offset)?;
            ("BtfValidationError", message.clone())
        }
        Error::Elf { message, section, offset } => {
            kwargs.set_item("section", section)?;
            kwargs.set_item("offset", offset)?;
            ("BtfElfError", message.clone())
        }
        Error::Rebase { message, type_id } => {
            kwargs.set_item("type_id", type_id)?;
            ("BtfRebaseError", message.clone())
        }
        Error::Input { message } => ("BtfError", message.clone()),
        other => ("BtfError", other.to_string()),
    };
    let cls = module.getattr(class)?;
    let exc = cls.call((message,), Some(&kwargs))?;
    Ok(PyErr::from_value(exc))
}

/// Extension for `Result<T, Error>` → `PyResult<T>`.
pub trait IntoPy<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for Result<T, Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_pyerr(py, e))
    }
}
