//! The call core alone: interactions per second (INVITE → 180 → 200 → ACK
//! → BYE → 200 per interaction, messages parsed beforehand) and the memory
//! one live (answered) dialog holds, counted by a global allocator at
//! 50,000 live dialogs.
//!
//! `cargo bench --bench call`. The memory figure is printed before the
//! criterion run (`memory: ... bytes per live dialog`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sipedge::call::{AgentPeer, CallConfig, Calls};
use sipedge::config::{Side, TransportKind};
use sipedge::sip::{self, Message};

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// One interaction's messages as the proxy would hand them over.
struct Script {
    invite: Message,
    ringing: Message,
    ok: Message,
    ack: Message,
    bye: Message,
    bye_ok: Message,
}

fn parse(s: String) -> Message {
    sip::parse(Bytes::from(s.replace('\n', "\r\n"))).expect("bench message parses")
}

fn script(n: usize) -> Script {
    let via = format!("Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK{n}a;rport\n");
    let head =
        format!("From: \"Agent\" <sip:1001@pbx.example.com>;tag=ph{n}\nCall-ID: bench-{n}@phone\n");
    let rr = "Record-Route: <sip:f1x01234567@127.0.0.1:5060;transport=udp;lr>\n";
    let sdp = "v=0\r\no=- 1 1 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let resp = |code: u16, reason: &str, cseq: &str, extra: &str| {
        parse(format!(
            "SIP/2.0 {code} {reason}\n{via}{head}To: <sip:1002@pbx.example.com>;tag=pbx{n}\nCSeq: {cseq}\n{extra}Content-Length: 0\n\n"
        ))
    };
    let in_dialog = |method: &str, cseq: u32| {
        parse(format!(
            "{method} sip:1002@127.0.0.9:5080 SIP/2.0\n{via}Max-Forwards: 70\n{head}To: <sip:1002@pbx.example.com>;tag=pbx{n}\nCSeq: {cseq} {method}\nContent-Length: 0\n\n"
        ))
    };
    Script {
        invite: parse(format!(
            "INVITE sip:1002@pbx.example.com SIP/2.0\n{via}Max-Forwards: 70\n{head}To: <sip:1002@pbx.example.com>\nCSeq: 1 INVITE\nContact: <sip:1001@192.168.1.20:5060>\nUser-Agent: Yealink SIP-T46S\nContent-Type: application/sdp\nContent-Length: {}\n\n{sdp}",
            sdp.len()
        )),
        ringing: resp(180, "Ringing", "1 INVITE", rr),
        ok: resp(
            200,
            "OK",
            "1 INVITE",
            &format!(
                "{rr}Contact: <sip:1002@127.0.0.9:5080>\nSession-Expires: 1800;refresher=uac\n"
            ),
        ),
        ack: in_dialog("ACK", 1),
        bye: in_dialog("BYE", 2),
        bye_ok: resp(200, "OK", "2 BYE", ""),
    }
}

fn config() -> CallConfig {
    CallConfig {
        listeners: vec![(TransportKind::Udp, "127.0.0.1:5060".parse().unwrap())],
        ..CallConfig::default()
    }
}

fn peer() -> AgentPeer {
    AgentPeer {
        flow: 1,
        transport: Some(TransportKind::Udp),
        aor: Some("sip:1001@pbx.example.com".into()),
        user_agent: Some("Yealink SIP-T46S".into()),
    }
}

/// Feeds the call up to ACK: a live, answered dialog.
fn answer(calls: &mut Calls, now: Instant, s: &Script, peer: &AgentPeer) {
    calls.on_request(now, &s.invite, Side::Access, 1, Some(peer));
    calls.on_response(now, &s.ringing, Side::Core);
    calls.on_response(now, &s.ok, Side::Core);
    calls.on_request(now, &s.ack, Side::Access, 1, None);
}

fn memory_per_dialog() {
    const N: usize = 50_000;
    let scripts: Vec<Script> = (0..N).map(script).collect();
    let peer = peer();
    let now = Instant::now();
    let mut calls = Calls::new(config(), now, 1_795_428_000_000);
    // Drop the events as they come, as the driver does.
    let before = LIVE.load(Ordering::Relaxed);
    let blocks = BLOCKS.load(Ordering::Relaxed);
    for s in &scripts {
        answer(&mut calls, now, s, &peer);
        while calls.poll_action().is_some() {}
    }
    let after = LIVE.load(Ordering::Relaxed);
    let blocks = BLOCKS.load(Ordering::Relaxed) - blocks;
    assert_eq!(calls.live_count(), N);
    println!(
        "memory: {N} live dialogs hold {} bytes: {} bytes per live dialog in {:.1} heap blocks (allocator overhead not included)",
        after - before,
        (after - before) / N as isize,
        blocks as f64 / N as f64
    );
    black_box(&calls);
}

fn bench(c: &mut Criterion) {
    memory_per_dialog();
    let peer = peer();
    let scripts: Vec<Script> = (0..20_000).map(script).collect();
    let mut g = c.benchmark_group("call_core");
    g.throughput(Throughput::Elements(1));
    g.bench_function("interaction (INVITE..BYE 200)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let n = left.min(scripts.len());
                let start = Instant::now();
                let mut calls = Calls::new(config(), start, 1_795_428_000_000);
                for s in &scripts[..n] {
                    answer(&mut calls, start, s, &peer);
                    calls.on_request(start, &s.bye, Side::Access, 1, None);
                    calls.on_response(start, &s.bye_ok, Side::Core);
                    while let Some(a) = calls.poll_action() {
                        black_box(a);
                    }
                }
                total += start.elapsed();
                drop(calls);
                left -= n;
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
