#!/usr/bin/env bash
# Soak: a mix of calls through `sipedge run` for a long while, events to a
# real nats-server (JetStream), and what must hold at the end.
#
# Three sipp agents call one sipp PBX (uas_mix.xml) through sipedge:
#   80 %  uac_rr.xml: answered, TALK_MS of talk, the agent hangs up
#   10 %  tests/sipp/uac_cancel.xml: the agent cancels while it rings
#   10 %  tests/sipp/uac_expect_486.xml: the PBX is busy
# Every SAMPLE seconds it prints sipedge's RSS, CPU, live interactions and
# transactions; at the end it checks, from /metrics and JetStream:
#   - no failed sipp call (each sipp's own count);
#   - live interactions return to 0;
#   - interaction.ended events emitted == interactions ended (by the
#     counters) == calls the sipps completed;
#   - every committed event acknowledged by JetStream (backlog 0), none
#     refused or lost; the stream holds exactly as many messages.
# Exit status 0 only if all of that holds.
#
# Usage: benches/load/soak.sh
# Environment: RATE (calls/s in total, default 1200 = half the 0-failure
#   rate in BENCHMARKS.md), DURATION (seconds, default 1800), TALK_MS
#   (default 1000), SAMPLE (seconds between samples, default 60).
# CI runs `RATE=100 DURATION=60 SAMPLE=10 benches/load/soak.sh`.
# Everything runs on 127.0.0.1, is started here and stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
rate=${RATE:-1200}
duration=${DURATION:-1800}
talk=${TALK_MS:-1000}
sample=${SAMPLE:-60}
work=$(mktemp -d -t sipedge-soak.XXXXXX)
pids=()
[ "$rate" -ge 10 ] || { echo "RATE must be at least 10 (a tenth of it cancels, a tenth is busy)"; exit 2; }
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
[wrap]
seconds = 5
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

total=$((rate * duration))
r_ok=$((rate * 8 / 10)); r_cancel=$((rate / 10)); r_busy=$((rate - r_ok - r_cancel))
n_ok=$((r_ok * duration)); n_cancel=$((r_cancel * duration)); n_busy=$((r_busy * duration))
echo "soak: $total calls over ${duration}s at $rate calls/s ($r_ok answered with ${talk} ms talk, $r_cancel cancelled, $r_busy busy); sipedge → nats-server JetStream"
sipp -sf benches/load/uas_mix.xml -i 127.0.0.1 -p "$uas_port" -nostdin -max_socket 10000 \
  -timeout $((duration + 120))s > "$work/uas.out" 2>&1 &
pids+=($!)
agent() { # name scenario service rate calls [extra...]; its PID in $last
  local name=$1 scen=$2 svc=$3 r=$4 n=$5 port; shift 5
  port=$(free_port u)
  sipp -sf "$scen" "127.0.0.1:$proxy_port" -s "$svc" -i 127.0.0.1 -p "$port" -r "$r" -m "$n" \
    -nostdin -max_socket 10000 -timeout $((duration + 90))s "$@" > "$work/$name.out" 2>&1 &
  last=$!; pids+=("$last")
}
agent ok benches/load/uac_rr.xml 1002 "$r_ok" "$n_ok" -d "$talk"; a1=$last
agent cancel tests/sipp/uac_cancel.xml ring "$r_cancel" "$n_cancel"; a2=$last
agent busy tests/sipp/uac_expect_486.xml busy "$r_busy" "$n_busy"; a3=$last

metric_sum() { # name [label-filter]: sum of the samples of a metric
  curl -sf "http://127.0.0.1:$metrics_port/metrics" | awk -v n="$1" -v f="${2:-}" \
    '$1 ~ "^"n"({|$)" && index($1, f) {s += $2} END {printf "%d\n", s}'
}
clk=$(getconf CLK_TCK)
printf '%8s %9s %6s %10s %13s %12s\n' elapsed rss_mib cores live_calls transactions ended_total
t0=$SECONDS; ticks0=$(awk '{print $14+$15}' "/proc/$edge/stat"); ns0=$(date +%s%N)
while kill -0 "$a1" 2>/dev/null || kill -0 "$a2" 2>/dev/null || kill -0 "$a3" 2>/dev/null; do
  for _ in $(seq $((sample * 10))); do
    kill -0 "$a1" 2>/dev/null || kill -0 "$a2" 2>/dev/null || kill -0 "$a3" 2>/dev/null || break
    sleep 0.1
  done
  ticks=$(awk '{print $14+$15}' "/proc/$edge/stat"); ns=$(date +%s%N)
  el=$((SECONDS - t0))
  printf '%8s %9s %6s %10s %13s %12s\n' "${el}s" \
    "$(awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$edge/status")" \
    "$(awk -v d=$((ticks - ticks0)) -v c="$clk" -v ns=$((ns - ns0)) 'BEGIN{printf "%.2f", d/c/(ns/1e9)}')" \
    "$(metric_sum sipedge_interactions_live)" "$(metric_sum sipedge_sip_transactions)" \
    "$(metric_sum sipedge_interactions_ended_total)"
  ticks0=$ticks; ns0=$ns
  [ $el -lt $((duration + 300)) ] || { echo "sipp did not finish within the duration + 300 s"; break; }
