//! Durable appends to the outbox: events per second at batch sizes 1, 16,
//! 64 and 256 (one fdatasync per batch: group commit), next to the ceiling
//! of the same bytes appended by a bare `write` + `fdatasync` loop.
//!
//! `cargo bench --bench outbox`. Files go under `target/outbox-bench/`
//! (the disk the build uses, not a tmpfs).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sipedge::outbox::{self, Outbox};

fn event() -> Vec<u8> {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/events/examples/interaction.ended.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p).expect("example event")).unwrap();
    v.to_string().into_bytes()
}

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/outbox-bench")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn bench(c: &mut Criterion) {
    let e = event();
    eprintln!("event: {} bytes (the interaction.ended example)", e.len());
    let mut g = c.benchmark_group("outbox_append");
    g.sample_size(20);
    for batch in [1usize, 16, 64, 256] {
        let payloads: Vec<Vec<u8>> = vec![e.clone(); batch];
        g.throughput(Throughput::Elements(batch as u64));
        let d = dir(&format!("outbox-{batch}"));
        let (mut ob, _) = Outbox::open(
            &d,
            outbox::Options {
                segment_bytes: 64 << 20,
                max_bytes: 1 << 40,
            },
        )
        .unwrap();
        g.bench_with_input(BenchmarkId::new("outbox", batch), &batch, |b, _| {
            b.iter(|| {
                ob.append(&payloads).unwrap();
                // Keep the directory small: collect what is behind.
                let next = ob.next_seq();
                ob.collect(next).unwrap();
            })
        });
        // The ceiling: the same bytes, one write and one fdatasync.
        let mut raw = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            outbox::encode(i as u64 + 1, p, &mut raw);
        }
        let path = dir(&format!("raw-{batch}")).join("raw.log");
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        g.bench_with_input(BenchmarkId::new("raw_fdatasync", batch), &batch, |b, _| {
            b.iter(|| {
                f.write_all(&raw).unwrap();
                f.sync_data().unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
