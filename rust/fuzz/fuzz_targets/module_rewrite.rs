//! Any input as a module file: open it (decompress, split the signature, check the ELF
//! header) and replace sections of it, same size and resized. Nothing may panic; a
//! successful rewrite must hold the new bytes, and replacing them back must succeed.
#![no_main]

use btfx_core::module::{patch_sections_in_place, replace_sections, ModuleImage};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 4] = [".BTF", ".BTF_ids", ".text", ".data"];

fuzz_target!(|data: &[u8]| {
    // The first byte picks a section and a size change; the rest is the file.
    let Some((&pick, file)) = data.split_first() else { return };
    let name = NAMES[usize::from(pick & 3)];
    let _ = ModuleImage::open(file);
    let elf = match ModuleImage::open(file) {
        Ok(m) => m.elf.into_owned(),
        Err(_) => file.to_vec(),
    };
    let Some(old) = btfx_core::elf::section_by_name(&elf, name)
        .ok()
        .flatten()
        .and_then(|s| s.data(&elf).ok().map(<[u8]>::to_vec))
    else {
        let _ = replace_sections(&elf, &[(name, &[1, 2, 3])]);
        return;
    };
    let delta = usize::from(pick >> 2);
    for new_len in [old.len(), old.len() + delta, old.len().saturating_sub(delta)] {
        let new = vec![0xA5u8; new_len];
        if let Ok(out) = replace_sections(&elf, &[(name, &new)]) {
            let again = replace_sections(&out, &[(name, &old)]);
            if new_len == old.len() {
                assert_eq!(out.len(), elf.len());
                let mut copy = elf.clone();
                patch_sections_in_place(&mut copy, &[(name, &new)]).expect("same-size patch");
                assert_eq!(copy, out);
                assert_eq!(again.expect("patch back"), elf);
            }
        }
    }
});
