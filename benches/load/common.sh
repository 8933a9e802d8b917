# Shared by the load scripts that run sipedge with a nats-server (sourced
# by e2e_latency.sh and soak.sh after they set `work`, `pids` and `root`).
# Every process is on 127.0.0.1, started here, recorded in `pids` and
# stopped by PID by the caller's EXIT trap.

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'cleanup; rm -rf "$work"' EXIT

for b in sipp nats-server curl python3 ss; do
  command -v "$b" >/dev/null || { echo "$b missing (scripts/test.sh installs sipp and nats-server)"; exit 1; }
done

# free_port u|t: a free loopback UDP or TCP port.
free_port() { python3 -c 'import socket,sys;t=socket.SOCK_DGRAM if sys.argv[1]=="u" else socket.SOCK_STREAM;s=socket.socket(socket.AF_INET,t);s.bind(("127.0.0.1",0));print(s.getsockname()[1])' "$1"; }

# wait_until SECONDS CMD...: poll CMD every 100 ms, bounded.
wait_until() {
  local end=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.1; done
}

# The binary: SIPEDGE_BIN, else a release build.
bin="${SIPEDGE_BIN:-$root/target/release/sipedge}"
[ -n "${SIPEDGE_BIN:-}" ] || cargo build --release --quiet

# A nats-server with JetStream (file store under $work): nats_port, and
# nats_http for its monitoring endpoint (/jsz).
nats_port=$(free_port t); nats_http=$(free_port t)
nats-server -js -a 127.0.0.1 -p "$nats_port" -m "$nats_http" -sd "$work/js" > "$work/nats.log" 2>&1 &
pids+=($!)
wait_until 10 bash -c "ss -ltn | grep -q ':$nats_port '"

# Ports for the sipp PBX, sipedge's UDP listener and its metrics.
uas_port=$(free_port u); proxy_port=$(free_port u); metrics_port=$(free_port t)
