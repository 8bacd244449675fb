//! A kernel module file as read from disk: compression container, ELF image, signature.

use std::borrow::Cow;

use crate::compress::{self, Compression};
use crate::error::Result;
use crate::module::signature::{split_signature, ModuleSignature};

/// A module file taken apart: how it was compressed, the ELF image (signature removed)
/// and the signature trailer, if it was signed.
///
/// kbuild signs the ELF, then compresses (`scripts/Makefile.modinst`), so the trailer is
/// inside the compressed stream; reassembling is `compress(elf + trailer, compression)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleImage<'a> {
    /// The container the file was in ([`Compression::None`] for a plain `.ko`).
    pub compression: Compression,
    /// The ELF image without the signature trailer; borrowed from the input when it was
    /// not compressed.
    pub elf: Cow<'a, [u8]>,
    /// The signature appended to the ELF, if any.
    pub signature: Option<ModuleSignature>,
}

impl<'a> ModuleImage<'a> {
    /// Decompress (by magic bytes, [`compress::decompress`]), split off the signature
    /// ([`split_signature`]) and check that what remains starts with a valid ELF header
    /// (magic, class, data encoding, version, length).
    pub fn open(file_bytes: &'a [u8]) -> Result<Self> {
        let compression = compress::detect(file_bytes);
        let (elf, signature) = match compress::decompress(file_bytes)? {
            Cow::Borrowed(plain) => {
                let (elf, sig) = split_signature(plain)?;
                (Cow::Borrowed(elf), sig)
            }
            Cow::Owned(mut plain) => {
                let (elf, sig) = split_signature(&plain)?;
                let elf_len = elf.len();
                plain.truncate(elf_len);
                (Cow::Owned(plain), sig)
            }
        };
        crate::module::layout::check_header(&elf)?;
        Ok(ModuleImage { compression, elf, signature })
    }
}
