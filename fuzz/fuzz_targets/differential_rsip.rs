#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipedge_fuzz::differential_rsip(data));
