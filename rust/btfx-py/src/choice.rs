//! Keyword arguments that name one of a few choices (`mode="dedup"`, `level="strict"`).

use pyo3::exceptions::PyValueError;
use pyo3::PyResult;

/// The meaning of `value` among `options` (name, meaning), or a `ValueError` that lists
/// them: "mode must be 'dedup' or 'shift', not 'x'".
pub(crate) fn one_of<T: Copy>(param: &str, value: &str, options: &[(&str, T)]) -> PyResult<T> {
    if let Some(&(_, meaning)) = options.iter().find(|(name, _)| *name == value) {
        return Ok(meaning);
    }
    let names: Vec<String> = options.iter().map(|(name, _)| format!("'{name}'")).collect();
    let listed = match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.concat(),
    };
    Err(PyValueError::new_err(format!("{param} must be {listed}, not {value:?}")))
}
