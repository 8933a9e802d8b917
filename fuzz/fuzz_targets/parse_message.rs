#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipedge_fuzz::parse_message(data));
