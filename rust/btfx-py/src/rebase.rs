//! Rebase, detach, retarget and equivalence (docs/rebase.md), GIL released.

use std::sync::Arc;

use btfx_core::load::{is_raw_btf, parse_any};
use btfx_core::rebase::base_index::BaseIndex;
use btfx_core::rebase::equiv::{
    check_id_map, equivalent as core_equivalent, equivalent_up_to_duplicates, same_base, Detached,
};
use btfx_core::rebase::retarget::{retarget, BaseMap};
use btfx_core::rebase::{
    dedup::dedup,
    detach::detach,
    shift::{shift_blob, shift_id_map, shift_raw, shift_str_map},
    Mode, Rebased,
};
use btfx_core::Btf;
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::btf::PyBtf;
use crate::choice::one_of;
use crate::errors::IntoPy;
use crate::input::blob_from;

/// A base BTF (usually vmlinux) prepared once for many rebases: string index and dedup
/// hashes. Immutable; share it across threads.
#[pyclass(name = "BaseIndex", module = "btfx._native", frozen)]
pub struct PyBaseIndex {
    pub(crate) inner: Arc<BaseIndex>,
    base: Py<PyBtf>,
}

#[pymethods]
impl PyBaseIndex {
    #[new]
    fn new(py: Python<'_>, base: Py<PyBtf>) -> PyResult<Self> {
        let b = base.get().inner.clone();
        let inner = py.detach(move || BaseIndex::new(b));
        Ok(PyBaseIndex { inner: Arc::new(inner), base })
    }

    #[getter]
    fn base(&self, py: Python<'_>) -> Py<PyBtf> {
        self.base.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!("<btfx.BaseIndex over {} base types>", self.base.get().inner.nr_types())
    }
}

/// Old base id → unique structurally equivalent new base id (0: none or ambiguous).
#[pyclass(name = "BaseMap", module = "btfx._native", frozen)]
pub struct PyBaseMap {
    pub(crate) inner: Arc<BaseMap>,
}

#[pymethods]
impl PyBaseMap {
    #[new]
    fn new(py: Python<'_>, old_base: Py<PyBtf>, new_base: Py<PyBtf>) -> PyResult<Self> {
        let (o, n) = (old_base.get().inner.clone(), new_base.get().inner.clone());
        let inner = py.detach(move || BaseMap::new(&o, &n)).py_err(py)?;
        Ok(PyBaseMap { inner: Arc::new(inner) })
    }

    fn __getitem__(&self, id: u32) -> PyResult<u32> {
        if id as usize >= self.inner.as_slice().len() {
            return Err(PyIndexError::new_err(format!("old base id {id} out of range")));
        }
        Ok(self.inner.get(id))
    }

    fn __len__(&self) -> usize {
        self.inner.as_slice().len()
    }

    /// Number of old base types with a unique counterpart.
    #[getter]
    fn mapped(&self) -> usize {
        self.inner.mapped()
    }

    fn to_list(&self) -> Vec<u32> {
        self.inner.as_slice().to_vec()
    }
}

/// What a rebase produced: the new BTF, and where every old id and string went.
#[pyclass(name = "RebaseResult", module = "btfx._native", frozen)]
pub struct PyRebaseResult {
    raw: Arc<Vec<u8>>,
    base: Option<Py<PyBtf>>,
    /// The new BTF, parsed on first use.
    parsed: std::sync::OnceLock<Py<PyBtf>>,
    id_map: IdMapSource,
    str_map: StrMapSource,
}

/// The id map, or for a shift what it follows from (`0 → 0`, `x → x + k` for the `n`
/// types): built only when asked for.
enum IdMapSource {
    Map(Vec<u32>),
    Shifted { n: u32, k: u32 },
}

/// The string map, or what it is computed from on first use: a shift's map is
/// `s → s + by` for every string field value of the input, which only callers that ask
/// for it should pay for.
enum StrMapSource {
    Pairs(Vec<(u32, u32)>),
    Shifted { input: Standalone, by: u32 },
}

