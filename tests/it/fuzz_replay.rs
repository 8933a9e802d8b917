//! Replays the checked-in fuzz corpus (fuzz/corpus/<target>/) through the
//! same checks the fuzz targets run, so every finding kept as a seed stays
//! fixed without needing cargo-fuzz or a nightly toolchain.

#[path = "../../fuzz/src/checks.rs"]
mod checks;

use std::path::PathBuf;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let name = path.display().to_string();
        std::panic::catch_unwind(|| check(&data))
            .unwrap_or_else(|_| panic!("{name} fails its check"));
        n += 1;
    }
    assert!(n > 0, "no corpus for {target}");
    println!("{target}: {n} inputs replayed");
}

#[test]
fn parse_message() {
    replay("parse_message", checks::parse_message);
}

#[test]
fn stream_split() {
    replay("stream_split", checks::stream_split);
}

#[test]
fn roundtrip() {
    replay("roundtrip", checks::roundtrip);
}

#[test]
fn typed_headers() {
    replay("typed_headers", checks::typed_headers);
}

#[test]
fn differential_rsip() {
    replay("differential_rsip", checks::differential_rsip);
}

#[test]
fn proxy_sequence() {
    replay("proxy_sequence", checks::proxy_sequence);
}
