//! Plain `.tar` bundles (`TarSource`, random access): headers, long names, links, sizes.
//!
//! Beyond "no panic" (via `diag_fuzz::check_archive`): every indexed path is safe (relative,
//! no `..`, no absolute paths, links resolved inside the archive or refused); an entry that
//! opens streams exactly its indexed size or fails with an error; caps hold; the model loads
//! or fails with an error, the same way twice; under the time bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| diag_fuzz::check_archive("tar", data));
