//! btfx-core: parse, validate, write, dump and rebase Linux BTF (BPF Type Format).
//!
//! The model keeps the input blob and indexes type offsets in one pass; one per-kind
//! table ([`kind`]) says where ids and string offsets sit, and drives everything else.
//!
//! No `unsafe` except one call of an SSE2 `#[target_feature]` function (the string
//! classification of `validate::idents`, a measured hot path), allowed where it stands.
#![deny(unsafe_code)]

pub mod btf;
pub mod btf_ids;
pub mod builder;
pub mod compress;
pub mod dump;
pub mod elf;
pub mod endian;
pub mod error;
pub mod header;
pub mod index;
pub mod kind;
pub mod load;
pub mod module;
mod placement;
pub mod rebase;
pub mod retarget_module;
pub mod threads;
pub mod types;
pub mod validate;
pub mod write;

pub use btf::{Blob, Btf};
pub use endian::ByteOrder;
pub use error::{Error, Result, Section};
pub use header::Header;
pub use kind::Kind;
pub use types::TypeRef;
