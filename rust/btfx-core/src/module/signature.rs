//! The signature trailer of a signed kernel module.
//!
//! `scripts/sign-file` appends, after the ELF image:
//!
//! ```text
//! [ signer's name ][ key id ][ signature ][ struct module_signature ][ "~Module signature appended~\n" ]
//! ```
//!
//! `struct module_signature` (include/linux/module_signature.h) is 12 bytes: `algo`, `hash`,
//! `id_type`, `signer_len`, `key_id_len`, 3 pad bytes, then `sig_len` big-endian. PKCS#7
//! signatures (`id_type` 2, the only kind the kernel accepts) have `signer_len` and
//! `key_id_len` 0: signer and key id live inside the PKCS#7 message.

use crate::error::{Error, Result};
use crate::module::pkcs7;

/// The magic string that ends a signed module (`MODULE_SIG_STRING`).
pub const MODULE_SIG_MAGIC: &[u8] = b"~Module signature appended~\n";
/// Size of `struct module_signature`.
pub const MODULE_SIGNATURE_SIZE: usize = 12;
/// `id_type` of a PKCS#7 signature (`PKEY_ID_PKCS7`).
pub const PKEY_ID_PKCS7: u8 = 2;

/// A module signature: the trailer appended after the ELF image and its decoded
/// `struct module_signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSignature {
    /// Everything appended after the ELF image: signer, key id, signature,
    /// `struct module_signature` and the magic.
    pub trailer: Vec<u8>,
    /// `id_type` (2: PKCS#7).
    pub id_type: u8,
    /// `algo` (0 for PKCS#7).
    pub algo: u8,
    /// `hash` (0 for PKCS#7).
    pub hash: u8,
    /// `sig_len`: length of the signature data.
    pub sig_len: u32,
    /// Signer's name: the `signer_len` bytes before the key id, or for PKCS#7 the
    /// common name of the first signer's issuer (as kmod's `fill_pkcs7` shows it);
    /// empty when absent or unreadable.
    pub signer: String,
}

/// Split a decompressed module into its ELF bytes and its signature, if it has one.
///
/// A module is signed when it ends with [`MODULE_SIG_MAGIC`] (kernel `module_sig_check`).
/// The trailer must then be well formed, as the kernel's `mod_verify_sig` and
/// `mod_check_sig` require: room for `struct module_signature`, a non-zero `sig_len`,
/// and signer + key id + signature strictly shorter than what precedes the struct
/// (so at least one byte of module remains). Otherwise [`Error::Elf`] names the offset of
/// the struct. Any `id_type` is accepted (kmod's layout is used for all of them).
pub fn split_signature(data: &[u8]) -> Result<(&[u8], Option<ModuleSignature>)> {
    let Some(before_magic) = data.strip_suffix(MODULE_SIG_MAGIC) else {
        return Ok((data, None));
    };
    let bad = |offset: usize, message: String| Error::Elf {
        message: format!("module signature: {message}"),
        section: None,
        offset: Some(offset as u64),
    };
    let rest = before_magic.len();
    // mod_verify_sig(): "modlen <= sizeof(ms)" is -EBADMSG.
    if rest <= MODULE_SIGNATURE_SIZE {
        return Err(bad(0, format!("only {rest} bytes before the magic")));
    }
    let ms_at = rest - MODULE_SIGNATURE_SIZE;
    let ms = before_magic.get(ms_at..).ok_or_else(|| bad(ms_at, "truncated".into()))?;
    let [algo, hash, id_type, signer_len, key_id_len, _, _, _, s0, s1, s2, s3] = *ms else {
        return Err(bad(ms_at, "truncated struct module_signature".into()));
    };
    let sig_len = u32::from_be_bytes([s0, s1, s2, s3]);
    if sig_len == 0 {
        return Err(bad(ms_at, "sig_len is 0".into()));
    }
    // mod_check_sig(): sig_len must be below the bytes before the struct; kmod also counts
    // the signer and key id in front of the signature.
    let total = u64::from(sig_len) + u64::from(signer_len) + u64::from(key_id_len);
    if total >= ms_at as u64 {
        return Err(bad(
            ms_at,
            format!(
                "signer ({signer_len}) + key id ({key_id_len}) + signature ({sig_len}) bytes \
                 leave no module before offset {ms_at:#x}"
            ),
        ));
    }
    let elf_len = ms_at - total as usize;
    let sig_at = ms_at - sig_len as usize;
    let signer_bytes = data.get(elf_len..elf_len + usize::from(signer_len)).unwrap_or_default();
    let signer = if !signer_bytes.is_empty() {
        String::from_utf8_lossy(signer_bytes).into_owned()
    } else if id_type == PKEY_ID_PKCS7 {
        let sig = data.get(sig_at..ms_at).unwrap_or_default();
        pkcs7::issuer_common_name(sig).unwrap_or_default()
    } else {
        String::new()
    };
    let (elf, trailer) = data.split_at(elf_len);
    Ok((
        elf,
        Some(ModuleSignature { trailer: trailer.to_vec(), id_type, algo, hash, sig_len, signer }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trailer(sig: &[u8], signer: &[u8], key_id: &[u8], id_type: u8) -> Vec<u8> {
        let mut t = [signer, key_id, sig].concat();
        t.extend_from_slice(&[0, 0, id_type, signer.len() as u8, key_id.len() as u8, 0, 0, 0]);
        t.extend_from_slice(&(sig.len() as u32).to_be_bytes());
        t.extend_from_slice(MODULE_SIG_MAGIC);
        t
    }

    #[test]
    fn unsigned_is_untouched() {
        let data = b"\x7fELF not signed";
        let (elf, sig) = split_signature(data).unwrap();
        assert_eq!(elf, data);
        assert!(sig.is_none());
        assert!(split_signature(b"").unwrap().1.is_none());
    }

    #[test]
    fn splits_pkcs7_and_legacy_layouts() {
        let module = b"\x7fELF module body".to_vec();
        for (signer, key_id, id_type) in [(&b""[..], &b""[..], 2u8), (b"Build key", b"\x01\x02", 1)]
        {
            let t = trailer(b"SIGNATURE", signer, key_id, id_type);
            let data = [module.clone(), t.clone()].concat();
            let (elf, sig) = split_signature(&data).unwrap();
            let sig = sig.unwrap();
            assert_eq!(elf, &module[..]);
            assert_eq!(sig.trailer, t);
            assert_eq!((sig.id_type, sig.sig_len), (id_type, 9));
            assert_eq!(sig.signer.as_bytes(), signer);
        }
    }

    #[test]
    fn malformed_trailers_are_errors() {
        let module = b"\x7fELF module body".to_vec();
        let good = [module.clone(), trailer(b"SIG", b"", b"", 2)].concat();
        // Magic with too little before it.
        assert!(split_signature(&good[good.len() - 30..]).is_err());
        // sig_len reaching the start of the file, and sig_len 0.
        for sig_len in [u32::MAX, (good.len() - 40) as u32, 0] {
            let mut bad = good.clone();
            let at = bad.len() - MODULE_SIG_MAGIC.len() - 4;
            bad[at..at + 4].copy_from_slice(&sig_len.to_be_bytes());
            let e = split_signature(&bad).unwrap_err();
            assert!(matches!(e, Error::Elf { offset: Some(_), .. }), "{e:?}");
        }
    }
}