/// `rebase`'s first argument: a parsed `Btf`, or bytes (raw BTF, or an ELF file or
/// compressed module as `Btf.from_bytes` takes them).
#[derive(Clone)]
enum Standalone {
    Parsed(Arc<Btf>),
    Bytes(btfx_core::Blob),
}

impl Standalone {
    fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Standalone> {
        match obj.downcast::<PyBtf>() {
            Ok(b) => Ok(Standalone::Parsed(b.get().inner.clone())),
            Err(_) => Ok(Standalone::Bytes(blob_from(obj)?)),
        }
    }

    /// The parsed BTF (parsing bytes here, without the GIL).
    fn parsed(&self) -> btfx_core::Result<Arc<Btf>> {
        match self {
            Standalone::Parsed(m) => Ok(m.clone()),
            Standalone::Bytes(blob) => Ok(Arc::new(parse_any(blob.clone(), None)?)),
        }
    }
}

impl PyRebaseResult {
    fn parsed(&self, py: Python<'_>) -> PyResult<&Py<PyBtf>> {
        if let Some(b) = self.parsed.get() {
            return Ok(b);
        }
        let raw: btfx_core::Blob = self.raw.clone();
        let base_inner = self.base.as_ref().map(|b| b.get().inner.clone());
        let parsed = py.detach(move || Btf::parse(raw, base_inner)).py_err(py)?;
        let base = self.base.as_ref().map(|b| b.clone_ref(py));
        let obj = Py::new(py, PyBtf::wrap(Arc::new(parsed), base))?;
        Ok(self.parsed.get_or_init(|| obj))
    }
}

#[pymethods]
impl PyRebaseResult {
    /// The new BTF (split on the target base; standalone for `detach`).
    #[getter]
    fn btf(&self, py: Python<'_>) -> PyResult<Py<PyBtf>> {
        Ok(self.parsed(py)?.clone_ref(py))
    }

    /// Old id → new id, as a list indexed by old id (0 → 0; 0 also for no image).
    #[getter]
    fn id_map(&self) -> Vec<u32> {
        match &self.id_map {
            IdMapSource::Map(m) => m.clone(),
            &IdMapSource::Shifted { n, k } => shift_id_map(n, k),
        }
    }

    /// Old string offset → new string offset, for every string the old BTF used.
    #[getter]
    fn str_map<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let shifted;
        let pairs = match &self.str_map {
            StrMapSource::Pairs(p) => p,
            StrMapSource::Shifted { input, by } => {
                let (input, by) = (input.clone(), *by);
                shifted =
                    py.detach(move || input.parsed().map(|m| shift_str_map(&m, by))).py_err(py)?;
                &shifted
            }
        };
        let d = PyDict::new(py);
        for &(o, n) in pairs {
            d.set_item(o, n)?;
        }
        Ok(d)
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.raw)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let b = &self.parsed(py)?.get().inner;
        Ok(format!(
            "<btfx.RebaseResult {} types from id {}, {} bytes>",
            b.nr_types(),
            b.start_id(),
            b.raw().len()
        ))
    }
}

fn finish(_py: Python<'_>, r: Rebased, base: Option<Py<PyBtf>>) -> PyResult<PyRebaseResult> {
    let Rebased { btf, id_map, str_map } = r;
    Ok(PyRebaseResult {
        raw: Arc::new(btf),
        base,
        parsed: std::sync::OnceLock::new(),
        id_map: IdMapSource::Map(id_map),
        str_map: StrMapSource::Pairs(str_map),
    })
}

/// Base given as a `Btf` or a prepared `BaseIndex`.
fn index_of(py: Python<'_>, base: &Bound<'_, PyAny>) -> PyResult<(Arc<BaseIndex>, Py<PyBtf>)> {
    if let Ok(ix) = base.downcast::<PyBaseIndex>() {
        let ix = ix.get();
        return Ok((ix.inner.clone(), ix.base.clone_ref(py)));
    }
    let b: Py<PyBtf> = base.extract()?;
    let inner = b.get().inner.clone();
    Ok((Arc::new(py.detach(move || BaseIndex::new(inner))), b))
}

