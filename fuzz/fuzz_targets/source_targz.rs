//! `.tar.gz` bundles (`TarSource`, one pass at open, kept entries, re-reads of unkept ones).
//!
//! First byte even: the rest is a tar stream, gzip-compressed here (so mutations reach the
//! tar layer through a valid gzip stream); odd: the rest is the `.tar.gz` file as is (gzip
//! framing, truncation, multi-member streams). Beyond "no panic" (via
//! `diag_fuzz::check_archive`): safe paths, exact entry sizes or errors, caps, a
//! deterministic load, under the time bound.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(rest).expect("in memory");
        diag_fuzz::check_archive("tar.gz", &gz.finish().expect("in memory"));
    } else {
        diag_fuzz::check_archive("tar.gz", rest);
    }
});