done
for p in "$a1" "$a2" "$a3"; do wait "$p" || true; done

fail=0
check() { # description condition-result
  if [ "$2" = ok ]; then echo "ok    $1"; else echo "FAIL  $1 ($2)"; fail=1; fi
}
sipp_counts() { # file → "successful failed"
  awk -F'|' '/Successful call/{gsub(/ /,"",$3); s=$3} /Failed call/{gsub(/ /,"",$3); f=$3} END{print s+0, f+0}' "$1"
}
done_calls=0; failed_calls=0
for n in ok cancel busy; do
  read -r s f < <(sipp_counts "$work/$n.out")
  echo "sipp $n: $s successful, $f failed"
  done_calls=$((done_calls + s)); failed_calls=$((failed_calls + f))
done
check "no failed call" "$([ "$failed_calls" = 0 ] && echo ok || echo "$failed_calls failed")"
check "every call completed ($done_calls of $total)" "$([ "$done_calls" = "$total" ] && echo ok || echo "$done_calls")"
# Live interactions back to 0 (bounded wait: the last BYEs are in flight).
wait_until 30 bash -c "[ \"\$(curl -sf http://127.0.0.1:$metrics_port/metrics | awk '\$1 ~ /^sipedge_interactions_live/ {s+=\$2} END{print s+0}')\" = 0 ]" || true
live=$(metric_sum sipedge_interactions_live)
check "live interactions at the end: $live" "$([ "$live" = 0 ] && echo ok || echo "$live")"
# The counters move together; poll (bounded) until they agree.
for _ in $(seq 100); do
  ended=$(metric_sum sipedge_interactions_ended_total)
  emitted=$(metric_sum sipedge_events_total 'type="sipedge.interaction.ended"')
  [ "$emitted" = "$ended" ] && [ "$ended" = "$done_calls" ] && break
  sleep 0.1
done
check "interaction.ended events ($emitted) == interactions ended ($ended) == calls ($done_calls)" \
  "$([ "$emitted" = "$ended" ] && [ "$ended" = "$done_calls" ] && echo ok || echo mismatch)"
# The agents' wraps (5 s) end after the last call: then every event is in.
wait_until 30 bash -c "[ \"\$(curl -sf http://127.0.0.1:$metrics_port/metrics | awk '\$1 == \"sipedge_agents_in_wrap\" {print \$2}')\" = 0 ]" || true
wait_until 120 bash -c "[ \"\$(curl -sf http://127.0.0.1:$metrics_port/metrics | awk '\$1 ~ /^sipedge_outbox_backlog_events/ {s+=\$2} END{print s+0}')\" = 0 ]" || true
all_events=$(metric_sum sipedge_events_total)
published=$(metric_sum sipedge_events_published_total)
refused=$(metric_sum sipedge_outbox_refused_total)
stored=$(curl -sf "http://127.0.0.1:$nats_http/jsz?streams=true" | python3 -c 'import json,sys; print(sum(s["state"]["messages"] for a in json.load(sys.stdin).get("account_details",[]) for s in a.get("stream_detail",[])))')
check "events emitted ($all_events) == acknowledged by JetStream ($published) == in the stream ($stored), refused/lost $refused" \
  "$([ "$all_events" = "$published" ] && [ "$published" = "$stored" ] && [ "$refused" = 0 ] && echo ok || echo mismatch)"
echo "sipedge at the end: RSS $(awk '/VmRSS/{printf "%.1f MiB", $2/1024}' "/proc/$edge/status"), $(metric_sum sipedge_sip_transactions) transactions"
exit $fail
