//! `btf[id]`: a typed view of one type, read on demand from the shared core object.

use std::sync::Arc;

use btfx_core::{Btf, Kind, TypeRef};
use pyo3::prelude::*;

/// One BTF type. Attributes that do not apply to its kind are `None`.
#[pyclass(name = "Type", module = "btfx._native", frozen)]
pub struct PyType {
    btf: Arc<Btf>,
    id: u32,
}

/// A STRUCT/UNION member.
#[pyclass(name = "Member", module = "btfx._native", frozen, get_all)]
pub struct PyMember {
    name: String,
    #[pyo3(name = "type")]
    type_id: u32,
    bits_offset: u32,
    bitfield_size: u32,
}

/// An ENUM/ENUM64 enumerator (`value` is signed when the enum is).
#[pyclass(name = "EnumValue", module = "btfx._native", frozen, get_all)]
pub struct PyEnumValue {
    name: String,
    value: i128,
}

/// A FUNC_PROTO parameter (`type` 0 with an empty name is a vararg).
#[pyclass(name = "Param", module = "btfx._native", frozen, get_all)]
pub struct PyParam {
    name: String,
    #[pyo3(name = "type")]
    type_id: u32,
}

/// A DATASEC entry.
#[pyclass(name = "VarSecinfo", module = "btfx._native", frozen, get_all)]
pub struct PyVarSecinfo {
    #[pyo3(name = "type")]
    type_id: u32,
    offset: u32,
    size: u32,
}

