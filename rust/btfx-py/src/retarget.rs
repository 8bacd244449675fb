//! Module retargeting (`btfx.retarget_module`, `btfx.retarget_modules` build on these).
//! Reports cross as dicts; `btfx.retarget` wraps them in picklable dataclasses.

use std::path::PathBuf;
use std::sync::{mpsc, Arc};

use btfx_core::rebase::retarget::BaseMap;
use btfx_core::retarget_module::batch::{retarget_files, Job};
use btfx_core::retarget_module::{retarget_module, Options, Report, SignaturePolicy, Target};
use btfx_core::Error;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::btf::PyBtf;
use crate::choice::one_of;
use crate::errors::{to_pyerr, IntoPy};
use crate::module::compression_from;
use crate::rebase::{parse_mode, PyBaseIndex, PyBaseMap};

/// The kernel to retarget onto: a base index, and for split input the old base and the
/// old→new base map (computed here when not given). Build once, use for many modules.
#[pyclass(name = "RetargetTarget", module = "btfx._native", frozen)]
pub struct PyTarget {
    inner: Arc<Target>,
}

#[pymethods]
impl PyTarget {
    #[new]
    #[pyo3(signature = (index, old_base=None, base_map=None))]
    fn new(
        py: Python<'_>,
        index: &PyBaseIndex,
        old_base: Option<&PyBtf>,
        base_map: Option<&PyBaseMap>,
    ) -> PyResult<Self> {
        let index = index.inner.clone();
        let old = old_base.map(|b| b.inner.clone());
        let base_map: Option<Arc<BaseMap>> = match (&old, base_map) {
            (Some(_), Some(m)) => Some(m.inner.clone()),
            (Some(o), None) => {
                let (o, n) = (o.clone(), index.base().clone());
                Some(Arc::new(py.detach(move || BaseMap::new(&o, &n)).py_err(py)?))
            }
            (None, _) => None,
        };
        Ok(PyTarget { inner: Arc::new(Target { index, old_base: old, base_map }) })
    }
}

fn options(
    mode: &str,
    btf_ids: &str,
    signature: &str,
    compression: Option<&str>,
) -> PyResult<Options> {
    let mode = parse_mode(mode)?;
    let fix_btf_ids = one_of("btf_ids", btf_ids, &[("fix", true), ("keep", false)])?;
    let signature = one_of(
        "signature",
        signature,
        &[("strip", SignaturePolicy::Strip), ("keep", SignaturePolicy::Keep)],
    )?;
    let compression = compression.map(compression_from).transpose()?;
    Ok(Options { mode, fix_btf_ids, signature, compression })
}

fn report_dict<'py>(py: Python<'py>, r: &Report) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let f = &r.facts;
    d.set_item("input_kind", f.input_kind.as_str())?;
    d.set_item("types_in", f.types_in)?;
    d.set_item("types_out", f.types_out)?;
    d.set_item("btf_bytes_in", f.btf_bytes_in)?;
    d.set_item("btf_bytes_out", f.btf_bytes_out)?;
    d.set_item("btf_ids_fixed", f.btf_ids_fixed)?;
    d.set_item("ids_total", f.ids_total)?;
    d.set_item("ids_changed", f.ids_changed)?;
    d.set_item("ids_by_name", f.ids_by_name)?;
    d.set_item("sets_resorted", f.sets_resorted)?;
    d.set_item("warnings", f.warnings.clone())?;
    d.set_item("compression_in", r.compression_in.as_str())?;
    d.set_item("compression_out", r.compression_out.as_str())?;
    d.set_item("signed", r.signed)?;
    d.set_item("signature_stripped", r.signature_stripped)?;
    d.set_item("patched_in_place", r.patched_in_place)?;
    d.set_item("changed", r.changed)?;
    d.set_item("bytes_in", r.bytes_in)?;
    d.set_item("bytes_out", r.bytes_out)?;
    Ok(d)
}

/// Retargets one module file given as bytes; returns `(new file bytes, report dict)`.
#[pyfunction]
#[pyo3(signature = (data, target, mode="dedup", btf_ids="fix", signature="strip", compression=None))]
pub fn retarget_module_bytes<'py>(
    py: Python<'py>,
    data: &[u8],
    target: &PyTarget,
    mode: &str,
    btf_ids: &str,
    signature: &str,
    compression: Option<&str>,
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyDict>)> {
    let opts = options(mode, btf_ids, signature, compression)?;
    let t = target.inner.clone();
    let out = py.detach(|| retarget_module(data, &t, &opts)).py_err(py)?;
    Ok((PyBytes::new(py, &out.bytes), report_dict(py, &out.report)?))
}

/// Retargets `jobs` (`(input path, output path)` pairs; equal paths: in place) on
/// `threads` threads (0: one per core), the GIL released. `progress(index, result)` is
/// called on this thread as modules finish. Returns one report dict or exception per job.
#[pyfunction]
#[pyo3(signature = (jobs, target, mode="dedup", btf_ids="fix", signature="strip", compression=None, threads=0, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn retarget_files_native(
    py: Python<'_>,
    jobs: Vec<(PathBuf, PathBuf)>,
    target: &PyTarget,
    mode: &str,
    btf_ids: &str,
    signature: &str,
    compression: Option<&str>,
    threads: usize,
    progress: Option<Py<PyAny>>,
) -> PyResult<Vec<Py<PyAny>>> {
    let opts = options(mode, btf_ids, signature, compression)?;
    let jobs: Vec<Job> = jobs.into_iter().map(|(input, output)| Job { input, output }).collect();
    let t = target.inner.clone();
    let (tx, rx) = mpsc::channel::<(usize, Result<Report, Error>)>();
    let worker = std::thread::spawn(move || {
        let tx = std::sync::Mutex::new(tx);
        let on_done = |i: usize, r: &Result<Report, Error>| {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send((i, r.clone()));
            }
        };
        retarget_files(&jobs, &t, &opts, threads, &on_done).map(|v| v.len())
    });
    let rx = std::sync::Mutex::new(rx); // detach() needs a Sync closure
    let recv = || rx.lock().map_err(|_| mpsc::RecvError).and_then(|rx| rx.recv());
    let mut results: Vec<Option<Py<PyAny>>> = Vec::new();
    let mut callback_error: Option<PyErr> = None;
    // Every finished job arrives here; the GIL is held only to build its Python value.
    while let Ok((i, r)) = py.detach(recv) {
        let value: Py<PyAny> = match &r {
            Ok(report) => report_dict(py, report)?.into_any().unbind(),
            Err(e) => to_pyerr(py, e.clone()).into_value(py).into_any(),
        };
        if results.len() <= i {
            results.resize_with(i + 1, || None);
        }
        if let (Some(cb), None) = (&progress, &callback_error) {
            // A failing callback stops the reporting, not the batch (files stay coherent).
            callback_error = cb.call1(py, (i, value.clone_ref(py))).err();
        }
        results[i] = Some(value);
    }
    let n = py
        .detach(|| worker.join())
        .map_err(|_| PyValueError::new_err("batch worker thread panicked"))?
        .py_err(py)?;
    if let Some(e) = callback_error {
        return Err(e);
    }
    results.resize_with(n, || None);
    results
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| PyValueError::new_err(format!("job {i} reported nothing"))))
        .collect()
}
