//! Instructions per corpus pass, for benches/parse_instructions.sh: runs one
//! implementation over the corpus a given number of times so that callgrind
//! can count it. Instruction counts do not move with a noisy machine; wall
//! clock (benches/parse.rs) does.
//!
//! `parse_instr IMPL ROUNDS` with IMPL one of sipedge-index, sipedge-typed,
//! rsip-message, rsip-typed, httparse. Under `cargo bench` (no IMPL) it only
//! checks that every implementation runs.

use std::hint::black_box;

mod common;
use common::*;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let corpus = corpus();
    let http: Vec<Vec<u8>> = corpus.iter().map(|(_, b)| as_http(b)).collect();
    let run = |imp: &str, rounds: usize| -> usize {
        let mut sum = 0;
        for _ in 0..rounds {
            sum += match imp {
                "sipedge-index" => corpus
                    .iter()
                    .map(|(_, m)| sipedge_index(black_box(m)))
                    .sum::<usize>(),
                "sipedge-typed" => corpus
                    .iter()
                    .map(|(_, m)| sipedge_typed(black_box(m)))
                    .sum(),
                "rsip-message" => corpus.iter().map(|(_, m)| rsip_message(black_box(m))).sum(),
                "rsip-typed" => corpus
                    .iter()
                    .map(|(_, m)| rsip_typed(black_box(m)).unwrap_or(0))
                    .sum(),
                "httparse" => http.iter().map(|m| httparse_headers(black_box(m))).sum(),
                other => panic!("unknown implementation {other}"),
            };
        }
        sum
    };
    match (args.first(), args.get(1).and_then(|n| n.parse().ok())) {
        (Some(imp), Some(rounds)) => println!("{}", run(imp, rounds)),
        _ => {
            for imp in [
                "sipedge-index",
                "sipedge-typed",
                "rsip-message",
                "rsip-typed",
                "httparse",
            ] {
                black_box(run(imp, 1));
            }
            println!(
                "parse_instr: every implementation ran; count instructions with benches/parse_instructions.sh"
            );
        }
    }
}