macro_rules! repr_impl {
    ($ty:ty, $fmt:expr, $($f:ident),*) => {
        #[pymethods]
        impl $ty {
            fn __repr__(&self) -> String {
                format!($fmt, $(self.$f),*)
            }
        }
    };
}
repr_impl!(
    PyMember,
    "Member(name={:?}, type={}, bits_offset={}, bitfield_size={})",
    name,
    type_id,
    bits_offset,
    bitfield_size
);
repr_impl!(PyEnumValue, "EnumValue(name={:?}, value={})", name, value);
repr_impl!(PyParam, "Param(name={:?}, type={})", name, type_id);
repr_impl!(PyVarSecinfo, "VarSecinfo(type={}, offset={}, size={})", type_id, offset, size);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl PyType {
    pub fn new(btf: Arc<Btf>, id: u32) -> Self {
        PyType { btf, id }
    }

    fn with<R>(&self, f: impl FnOnce(TypeRef<'_>) -> R) -> Option<R> {
        self.btf.type_by_id(self.id).map(f)
    }

    fn kind_enum(&self) -> Option<Kind> {
        self.with(|t| t.kind()).flatten()
    }

    fn is(&self, kinds: &[Kind]) -> bool {
        self.kind_enum().is_some_and(|k| kinds.contains(&k))
    }

    fn name_of(&self, off: u32) -> String {
        text(self.btf.str_at(off).unwrap_or(b""))
    }
}

#[pymethods]
impl PyType {
    #[getter]
    fn id(&self) -> u32 {
        self.id
    }

    /// Kind name as bpftool prints it ("STRUCT", "INT", ...; "VOID" for id 0).
    #[getter]
    fn kind(&self) -> &'static str {
        self.with(|t| t.kind_name()).unwrap_or("VOID")
    }

    /// Name ("" when anonymous).
    #[getter]
    fn name(&self) -> String {
        self.with(|t| text(t.name())).unwrap_or_default()
    }

    #[getter]
    fn name_off(&self) -> u32 {
        self.with(|t| t.name_off()).unwrap_or(0)
    }

    #[getter]
    fn kind_flag(&self) -> bool {
        self.with(|t| t.kflag()).unwrap_or(false)
    }

    #[getter]
    fn vlen(&self) -> u32 {
        self.with(|t| t.vlen()).unwrap_or(0)
    }

    /// Byte size for INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT.
    #[getter]
    fn size(&self) -> Option<u32> {
        self.with(|t| t.size()).flatten()
    }

    /// Referenced type id for PTR, TYPEDEF, modifiers, FUNC, FUNC_PROTO (return type),
    /// VAR, DECL_TAG, TYPE_TAG, FWD; the element type for ARRAY.
    #[getter]
    #[pyo3(name = "type")]
    fn type_id(&self) -> Option<u32> {
        self.with(|t| match t.kind() {
            Some(Kind::Array) => Some(t.array().elem_type),
            _ => t.type_id(),
        })
        .flatten()
    }

    /// INT: number of bits, bit offset, and encoding ("SIGNED", "CHAR", "BOOL" or "(none)").
    #[getter]
    fn bits(&self) -> Option<u32> {
        self.is(&[Kind::Int]).then(|| self.with(|t| t.int_bits())).flatten()
    }

    #[getter]
    fn bits_offset(&self) -> Option<u32> {
        self.is(&[Kind::Int]).then(|| self.with(|t| t.int_offset())).flatten()
    }

    #[getter]
    fn encoding(&self) -> Option<&'static str> {
        if self.is(&[Kind::Int]) {
            return self.with(|t| match t.int_encoding() {
                1 => "SIGNED",
                2 => "CHAR",
                4 => "BOOL",
                0 => "(none)",
                _ => "UNKN",
            });
        }
        if self.is(&[Kind::Enum, Kind::Enum64]) {
            return self.with(|t| if t.kflag() { "SIGNED" } else { "UNSIGNED" });
        }
        None
    }

    /// ARRAY: index type id and element count.
    #[getter]
    fn index_type(&self) -> Option<u32> {
        self.is(&[Kind::Array]).then(|| self.with(|t| t.array().index_type)).flatten()
    }

    #[getter]
    fn nelems(&self) -> Option<u32> {
        self.is(&[Kind::Array]).then(|| self.with(|t| t.array().nelems)).flatten()
    }

    #[getter]
    fn members(&self) -> Option<Vec<PyMember>> {
        if !self.is(&[Kind::Struct, Kind::Union]) {
            return None;
        }
        self.with(|t| {
            t.members()
                .map(|m| PyMember {
                    name: self.name_of(m.name_off),
                    type_id: m.type_id,
                    bits_offset: m.bit_offset(),
                    bitfield_size: m.bitfield_size(),
                })
                .collect()
        })
    }

    #[getter]
    fn values(&self) -> Option<Vec<PyEnumValue>> {
        let is64 = self.is(&[Kind::Enum64]);
        if !is64 && !self.is(&[Kind::Enum]) {
            return None;
        }
        self.with(|t| {
            let signed = t.kflag();
            t.enum_values()
                .map(|v| {
                    let value = match (is64, signed) {
                        (false, false) => i128::from(v.lo),
                        (false, true) => i128::from(v.lo as i32),
                        (true, false) => i128::from(u64::from(v.hi) << 32 | u64::from(v.lo)),
                        (true, true) => {
                            i128::from((u64::from(v.hi) << 32 | u64::from(v.lo)) as i64)
                        }
                    };
                    PyEnumValue { name: self.name_of(v.name_off), value }
                })
                .collect()
        })
    }

    #[getter]
    fn params(&self) -> Option<Vec<PyParam>> {
        if !self.is(&[Kind::FuncProto]) {
            return None;
        }
        self.with(|t| {
            t.params()
                .map(|p| PyParam { name: self.name_of(p.name_off), type_id: p.type_id })
                .collect()
        })
    }

    /// DATASEC entries.
    #[getter]
    fn vars(&self) -> Option<Vec<PyVarSecinfo>> {
        if !self.is(&[Kind::Datasec]) {
            return None;
        }
        self.with(|t| {
            t.secinfos()
                .map(|v| PyVarSecinfo { type_id: v.type_id, offset: v.offset, size: v.size })
                .collect()
        })
    }

    /// FUNC: "static", "global" or "extern"; VAR: "static", "global-alloc", "global-extern".
    #[getter]
    fn linkage(&self) -> Option<&'static str> {
        match self.kind_enum()? {
            Kind::Func => self.with(|t| match t.vlen() {
                0 => "static",
                1 => "global",
                2 => "extern",
                _ => "(unknown)",
            }),
            Kind::Var => self.with(|t| match t.var_linkage() {
                0 => "static",
                1 => "global-alloc",
                2 => "global-extern",
                _ => "(unknown)",
            }),
            _ => None,
        }
    }

    /// FWD: "struct" or "union".
    #[getter]
    fn fwd_kind(&self) -> Option<&'static str> {
        self.is(&[Kind::Fwd])
            .then(|| self.with(|t| if t.kflag() { "union" } else { "struct" }))
            .flatten()
    }

    /// DECL_TAG: the member/param index, or -1 for the type itself.
    #[getter]
    fn component_idx(&self) -> Option<i32> {
        self.is(&[Kind::DeclTag]).then(|| self.with(|t| t.component_idx())).flatten()
    }

    fn __repr__(&self) -> String {
        let name = self.name();
        format!(
            "<btfx.Type [{}] {} '{}'>",
            self.id,
            self.kind(),
            if name.is_empty() { "(anon)" } else { &name }
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .downcast::<PyType>()
            .map(|o| Arc::ptr_eq(&self.btf, &o.get().btf) && self.id == o.get().id)
            .unwrap_or(false)
    }

    fn __hash__(&self) -> u64 {
        u64::from(self.id) ^ (Arc::as_ptr(&self.btf) as *const u8 as u64)
    }
}
