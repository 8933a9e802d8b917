//! Proves the index pass allocates nothing: a counting global allocator
//! (per thread, so other tests running in parallel do not disturb it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use sipedge::sip::{self, Framing, Limits};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        // SAFETY: forwarding the caller's contract to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (r, ALLOCS.with(Cell::get) - before)
}

#[test]
fn the_counter_counts() {
    let (v, n) = allocations(|| vec![1u8; 64]);
    assert_eq!(v.len(), 64);
    assert!(n >= 1, "a Vec allocation was not counted");
}

#[test]
fn indexing_and_base_typed_views_allocate_nothing() {
    for (name, data) in super::support::corpus() {
        // Bytes::from(Vec) may allocate its shared header lazily; build every
        // buffer before counting.
        let buf = Bytes::from(data);
        // The first clone of a Vec-backed Bytes promotes it to a shared
        // buffer (one allocation); transports hand the parser such clones.
        drop(buf.clone());
        let (ok, n) = allocations(|| {
            let m = sip::parse_with(buf.clone(), Framing::Datagram, &Limits::DEFAULT).unwrap();
            let via = m.top_via().unwrap();
            let from = m.from_header().unwrap();
            let to = m.to_header().unwrap();
            let cseq = m.cseq();
            let call_id = m.call_id();
            via.branch.is_some()
                && from.tag().is_some()
                && !call_id.is_empty()
                && cseq.seq > 0
                && to.uri.raw.len() > 4
        });
        assert!(ok, "{name}: unexpected content");
        assert_eq!(
            n, 0,
            "{name}: parse + typed Via/From/To/Call-ID/CSeq allocated {n} times"
        );
        let (_, n) = allocations(|| {
            sip::parse_with(buf.clone(), Framing::Stream, &Limits::DEFAULT).unwrap()
        });
        assert_eq!(n, 0, "{name}: stream parse allocated");
    }
}
