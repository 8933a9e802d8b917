//! What benches/parse.rs (criterion, wall clock) and benches/parse_instr.rs
//! (callgrind, instructions) share: the corpus and the same work for each
//! implementation.
#![allow(dead_code)]

use bytes::Bytes;
use rsip::prelude::*;
use sipedge::sip::{self, Framing, Limits};

pub fn corpus() -> Vec<(String, Bytes)> {
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

pub fn sipedge_index(b: &Bytes) -> usize {
    let m = sip::parse_with(b.clone(), Framing::Datagram, &Limits::DEFAULT).unwrap();
    m.header_count()
}

pub fn sipedge_typed(b: &Bytes) -> usize {
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

pub fn rsip_message(b: &[u8]) -> usize {
    let m = rsip::SipMessage::try_from(b).unwrap();
    m.headers().iter().count()
}

pub fn rsip_typed(b: &[u8]) -> Result<usize, rsip::Error> {
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
pub fn as_http(b: &[u8]) -> Vec<u8> {
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

pub fn httparse_headers(b: &[u8]) -> usize {
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
