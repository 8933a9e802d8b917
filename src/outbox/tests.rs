use super::*;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("sipedge-outbox-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn ev(n: u64) -> Vec<u8> {
    format!("{{\"id\":\"e{n}\",\"type\":\"sipedge.interaction.ended\",\"n\":{n}}}").into_bytes()
}

fn small() -> Options {
    Options {
        segment_bytes: 200,
        max_bytes: 1 << 20,
    }
}

fn read_all(dir: &Path, from: u64) -> Vec<(u64, Vec<u8>)> {
    Reader::new(dir, from).read(usize::MAX, u64::MAX).unwrap()
}

#[test]
fn appends_read_back_in_order_across_segments() {
    let d = Dir::new("order");
    let (mut o, rec) = Outbox::open(&d.0, small()).unwrap();
    assert_eq!(rec, Recovery::default());
    let a = o.append(&(1..=10).map(ev).collect::<Vec<_>>()).unwrap();
    assert_eq!((a.first, a.end, a.refused), (1, 11, 0));
    let b = o.append(&(11..=20).map(ev).collect::<Vec<_>>()).unwrap();
    assert_eq!((b.first, b.end), (11, 21));
    assert!(segments(&d.0).unwrap().len() > 3, "small segments rotate");
    let all = read_all(&d.0, 1);
    assert_eq!(all.len(), 20);
    for (i, (seq, p)) in all.iter().enumerate() {
        assert_eq!((*seq, p.clone()), (i as u64 + 1, ev(i as u64 + 1)));
    }
    // From the middle, and bounded by `end`.
    let mid = Reader::new(&d.0, 7).read(5, 10).unwrap();
    assert_eq!(mid.iter().map(|r| r.0).collect::<Vec<_>>(), [7, 8, 9]);
    // Reopening continues the sequence.
    drop(o);
    let (mut o, rec) = Outbox::open(&d.0, small()).unwrap();
    assert_eq!(rec.records, 20);
    assert_eq!(o.append(&[ev(21)]).unwrap().first, 21);
    assert_eq!(read_all(&d.0, 20).len(), 2);
}

#[test]
fn a_reader_waits_for_a_record_being_written() {
    let d = Dir::new("partial");
    let (mut o, _) = Outbox::open(&d.0, Options::default()).unwrap();
    o.append(&[ev(1)]).unwrap();
    let mut r = Reader::new(&d.0, 1);
    assert_eq!(r.read(10, u64::MAX).unwrap().len(), 1);
    // Half a record at the tail, as a writer mid-write leaves it.
    let mut rec = Vec::new();
    encode(2, &ev(2), &mut rec);
    let seg = segments(&d.0).unwrap()[0].1.clone();
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&rec[..rec.len() / 2]).unwrap();
    assert!(r.read(10, u64::MAX).unwrap().is_empty());
    f.write_all(&rec[rec.len() / 2..]).unwrap();
    assert_eq!(r.read(10, u64::MAX).unwrap(), [(2, ev(2))]);
}

#[test]
fn recovery_truncates_a_torn_tail_at_every_offset() {
    let d = Dir::new("torn");
    let mut whole = Vec::new();
    let mut ends = Vec::new();
    for n in 1..=3 {
        encode(n, &ev(n), &mut whole);
        ends.push(whole.len());
    }
    for cut in 0..=whole.len() {
        let _ = fs::remove_dir_all(&d.0);
        fs::create_dir_all(&d.0).unwrap();
        fs::write(d.0.join(segment_name(1)), &whole[..cut]).unwrap();
        let (mut o, rec) = Outbox::open(&d.0, Options::default()).unwrap();
        let kept = ends.iter().filter(|&&e| e <= cut).count() as u64;
        let kept_bytes = ends.iter().rfind(|&&e| e <= cut).copied().unwrap_or(0);
        assert_eq!(rec.records, kept, "cut at {cut}");
        assert_eq!(
            rec.truncated_bytes,
            (cut - kept_bytes) as u64,
            "cut at {cut}"
        );
        assert_eq!(o.next_seq(), kept + 1);
        // Appending after recovery leaves a clean log.
        o.append(&[ev(kept + 1)]).unwrap();
        let all = read_all(&d.0, 1);
        assert_eq!(all.len() as u64, kept + 1, "cut at {cut}");
    }
}

#[test]
fn a_corrupt_record_keeps_everything_before_it_and_drops_what_follows() {
    let d = Dir::new("corrupt");
    let (mut o, _) = Outbox::open(&d.0, small()).unwrap();
    o.append(&(1..=12).map(ev).collect::<Vec<_>>()).unwrap();
    drop(o);
    let segs = segments(&d.0).unwrap();
    assert!(segs.len() >= 3);
    // Flip a payload byte of the first record of the second segment.
    let (first2, path2) = &segs[1];
    let mut bytes = fs::read(path2).unwrap();
    bytes[HEADER + 3] ^= 0x20;
    fs::write(path2, &bytes).unwrap();
    let (o, rec) = Outbox::open(&d.0, small()).unwrap();
    assert_eq!(rec.records, first2 - 1);
    assert_eq!(rec.removed_segments, segs.len() - 2);
    assert_eq!(o.next_seq(), *first2);
    assert_eq!(read_all(&d.0, 1).len() as u64, first2 - 1);
}

