#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipedge_fuzz::proxy_sequence(data));
