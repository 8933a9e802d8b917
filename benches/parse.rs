//! Parser throughput on realistic messages (benches/corpus/), side by side
//! with rsip 0.4 (the Rust SIP crate most projects reach for) and httparse
//! (a ceiling: an HTTP/1 header parser given the same header bytes).
//!
//! `cargo bench --bench parse`. Every implementation parses exactly the
//! same messages; a message rsip refuses is left out for all of them.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::*;

fn bench(c: &mut Criterion) {
    let all = corpus();
    let (corpus, refused): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|(_, b)| rsip_typed(b).is_ok());
    for (name, _) in &refused {
        eprintln!("note: rsip refuses {name}; left out of every comparison");
    }
    let bytes: usize = corpus.iter().map(|(_, b)| b.len()).sum();
    let http: Vec<Vec<u8>> = corpus.iter().map(|(_, b)| as_http(b)).collect();
    let http_bytes: usize = http.iter().map(Vec::len).sum();
    eprintln!(
        "corpus: {} messages, {bytes} bytes ({http_bytes} bytes in HTTP form)",
        corpus.len()
    );

    let mut g = c.benchmark_group("corpus");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("sipedge/index", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|(_, m)| sipedge_index(black_box(m)))
                .sum::<usize>()
        })
    });
    g.bench_function("sipedge/index+typed", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|(_, m)| sipedge_typed(black_box(m)))
                .sum::<usize>()
        })
    });
    g.bench_function("rsip/message", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|(_, m)| rsip_message(black_box(m)))
                .sum::<usize>()
        })
    });
    g.bench_function("rsip/message+typed", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|(_, m)| rsip_typed(black_box(m)).unwrap())
                .sum::<usize>()
        })
    });
    g.bench_function("httparse/headers", |b| {
        b.iter(|| {
            http.iter()
                .map(|m| httparse_headers(black_box(m)))
                .sum::<usize>()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("message");
    for (name, m) in corpus
        .iter()
        .filter(|(n, _)| n.starts_with("02-") || n.starts_with("04-"))
    {
        g.throughput(Throughput::Bytes(m.len() as u64));
        g.bench_function(format!("sipedge/index+typed/{name}"), |b| {
            b.iter(|| sipedge_typed(black_box(m)))
        });
        g.bench_function(format!("rsip/message+typed/{name}"), |b| {
            b.iter(|| rsip_typed(black_box(m)).unwrap())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
