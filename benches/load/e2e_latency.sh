#!/usr/bin/env bash
# End-to-end event latency: BYE in → JetStream acknowledgement.
#
# A sipp UAC (the agents, uac_rr.xml) calls a sipp UAS (the PBX, uas_rr.xml)
# through `sipedge run` at RATE calls/s for SECONDS; sipedge publishes every
# event to a real nats-server with JetStream (file store in a temp dir). The
# daemon measures, per event, the time from the event's `time` (for
# interaction.ended: when the BYE arrived) to the broker's publish ack, in
# the histogram sipedge_event_delivery_seconds{sink="nats"}; this script
# waits until every committed event is acknowledged, scrapes /metrics and
# reports p50/p90/p99 (linear interpolation inside a bucket, as Prometheus'
# histogram_quantile does, and the bucket's upper bound as a ceiling) of the
# load's events alone (a warm-up call connects the sink first and is
# subtracted), and fails unless every call succeeded and the stream holds
# exactly as many messages as sipedge had acknowledged. The histogram
# holds every event type; interaction.ended's time is the BYE's arrival.
#
# Usage: benches/load/e2e_latency.sh
# Environment: RATE (default 200), DURATION (seconds, default 30), TALK_MS (default 1000).
# Everything runs on 127.0.0.1, is started here and stopped by its PID; the
# run is bounded in calls and time.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rate=${RATE:-200}
secs=${DURATION:-30}
talk=${TALK_MS:-1000}
work=$(mktemp -d -t sipedge-e2e.XXXXXX)
pids=()
# shellcheck source=common.sh
source "$root/benches/load/common.sh"
cat > "$work/edge.toml" <<TOML
[node]
data_dir = "$work/data"
[[listen]]
transport = "udp"
addr = "127.0.0.1:$proxy_port"
[pbx]
addrs = ["127.0.0.1:$uas_port"]
[sip]
rate_limit = 0
[events]
sinks = ["nats"]
[events.nats]
url = "nats://127.0.0.1:$nats_port"
[metrics]
listen = "127.0.0.1:$metrics_port"
[admin]
socket = "$work/admin.sock"
TOML
"$bin" run --config "$work/edge.toml" > "$work/edge.log" 2>&1 &
edge=$!; pids+=("$edge")
wait_until 10 curl -sf "http://127.0.0.1:$metrics_port/ready" -o /dev/null
sipp -sf benches/load/uas_rr.xml -i 127.0.0.1 -p "$uas_port" -nostdin -timeout $((secs + 60))s > "$work/uas.out" 2>&1 &
pids+=($!)
metrics() { curl -sf "http://127.0.0.1:$metrics_port/metrics"; }
caught_up() { metrics | awk '/^sipedge_outbox_backlog_events\{sink="nats"\}/{seen=1; ok=($2==0)} END{exit !(seen && ok)}'; }
# The sink connects (and creates the stream) on its first publish: one
# warm-up call, whose events are subtracted below.
sipp -sf benches/load/uac_rr.xml "127.0.0.1:$proxy_port" -s 1002 -i 127.0.0.1 -p "$(free_port u)" -m 1 -d 10 \
  -nostdin -timeout 20s > "$work/warm.out" 2>&1
wait_until 30 caught_up || { echo "the warm-up call's events were not delivered"; exit 1; }
metrics > "$work/before.txt"
calls=$((rate * secs))
echo "e2e latency: $calls calls at $rate calls/s, talk ${talk} ms, sipedge → nats-server JetStream"
sipp -sf benches/load/uac_rr.xml "127.0.0.1:$proxy_port" -s 1002 -i 127.0.0.1 -p "$(free_port u)" -r "$rate" -m "$calls" -d "$talk" \
  -nostdin -timeout $((secs + 30))s -max_socket 10000 > "$work/uac.out" 2>&1 || true
ok=$(awk -F'|' '/Successful call/{gsub(/ /,"",$3); print $3}' "$work/uac.out" | tail -1)
failed=$(awk -F'|' '/Failed call/{gsub(/ /,"",$3); print $3}' "$work/uac.out" | tail -1)
echo "calls: ok=${ok:-0} failed=${failed:-?}"
[ "${failed:-1}" = 0 ] && [ "${ok:-0}" = "$calls" ] || { echo "FAIL: not every call succeeded"; exit 1; }

wait_until 60 caught_up || { echo "nats sink did not catch up within 60 s"; exit 1; }
metrics > "$work/metrics.txt"
curl -sf "http://127.0.0.1:$nats_http/jsz?streams=true" > "$work/jsz.json"
python3 - "$work/metrics.txt" "$work/jsz.json" "$work/before.txt" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
before = open(sys.argv[3]).read()
def buckets(t, name):
    return [(float('inf') if le == '+Inf' else float(le), float(c)) for le, c in
            re.findall(name + r'_bucket\{(?:sink="nats",)?le="([^"]+)"\} (\S+)', t)]
def hist(name):
    # The load's own samples: now minus the warm-up.
    b0 = dict(buckets(before, name))
    b = [(le, c - b0.get(le, 0.0)) for le, c in buckets(text, name)]
    return b, (b[-1][1] if b else 0.0)
def q(b, count, p):
    rank, lo, prev = p * count, 0.0, 0.0
    for le, c in b:
        if c >= rank:
            if le == float('inf'):
                return lo, le
            return lo + (le - lo) * (rank - prev) / max(c - prev, 1e-9), le
        lo, prev = le, c
    return float('nan'), float('nan')
published = float(re.search(r'sipedge_events_published_total\{sink="nats"\} (\S+)', text)[1])
stored = sum(s["state"]["messages"] for a in json.load(open(sys.argv[2])).get("account_details", [])
             for s in a.get("stream_detail", []))
print(f"events acknowledged by JetStream: {int(published)}, messages in the stream: {stored}")
if stored != int(published):
    print("FAIL: the stream does not hold exactly the acknowledged events")
    sys.exit(1)
for name, what in [("sipedge_event_delivery_seconds", "event time → JetStream ack"),
                   ("sipedge_sink_publish_seconds", "one publish batch → its acks"),
                   ("sipedge_outbox_commit_seconds", "outbox write + fdatasync")]:
    b, count = hist(name)
    for p in (0.5, 0.9, 0.99):
        est, ceil = q(b, count, p)
        print(f"{what:<28} p{int(p*100):<2} {est*1000:6.2f} ms (bucket ≤ {ceil*1000:g} ms, n={int(count)})")
PY
