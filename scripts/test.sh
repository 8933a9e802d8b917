#!/usr/bin/env bash
# The one command that runs every check of sipedge, on a fresh machine too:
#   installs the test peers it needs (sipp, nats-server, openssl, chromium,
#   node and the softphone's npm packages, baresip) when missing, then runs
#   formatting, clippy (-D warnings), every test (unit, the integration-test
#   binary with the RFC 4475/5118 torture messages, real calls through
#   `sipedge run` with sipp, baresip and Chromium, and the fuzz-corpus
#   replay), a 60-second soak (benches/load/soak.sh), then a short run of
#   each fuzz target when cargo-fuzz can run. Test processes use free
#   loopback ports and are stopped by PID.
#
# The Kafka sink (cargo feature `kafka`) is tested against tansu, a
# Kafka-protocol broker from crates.io, when one is installed (`tansu` on
# the PATH or SIPEDGE_TANSU); `scripts/test.sh --kafka` installs it first
# (cargo install, about 15 minutes on two cores). Without it the summary
# says the Kafka test did not run.
#
# Environment:
#   FUZZ_SECONDS  seconds per fuzz target (default 15; 0 skips fuzzing)
#   CARGO_TARGET_DIR  shared target directory (default ./target)
#   SIPEDGE_TANSU  the tansu binary (default: tansu on the PATH)
#   SIPEDGE_KAFKA=1  same as --kafka
set -euo pipefail
kafka="${SIPEDGE_KAFKA:-0}"
for arg in "$@"; do
  case $arg in
    --kafka) kafka=1 ;;
    *) echo "usage: scripts/test.sh [--kafka]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
fuzz_seconds="${FUZZ_SECONDS:-15}"
log="$(mktemp -t sipedge-test.XXXXXX)"
trap 'rm -f "$log"' EXIT

step() { printf '\n== %s\n' "$*"; }

# Test peers from Debian's packages, installed when missing.
need_pkg() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  step "installing $2 (apt-get)"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}
need_pkg sipp sip-tester
need_pkg nats-server nats-server
need_pkg openssl openssl
need_pkg chromium chromium
need_pkg node nodejs
need_pkg npm npm
need_pkg baresip baresip-core
# The browser softphone and its Chromium driver (npm registry), and the
# JsSIP bundle its postinstall builds.
if [ ! -f examples/softphone/jssip.bundle.js ] || [ ! -d examples/softphone/node_modules/playwright-core ]; then
  step "npm ci (examples/softphone: jssip, playwright-core, esbuild)"
  (cd examples/softphone && npm ci --no-audit --no-fund --loglevel=error)
fi

# Kafka's broker for the kafka feature's test: tansu from crates.io.
tansu="${SIPEDGE_TANSU:-$(command -v tansu || true)}"
if [ -z "$tansu" ] && [ "$kafka" = 1 ]; then
  tools="${SIPEDGE_TOOLS:-$HOME/.cache/sipedge-tools}"
  if [ ! -x "$tools/bin/tansu" ]; then
    step "installing tansu (cargo install tansu --features dynostore; ~15 min)"
    CARGO_TARGET_DIR="$tools/target" cargo install tansu --locked --features dynostore --root "$tools" >/dev/null
  fi
  tansu="$tools/bin/tansu"
fi

if [ ! -d ../shared/conformance/torture ]; then
  echo "note: ../shared/conformance/torture is absent: the RFC 4475/5118 torture tests will report SKIPPED"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

step "cargo test (unit, integration, fuzz-corpus replay)"
cargo test --locked 2>&1 | tee "$log"
step "soak, 60 s (benches/load/soak.sh at 100 calls/s with the test build)"
RATE=100 DURATION=60 SAMPLE=10 SIPEDGE_BIN="$CARGO_TARGET_DIR/debug/sipedge" bash benches/load/soak.sh

if [ -n "$tansu" ]; then
  step "kafka sink against tansu ($tansu): cargo clippy and test --features kafka"
  cargo clippy --all-targets --locked --features kafka -- -D warnings
  SIPEDGE_TANSU="$tansu" cargo test --locked --features kafka --test it kafka:: 2>&1 | tee -a "$log"
  kafka_note="kafka: tested against tansu"
else
  kafka_note="kafka: NOT tested (no tansu broker here; scripts/test.sh --kafka installs one)"
fi
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')

fuzz_note="fuzz: skipped (FUZZ_SECONDS=0)"
if [ "$fuzz_seconds" != 0 ]; then
  step "fuzz smoke: ${fuzz_seconds}s per target"
  if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz is missing; installing it (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked >/dev/null 2>&1 || echo "warning: cargo-fuzz could not be installed"
  fi
  if command -v cargo-fuzz >/dev/null 2>&1; then
    targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^sipedge-fuzz$')
    # The fuzz crate is its own workspace with its own target dir (sanitizer flags).
    (cd fuzz && unset CARGO_TARGET_DIR && RUSTC_BOOTSTRAP=1 cargo fuzz build -O >/dev/null)
    for t in $targets; do
      # Fresh inputs go to a scratch dir; the checked-in seeds are read only.
      scratch="$(mktemp -d -t "sipedge-fuzz-$t.XXXXXX")"
      echo "-- $t"
      (cd fuzz && unset CARGO_TARGET_DIR && RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$t" "$scratch" "corpus/$t" -- \
        -max_total_time="$fuzz_seconds" -dict=sip.dict -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
        | grep -E 'stat::number_of_executed_units|Done [0-9]+ runs|ERROR|panicked' || true)
      rm -rf "$scratch"
      if [ -n "$(ls fuzz/artifacts/"$t" 2>/dev/null)" ]; then
        echo "fuzz target $t found a crash: see fuzz/artifacts/$t"
        exit 1
      fi
    done
    fuzz_note="fuzz: every target ran ${fuzz_seconds}s without a finding"
  else
    fuzz_note="fuzz: cargo-fuzz unavailable here; only the corpus replay ran"
  fi
fi

echo
echo "$fuzz_note"
echo "$kafka_note"
echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
