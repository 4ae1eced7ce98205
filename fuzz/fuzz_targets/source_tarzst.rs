//! `.tar.zst` bundles (`TarSource` over diag_core's zstd frame reader, one pass at open).
//!
//! First byte even: the rest is a tar stream, zstd-compressed here (mutations reach the tar
//! layer); odd: the rest is the `.tar.zst` file as is (frame headers, skippable frames,
//! truncation, bad checksums). Beyond "no panic" (via `diag_fuzz::check_archive`): safe
//! paths, exact entry sizes or errors, caps, a deterministic load, under the time bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let packed =
            ruzstd::encoding::compress_to_vec(rest, ruzstd::encoding::CompressionLevel::Fastest);
        diag_fuzz::check_archive("tar.zst", &packed);
    } else {
        diag_fuzz::check_archive("tar.zst", rest);
    }
});
