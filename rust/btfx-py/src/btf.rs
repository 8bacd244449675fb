//! The `Btf` class.

use std::path::PathBuf;
use std::sync::Arc;

use btfx_core::validate::{Level, ValidateOptions};
use btfx_core::{Btf, ByteOrder, Kind};
use pyo3::exceptions::{PyIndexError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use crate::choice::one_of;
use crate::errors::IntoPy;
use crate::input::blob_from;
use crate::typeview::PyType;

/// Parsed BTF (base or split). Immutable and safe to share between threads.
#[pyclass(name = "Btf", module = "btfx._native", frozen)]
pub struct PyBtf {
    pub(crate) inner: Arc<Btf>,
    base: Option<Py<PyBtf>>,
}

pub(crate) fn parse_byteorder(byteorder: Option<&str>) -> PyResult<Option<ByteOrder>> {
    let options =
        [("little", ByteOrder::Little), ("big", ByteOrder::Big), ("native", ByteOrder::NATIVE)];
    byteorder.map(|b| one_of("byteorder", b, &options)).transpose()
}

pub(crate) fn parse_kind(kind: Option<&str>) -> PyResult<Option<Kind>> {
    let Some(name) = kind else { return Ok(None) };
    let upper = name.to_ascii_uppercase();
    Kind::ALL
        .into_iter()
        .find(|k| k.name() == upper)
        .map(Some)
        .ok_or_else(|| PyValueError::new_err(format!("unknown BTF kind {name:?}")))
}

impl PyBtf {
    pub(crate) fn wrap(inner: Arc<Btf>, base: Option<Py<PyBtf>>) -> Self {
        PyBtf { inner, base }
    }
}

#[pymethods]
impl PyBtf {
    /// Parses raw BTF, or the `.BTF` section of an ELF file (kernel module, vmlinux,
    /// BPF object), optionally xz/zstd/gzip-compressed. `base` makes it split BTF.
    #[staticmethod]
    #[pyo3(signature = (data, base=None))]
    fn from_bytes(
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        base: Option<Py<PyBtf>>,
    ) -> PyResult<PyBtf> {
        let blob = blob_from(data)?;
        let base_inner = base.as_ref().map(|b| b.get().inner.clone());
        let btf = py.detach(move || btfx_core::load::parse_any(blob, base_inner)).py_err(py)?;
        Ok(PyBtf::wrap(Arc::new(btf), base))
    }

    /// Reads `path` (raw BTF, or an ELF file such as a `.ko`, `.ko.xz`, `.ko.zst`,
    /// `.ko.gz`, vmlinux or BPF object) and parses its BTF.
    #[staticmethod]
    #[pyo3(signature = (path, base=None))]
    fn from_file(py: Python<'_>, path: PathBuf, base: Option<Py<PyBtf>>) -> PyResult<PyBtf> {
        let base_inner = base.as_ref().map(|b| b.get().inner.clone());
        let btf = py
            .detach(move || -> PyResult<_> {
                let data = std::fs::read(&path).map_err(|e| {
                    PyOSError::new_err((
                        e.raw_os_error().unwrap_or(0),
                        e.to_string(),
                        path.display().to_string(),
                    ))
                })?;
                Ok(btfx_core::load::parse_any(Arc::new(data), base_inner))
            })?
            .py_err(py)?;
        Ok(PyBtf::wrap(Arc::new(btf), base))
    }

    /// The running kernel's BTF (`/sys/kernel/btf/vmlinux` unless `path` is given).
    #[staticmethod]
    #[pyo3(signature = (path=None))]
    fn vmlinux(py: Python<'_>, path: Option<PathBuf>) -> PyResult<PyBtf> {
        let path = path.unwrap_or_else(|| PathBuf::from("/sys/kernel/btf/vmlinux"));
        PyBtf::from_file(py, path, None)
    }

    /// Number of own types (void and base types excluded).
    fn __len__(&self) -> usize {
        self.inner.nr_types() as usize
    }

    /// The type with this id; ids below `start_id` are looked up in the base, 0 is void.
    fn __getitem__(slf: &Bound<'_, Self>, id: i64) -> PyResult<PyType> {
        let this = slf.get();
        if id < 0 || id > i64::from(this.inner.last_id()) {
            return Err(PyIndexError::new_err(format!(
                "type id {id} out of range [0, {}]",
                this.inner.last_id()
            )));
        }
        Ok(PyType::new(this.inner.clone(), id as u32))
    }

    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let list: Vec<PyType> = (this.inner.start_id()..this.inner.type_cnt())
            .map(|id| PyType::new(this.inner.clone(), id))
            .collect();
        let list = pyo3::types::PyList::new(py, list)?;
        Ok(list.try_iter()?.into_any().unbind())
    }

    /// First type named `name` (optionally of `kind`), searching the base first.
    #[pyo3(signature = (name, kind=None))]
    fn find(&self, name: &str, kind: Option<&str>) -> PyResult<Option<PyType>> {
        let kind = parse_kind(kind)?;
        Ok(self
            .inner
            .find_by_name(name.as_bytes(), kind)
            .first()
            .map(|&id| PyType::new(self.inner.clone(), id)))
    }

    /// All types named `name` (optionally of `kind`).
    #[pyo3(signature = (name, kind=None))]
    fn find_all(&self, name: &str, kind: Option<&str>) -> PyResult<Vec<PyType>> {
        let kind = parse_kind(kind)?;
        Ok(self
            .inner
            .find_by_name(name.as_bytes(), kind)
            .into_iter()
            .map(|id| PyType::new(self.inner.clone(), id))
            .collect())
    }

    /// Checks the kernel's rules: `level="module"` is what the kernel checks when it loads
    /// module BTF; `"strict"` adds the checks `BPF_BTF_LOAD` applies. `wide=True` accepts
    /// the 2026 widened vlen encoding.
    #[pyo3(signature = (level="strict", wide=false))]
    fn validate(&self, py: Python<'_>, level: &str, wide: bool) -> PyResult<()> {
        let level =
            one_of("level", level, &[("strict", Level::Strict), ("module", Level::Module)])?;
        let inner = self.inner.clone();
        let opts = ValidateOptions { level, wide };
        py.detach(move || inner.validate(&opts)).py_err(py)
    }

    /// Serializes the own part (canonical layout) in `byteorder` ("little", "big",
    /// "native"; default: as parsed).
    #[pyo3(signature = (byteorder=None))]
    fn to_bytes<'py>(
        &self,
        py: Python<'py>,
        byteorder: Option<&str>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let order = parse_byteorder(byteorder)?;
        let inner = self.inner.clone();
        let out = py.detach(move || inner.to_bytes(order));
        Ok(PyBytes::new(py, &out))
    }

    /// Text dump: `format="raw"` as `bpftool btf dump file X format raw` prints it,
    /// `"json"` as `bpftool -j` does.
    #[pyo3(signature = (format="raw"))]
    fn dump(&self, py: Python<'_>, format: &str) -> PyResult<String> {
        let json = one_of("format", format, &[("raw", false), ("json", true)])?;
        let inner = self.inner.clone();
        if json {
            return Ok(py.detach(move || btfx_core::dump::dump_json(&inner)));
        }
        let out = py.detach(move || btfx_core::dump::dump_raw_bytes(&inner));
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The raw dump as bytes (names that are not UTF-8 are kept as is).
    fn dump_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let inner = self.inner.clone();
        let out = py.detach(move || btfx_core::dump::dump_raw_bytes(&inner));
        PyBytes::new(py, &out)
    }

    #[getter]
    fn byteorder(&self) -> &'static str {
        self.inner.byte_order().as_str()
    }

    #[getter]
    fn start_id(&self) -> u32 {
        self.inner.start_id()
    }

    #[getter]
    fn start_str_off(&self) -> u32 {
        self.inner.start_str_off()
    }

    #[getter]
    fn nr_types(&self) -> u32 {
        self.inner.nr_types()
    }

    /// Last type id of the chain (base included).
    #[getter]
    fn last_id(&self) -> u32 {
        self.inner.last_id()
    }

    #[getter]
    fn is_split(&self) -> bool {
        self.inner.is_split()
    }

    #[getter]
    fn base(&self, py: Python<'_>) -> Option<Py<PyBtf>> {
        self.base.as_ref().map(|b| b.clone_ref(py))
    }

    /// The header fields as a dict (`layout_off`/`layout_len` are None for 24-byte headers).
    #[getter]
    fn header<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let h = self.inner.header();
        let d = PyDict::new(py);
        d.set_item("magic", h.magic)?;
        d.set_item("version", h.version)?;
        d.set_item("flags", h.flags)?;
        d.set_item("hdr_len", h.hdr_len)?;
        d.set_item("type_off", h.type_off)?;
        d.set_item("type_len", h.type_len)?;
        d.set_item("str_off", h.str_off)?;
        d.set_item("str_len", h.str_len)?;
        d.set_item("layout_off", h.layout_off)?;
        d.set_item("layout_len", h.layout_len)?;
        Ok(d)
    }

    /// The string at logical offset `offset` (base offsets resolve in the base).
    fn string_at(&self, offset: u32) -> PyResult<String> {
        self.inner
            .str_at(offset)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .ok_or_else(|| PyIndexError::new_err(format!("string offset {offset} out of range")))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let this = slf.get();
        let ctor = py.get_type::<PyBtf>().getattr("from_bytes")?;
        let raw = PyBytes::new(py, this.inner.raw());
        let base = this.base.as_ref().map(|b| b.clone_ref(py));
        let args = PyTuple::new(py, [raw.into_any(), base.into_pyobject(py)?.into_any()])?;
        PyTuple::new(py, [ctor, args.into_any()])
    }

    fn __repr__(&self) -> String {
        format!(
            "<btfx.Btf {} types, ids {}..{}{}, {} bytes, {}-endian>",
            self.inner.nr_types(),
            self.inner.start_id(),
            self.inner.last_id(),
            if self.inner.is_split() { ", split" } else { "" },
            self.inner.raw().len(),
            self.inner.byte_order().as_str()
        )
    }
}
