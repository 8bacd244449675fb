//! Name checks: `btf_name_valid_identifier` and `btf_name_valid_section`.

/// Longest accepted name, in bytes: `btf_name_valid_identifier` stops looking after
/// `KSYM_NAME_LEN` (512) characters and then requires the NUL.
pub(super) const NAME_MAX: usize = crate::kind::limits::KSYM_NAME_LEN;

// Character classes of `__btf_name_char_ok` / `isprint`.
pub(super) const C_FIRST: u8 = 1;
pub(super) const C_REST: u8 = 2;
pub(super) const C_PRINT: u8 = 4;

pub(super) static CHAR_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic();
        let digit = b.is_ascii_digit();
        let mut v = 0;
        if alpha || b == b'_' || b == b'.' {
            v |= C_FIRST | C_REST;
        }
        if digit {
            v |= C_REST;
        }
        if b >= 0x20 && b <= 0x7e {
            v |= C_PRINT;
        }
        t[c] = v;
        c += 1;
    }
    t
};

/// Per byte of a 16-byte block (byte 0 lowest in the result): `0x01` for NUL, `0x80`
/// for any other byte that is not `[A-Za-z0-9_.]`, 0 for identifier characters.
///
/// Written so that the compiler turns it into a handful of SIMD instructions; the first
/// non-zero byte is then found with `trailing_zeros`, and it is the NUL exactly when
/// the bit found is bit 0 of its byte.
#[inline(never)]
pub(super) fn codes16(b: &[u8; 16]) -> u128 {
    let mut out = [0u8; 16];
    for (o, &c) in out.iter_mut().zip(b) {
        let ok = ((c | 0x20).wrapping_sub(b'a') < 26)
            | (c.wrapping_sub(b'0') < 10)
            | (c == b'_')
            | (c == b'.');
        let m_bad = u8::from(ok).wrapping_sub(1);
        let m_nul = 0u8.wrapping_sub(u8::from(c == 0));
        *o = (m_bad & 0x80) ^ (m_nul & 0x81);
    }
    u128::from_le_bytes(out)
}

/// `btf_name_valid_identifier`: `[A-Za-z_.][A-Za-z0-9_.]*`, at most [`NAME_MAX`] bytes.
/// `s` runs from the name to the end of its string section (NUL-terminated by S1).
#[inline(always)]
pub(super) fn is_ident(s: &[u8]) -> bool {
    let Some(&first) = s.first() else {
        return false;
    };
    if CHAR_CLASS[first as usize] & C_FIRST == 0 {
        return false;
    }
    if let Some(block) = s.first_chunk::<16>() {
        let w = codes16(block);
        if w != 0 {
            // Byte 0 is an identifier character, so the name is 1-15 bytes long.
            return w.trailing_zeros() & 7 == 0;
        }
        return is_ident_long(s);
    }
    is_ident_tail(s, 0)
}

/// [`is_ident`] for names of 16 bytes or more (the first 16 are identifier characters).
#[cold]
fn is_ident_long(s: &[u8]) -> bool {
    let mut pos = 16usize;
    while let Some(block) = s.get(pos..).and_then(|r| r.first_chunk::<16>()) {
        let w = codes16(block);
        if w != 0 {
            let tz = w.trailing_zeros();
            return tz & 7 == 0 && pos + (tz / 8) as usize <= NAME_MAX;
        }
        if pos + 16 > NAME_MAX {
            return false;
        }
        pos += 16;
    }
    is_ident_tail(s, pos)
}

/// The bytes of `s` from `pos` on (fewer than 16, near the end of the section).
#[cold]
fn is_ident_tail(s: &[u8], pos: usize) -> bool {
    let rest = s.get(pos..).unwrap_or(&[]);
    for (i, &c) in rest.iter().enumerate() {
        if c == 0 {
            return pos + i <= NAME_MAX;
        }
        if CHAR_CLASS[c as usize] & C_REST == 0 {
            return false;
        }
    }
    s.len() <= NAME_MAX
}

/// `btf_name_valid_section`: non-empty, printable ASCII, at most [`NAME_MAX`] bytes.
pub(super) fn is_section_name(s: &[u8]) -> bool {
    match s.first() {
        None | Some(0) => return false,
        Some(_) => {}
    }
    for (i, &c) in s.iter().enumerate() {
        if c == 0 {
            return true;
        }
        if i >= NAME_MAX || CHAR_CLASS[c as usize] & C_PRINT == 0 {
            return false;
        }
    }
    s.len() <= NAME_MAX
}