/// Rebases standalone BTF (a `Btf`, or bytes as `Btf.from_bytes` takes them) onto
/// `base` (a `Btf` or a `BaseIndex`). `mode="dedup"` (default) maps types equivalent to
/// base types onto the base ids, like libbpf's `btf__dedup` on split BTF; `mode="shift"`
/// moves every id and string offset past the base (raw BTF bytes are then shifted in
/// one pass, without a separate parse).
#[pyfunction]
#[pyo3(signature = (standalone, base, mode="dedup"))]
pub fn rebase(
    py: Python<'_>,
    standalone: &Bound<'_, PyAny>,
    base: &Bound<'_, PyAny>,
    mode: &str,
) -> PyResult<PyRebaseResult> {
    let mode = parse_mode(mode)?;
    let input = Standalone::from_py(standalone)?;
    match mode {
        Mode::Shift => {
            let b: Py<PyBtf> = match base.downcast::<PyBaseIndex>() {
                Ok(ix) => ix.get().base.clone_ref(py),
                Err(_) => base.extract()?,
            };
            let bi = b.get().inner.clone();
            let (k, l) = (bi.last_id(), bi.str_end());
            let work = input.clone();
            let (btf, n) = py
                .detach(move || match work {
                    Standalone::Bytes(blob) if is_raw_btf((*blob).as_ref()) => {
                        shift_raw((*blob).as_ref(), &bi)
                    }
                    other => {
                        let m = other.parsed()?;
                        Ok((shift_blob(&m, &bi)?, m.nr_types()))
                    }
                })
                .py_err(py)?;
            Ok(PyRebaseResult {
                raw: Arc::new(btf),
                base: Some(b),
                parsed: std::sync::OnceLock::new(),
                id_map: IdMapSource::Shifted { n, k },
                str_map: StrMapSource::Shifted { input, by: l },
            })
        }
        Mode::Dedup => {
            let (ix, b) = index_of(py, base)?;
            let r = py.detach(move || dedup(&*input.parsed()?, &ix)).py_err(py)?;
            finish(py, r, Some(b))
        }
    }
}

/// `"dedup"` or `"shift"`.
pub(crate) fn parse_mode(mode: &str) -> PyResult<Mode> {
    one_of("mode", mode, &[("dedup", Mode::Dedup), ("shift", Mode::Shift)])
}

/// Re-parses `btf` on `base` when it was parsed without one.
fn on_base(py: Python<'_>, btf: Py<PyBtf>, base: Option<Py<PyBtf>>) -> PyResult<Py<PyBtf>> {
    match base {
        Some(b) if !btf.get().inner.is_split() => {
            let raw = btf.get().inner.raw().to_vec();
            let bi = b.get().inner.clone();
            let parsed = py.detach(move || Btf::parse(Arc::new(raw), Some(bi))).py_err(py)?;
            Py::new(py, PyBtf::wrap(Arc::new(parsed), Some(b)))
        }
        _ => Ok(btf),
    }
}

/// Detaches split BTF from its base: the split types plus every base type they reach,
/// renumbered from 1. `base` is needed only if `split` was parsed without it.
#[pyfunction]
#[pyo3(signature = (split, base=None))]
pub fn detach_btf(
    py: Python<'_>,
    split: Py<PyBtf>,
    base: Option<Py<PyBtf>>,
) -> PyResult<PyRebaseResult> {
    let split = on_base(py, split, base)?;
    let s = split.get().inner.clone();
    let r = py.detach(move || detach(&s)).py_err(py)?;
    finish(py, r, None)
}

