#!/usr/bin/env bash
# Instructions per pass over benches/corpus/ for sipedge (index; index + typed
# Via/From/To/Call-ID/CSeq), rsip 0.4 (message; message + the same typed
# headers) and httparse (same header bytes), counted by callgrind: each
# implementation runs ROUNDS passes and 0 passes, and the difference divided
# by ROUNDS is one pass (start-up and corpus loading cancel out).
# Usage: benches/parse_instructions.sh [ROUNDS]   (default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-50}
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install valgrind"; exit 1; }
bin=$(cargo bench --bench parse_instr --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("target",{}).get("name")=="parse_instr" and m.get("executable"): print(m["executable"])' | tail -1)
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 | awk '/Collected/{print $NF}'; }
printf '%-15s %14s\n' implementation instructions/pass
for imp in sipedge-index sipedge-typed rsip-message rsip-typed httparse; do
  base=$(count "$imp" 0); full=$(count "$imp" "$rounds")
  printf '%-15s %14d\n' "$imp" $(( (full - base) / rounds ))
done
