//! Kernel module containers: compression ([`crate::compress`]), the appended signature
//! ([`signature`]) and rewriting the contents of ELF sections ([`rewrite`]), so that a
//! module's `.BTF` / `.BTF_ids` can be replaced and the file written back.

pub mod image;
mod layout;
mod pkcs7;
pub mod rewrite;
pub mod signature;

pub use crate::compress::{compress, Compression};
pub use image::ModuleImage;
pub use rewrite::{patch_sections_in_place, replace_sections, MAX_MOVED_ALIGN};
pub use signature::{split_signature, ModuleSignature, MODULE_SIG_MAGIC};

#[cfg(test)]
mod tests;