/// Moves split BTF from `old_base` onto `new_base` (a `Btf` or `BaseIndex`); the id map
/// covers old base ids and old split ids. Pass a `BaseMap(old_base, new_base)` to map
/// base ids the split BTF does not reach as well (computed once per kernel pair).
#[pyfunction]
#[pyo3(signature = (split, old_base, new_base, *, base_map=None))]
pub fn retarget_btf(
    py: Python<'_>,
    split: Py<PyBtf>,
    old_base: Option<Py<PyBtf>>,
    new_base: &Bound<'_, PyAny>,
    base_map: Option<Py<PyBaseMap>>,
) -> PyResult<PyRebaseResult> {
    let split = on_base(py, split, old_base)?;
    let (ix, b) = index_of(py, new_base)?;
    let s = split.get().inner.clone();
    let map = base_map.map(|m| m.get().inner.clone());
    let r = py.detach(move || retarget(&s, &ix, map.as_deref())).py_err(py)?;
    finish(py, r, Some(b))
}

/// The outcome of `equivalent`: truthy when equivalent, with `difference` otherwise.
#[pyclass(name = "Equivalence", module = "btfx._native", frozen)]
pub struct PyEquivalence {
    #[pyo3(get)]
    equivalent: bool,
    #[pyo3(get)]
    difference: Option<String>,
}

#[pymethods]
impl PyEquivalence {
    fn __bool__(&self) -> bool {
        self.equivalent
    }

    fn __repr__(&self) -> String {
        match &self.difference {
            None => "<btfx.Equivalence: equivalent>".into(),
            Some(d) => format!("<btfx.Equivalence: different: {d}>"),
        }
    }
}

/// Structural equivalence of two BTF graphs: own types paired one-to-one with equal
/// kinds, names and data, and references to equivalent types. With different bases both
/// sides are compared detached (base types structurally). `exact=False` compares sets of
/// structural classes of the detached graphs instead, so redundant copies of a type (e.g.
/// a module's duplicate of a vmlinux struct) do not count as a difference. With
/// `id_map` (old id → new id, e.g. from `retarget_btf`), checks instead that every own
/// type of `a` is equivalent to the `b` type it maps to (base types of `b` included),
/// declarations standing for what libbpf's dedup resolves them to (docs/rebase.md §5).
#[pyfunction]
#[pyo3(signature = (a, b, a_base=None, b_base=None, *, exact=true, id_map=None))]
#[allow(clippy::too_many_arguments)]
pub fn equivalent(
    py: Python<'_>,
    a: Py<PyBtf>,
    b: Py<PyBtf>,
    a_base: Option<Py<PyBtf>>,
    b_base: Option<Py<PyBtf>>,
    exact: bool,
    id_map: Option<Vec<u32>>,
) -> PyResult<PyEquivalence> {
    let a = on_base(py, a, a_base)?.get().inner.clone();
    let b = on_base(py, b, b_base)?.get().inner.clone();
    let e = py
        .detach(move || -> btfx_core::Result<_> {
            if let Some(map) = id_map {
                return check_id_map(&a, &b, &map);
            }
            if exact && same_base(a.base(), b.base()) {
                return Ok(core_equivalent(&a, &b));
            }
            let (da, own_a) = standalone(&a)?;
            let (db, own_b) = standalone(&b)?;
            Ok(if exact {
                core_equivalent(&da, &db)
            } else {
                equivalent_up_to_duplicates(
                    &Detached { btf: &da, own: own_a },
                    &Detached { btf: &db, own: own_b },
                )
            })
        })
        .py_err(py)?;
    Ok(PyEquivalence { equivalent: e.equivalent, difference: e.difference })
}

/// `b` as standalone BTF (detached when split) and the ids its own types got.
fn standalone(b: &Btf) -> btfx_core::Result<(Btf, Vec<u32>)> {
    if !b.is_split() {
        return Ok((Btf::from_slice(b.raw(), None)?, (1..b.type_cnt()).collect()));
    }
    let d = detach(b)?;
    let own = (b.start_id()..b.type_cnt()).map(|id| d.id_map[id as usize]).collect();
    Ok((Btf::from_slice(&d.btf, None)?, own))
}