#[test]
fn segments_every_sink_passed_are_collected() {
    let d = Dir::new("collect");
    let (mut o, _) = Outbox::open(&d.0, small()).unwrap();
    o.append(&(1..=12).map(ev).collect::<Vec<_>>()).unwrap();
    let before = segments(&d.0).unwrap();
    let size = o.size();
    assert_eq!(o.collect(1).unwrap(), 0, "nothing delivered, nothing goes");
    let second = before[1].0;
    assert_eq!(o.collect(second).unwrap(), 1);
    assert!(o.size() < size);
    assert_eq!(segments(&d.0).unwrap()[0].0, second);
    // A reader from a collected position starts at what is left.
    let r = read_all(&d.0, 1);
    assert_eq!(r[0].0, second);
    // The active segment is never collected.
    o.collect(u64::MAX).unwrap();
    assert_eq!(segments(&d.0).unwrap().len(), 1);
}

#[test]
fn a_full_outbox_refuses_new_events_and_keeps_the_old() {
    let d = Dir::new("full");
    let one = (ev(1).len() + HEADER) as u64;
    let (mut o, _) = Outbox::open(
        &d.0,
        Options {
            segment_bytes: 1 << 20,
            max_bytes: one * 3,
        },
    )
    .unwrap();
    let a = o.append(&(1..=5).map(ev).collect::<Vec<_>>()).unwrap();
    assert_eq!((a.end - a.first, a.refused), (3, 2));
    assert_eq!(read_all(&d.0, 1).len(), 3);
}

#[test]
fn cursors_survive_and_replace_atomically() {
    let d = Dir::new("cursor");
    assert_eq!(read_cursor(&d.0, "file").unwrap(), 1);
    write_cursor(&d.0, "file", 42).unwrap();
    write_cursor(&d.0, "file", 43).unwrap();
    assert_eq!(read_cursor(&d.0, "file").unwrap(), 43);
    assert!(!d.0.join("cursor-file.tmp").exists());
    fs::write(cursor_path(&d.0, "nats"), "garbage").unwrap();
    assert!(read_cursor(&d.0, "nats").is_err());
}

mod model {
    //! Random appends, acknowledgements (cursor + collection), crashes
    //! (drop and reopen) and torn tails (the last segment cut short within
    //! what no sink has acknowledged), checked against a plain list.

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Append(Vec<u8>),
        Ack(u64),
        Reopen,
        Tear(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..80).prop_map(Op::Append),
            1 => (0u64..6).prop_map(Op::Ack),
            1 => Just(Op::Reopen),
            1 => any::<u16>().prop_map(Op::Tear),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn the_outbox_behaves_like_a_list(ops in proptest::collection::vec(op(), 1..60)) {
            let d = Dir::new("model");
            let opts = Options { segment_bytes: 150, max_bytes: 1 << 20 };
            let (mut ob, _) = Outbox::open(&d.0, opts).unwrap();
            // The model: every committed record, and the cursor.
            let mut model: Vec<(u64, Vec<u8>)> = Vec::new();
            let mut cursor = 1u64;
            for op in ops {
                match op {
                    Op::Append(p) => {
                        let a = ob.append(std::slice::from_ref(&p)).unwrap();
                        prop_assert_eq!(a.refused, 0);
                        model.push((a.first, p));
                    }
                    Op::Ack(k) => {
                        let next = model.last().map_or(1, |r| r.0 + 1);
                        cursor = (cursor + k).min(next);
                        ob.collect(cursor).unwrap();
                    }
                    Op::Reopen => {
                        drop(ob);
                        ob = Outbox::open(&d.0, opts).unwrap().0;
                    }
                    Op::Tear(cut) => {
                        drop(ob);
                        let segs = segments(&d.0).unwrap();
                        let (first, path) = segs.last().unwrap().clone();
                        let len = fs::metadata(&path).unwrap().len();
                        // Offsets where the last segment's records end.
                        let mut at = 0u64;
                        let mut floor = 0u64;
                        for (seq, p) in model.iter().filter(|r| r.0 >= first) {
                            at += (HEADER + p.len()) as u64;
                            if *seq < cursor {
                                floor = at;
                            }
                        }
                        prop_assert_eq!(at, len);
                        // Only what no sink has acknowledged can be torn.
                        let keep = floor + (cut as u64) % (len - floor + 1);
                        OpenOptions::new().write(true).open(&path).unwrap().set_len(keep).unwrap();
                        let mut end = 0u64;
                        model.retain(|(seq, p)| {
                            if *seq < first {
                                return true;
                            }
                            end += (HEADER + p.len()) as u64;
                            end <= keep
                        });
                        ob = Outbox::open(&d.0, opts).unwrap().0;
                    }
                }
                // Nothing left at all means nothing survived from seq 1 on.
                prop_assert_eq!(ob.next_seq(), model.last().map_or(1, |r| r.0 + 1));
                let got: Vec<(u64, Vec<u8>)> = read_all(&d.0, cursor);
                let want: Vec<(u64, Vec<u8>)> =
                    model.iter().filter(|r| r.0 >= cursor).cloned().collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
