//! Parser throughput on realistic messages (benches/corpus/), side by side
//! with rsip 0.4 (the Rust SIP crate most projects reach for) and httparse
//! (a ceiling: an HTTP/1 header parser given the same header bytes).
//!
//! `cargo bench --bench parse`. Every implementation parses exactly the
//! same messages; a message rsip refuses is left out for all of them.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rsip::prelude::*;
use sipedge::sip::{self, Framing, Limits};

fn corpus() -> Vec<(String, Bytes)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("benches/corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, Bytes::from(std::fs::read(&p).unwrap()))
        })
        .collect()
}

fn sipedge_index(b: &Bytes) -> usize {
    let m = sip::parse_with(b.clone(), Framing::Datagram, &Limits::DEFAULT).unwrap();
    m.header_count()
}

fn sipedge_typed(b: &Bytes) -> usize {
    let m = sip::parse_with(b.clone(), Framing::Datagram, &Limits::DEFAULT).unwrap();
    let via = m.top_via().unwrap();
    let from = m.from_header().unwrap();
    let to = m.to_header().unwrap();
    let call_id = m.call_id();
    let cseq = m.cseq();
    via.branch.map_or(0, <[u8]>::len)
        + from.tag().map_or(0, <[u8]>::len)
        + to.uri.raw.len()
        + call_id.len()
        + cseq.seq as usize
}

fn rsip_message(b: &[u8]) -> usize {
    let m = rsip::SipMessage::try_from(b).unwrap();
    m.headers().iter().count()
}

fn rsip_typed(b: &[u8]) -> Result<usize, rsip::Error> {
    let m = rsip::SipMessage::try_from(b)?;
    let via = m.via_header()?.typed()?;
    let from = m.from_header()?.typed()?;
    let to = m.to_header()?.typed()?;
    let call_id = m.call_id_header()?.value().len();
    let cseq = m.cseq_header()?.typed()?;
    Ok(via.params.len() + from.params.len() + to.params.len() + call_id + cseq.seq as usize)
}

/// The same header bytes with the SIP start line swapped for an HTTP/1.1
/// one, so httparse can read them.
fn as_http(b: &[u8]) -> Vec<u8> {
    let nl = b.iter().position(|&c| c == b'\n').unwrap();
    let header_end = b.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let start = if b.starts_with(b"SIP/2.0 ") {
        &b"HTTP/1.1 200 OK\r\n"[..]
    } else {
        &b"GET / HTTP/1.1\r\n"[..]
    };
    let mut out = start.to_vec();
    out.extend_from_slice(&b[nl + 1..header_end]);
    out
}

fn httparse_headers(b: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    if b.starts_with(b"HTTP/") {
        let mut r = httparse::Response::new(&mut headers);
        r.parse(b).unwrap();
        r.headers.len()
    } else {
        let mut r = httparse::Request::new(&mut headers);
        r.parse(b).unwrap();
        r.headers.len()
    }
}

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
