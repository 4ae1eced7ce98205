//! End-to-end ratios (filled in below).
fn main() {}
