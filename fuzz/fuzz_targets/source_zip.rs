//! `.zip` bundles (`ZipSource`): central directory, entry names, links, sizes, CRC-32.
//!
//! Beyond "no panic" (via `diag_fuzz::check_archive`): every indexed path is safe (relative,
//! no `..`, no absolute or drive paths, no NUL); an entry that opens streams exactly its
//! indexed size or fails with an error; caps hold (`max_entries`, `max_entry_bytes`); the
//! model loads or fails with an error, the same way twice; under the time bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| diag_fuzz::check_archive("zip", data));
