#!/usr/bin/env bash
# Syscalls per message (strace -c -f) and cpu-clock profiles (perf record) of single
# e2e publisher workers against a private mosquitto configured as the e2e tool does.
#
#   CARGO_TARGET_DIR=/work/target-bench bash benches/scripts/e2e-profile.sh [OUT_DIR]
#
# Needs strace and perf (Debian: apt-get install strace linux-perf). Builds the e2e
# binary first. Writes OUT_DIR (default /tmp/e2e-profile): strace-CLIENT-qQ-N.txt,
# perf-CLIENT-qQ.txt, and prints syscalls per message.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/tmp/e2e-profile}
mkdir -p "$out"
target=${CARGO_TARGET_DIR:-target}
cargo build --release -p benches --bin e2e >&2
e2e="$target/release/e2e"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
conf="$out/mosquitto.conf"
cat >"$conf" <<CONF
user root
listener $port 127.0.0.1
allow_anonymous true
persistence false
set_tcp_nodelay true
max_inflight_messages 1000
max_queued_messages 10000000
max_queued_bytes 0
max_connections -1
log_dest stderr
log_type error
log_type warning
connection_messages false
CONF
/usr/sbin/mosquitto -c "$conf" 2>"$out/mosquitto.log" &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done

n=${N:-20000}
# strace: calls of every thread, for N messages and for 0 (connect + disconnect).
per_message() { # client qos
  local c=$1 q=$2
  strace -c -f -o "$out/strace-$c-q$q-0.txt" "$e2e" worker "$c" pub "$q" 0 "$port"
  strace -c -f -o "$out/strace-$c-q$q-$n.txt" "$e2e" worker "$c" pub "$q" "$n" "$port"
  python3 - "$out/strace-$c-q$q-0.txt" "$out/strace-$c-q$q-$n.txt" "$n" "$c" "$q" <<'PY'
import sys
def calls(path):
    rows = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            # % time, seconds, usecs/call, calls, [errors], syscall
            rows[f[-1]] = int(f[3])
    return rows
base, full, n = calls(sys.argv[1]), calls(sys.argv[2]), int(sys.argv[3])
per = {k: (v - base.get(k, 0)) / n for k, v in full.items()}
top = sorted(per.items(), key=lambda kv: -kv[1])
total = sum(v for _, v in top)
print(f"{sys.argv[4]} QoS {sys.argv[5]}: {total:.3f} syscalls/message: " +
      ", ".join(f"{k} {v:.3f}" for k, v in top if v >= 0.001))
PY
}
for q in 0 1; do
  for c in smol std rumqttc; do
    per_message "$c" "$q"
  done
done

# strace of subscribers at QoS 0 and 1, fed N messages by mosquitto_pub -l -M 100.
yes 0123456789abcdef0123456789abcdef | head -n "$n" >"$out/feed.txt" || true
for q in 0 1; do
  for c in smol std rumqttc; do
    rm -f "$out/sub.fifo"; mkfifo "$out/sub.fifo"
    strace -c -f -o "$out/strace-sub-$c-q$q.txt" "$e2e" worker "$c" sub "$q" "$n" "$port" >"$out/sub.fifo" &
    s=$!
    exec 4<"$out/sub.fifo"; read -r _ <&4   # "ready"
    mosquitto_pub -p "$port" -t bench/data -q "$q" -l -M 100 <"$out/feed.txt"
    cat <&4 >/dev/null; exec 4<&-; wait "$s"
    printf '%s subscriber QoS %s: syscalls/message: ' "$c" "$q"
    awk -v n="$n" '$NF != "total" && $1 ~ /^[0-9]/ && $4 / n >= 0.005 {printf "%s %.3f, ", $NF, $4 / n}' \
      "$out/strace-sub-$c-q$q.txt"
    echo
  done
done

# perf: the mqtt-smol publisher at QoS 0 (200 000 messages) and 1 (40 000) (cpu-clock; no hardware counters here).
for q in 0 1; do
  m=${PERF_N0:-200000}; [ "$q" = 1 ] && m=${PERF_N1:-40000}
  perf record -e cpu-clock -F 4999 -g -o "$out/perf-smol-q$q.data" \
    "$e2e" worker smol pub "$q" "$m" "$port" 2>"$out/perf-smol-q$q.err"
  perf report -i "$out/perf-smol-q$q.data" --no-children --percent-limit 1 --stdio \
    --sort symbol -g none 2>/dev/null | grep -v '^$' | head -40 >"$out/perf-smol-q$q.txt"
  echo "--- perf smol QoS $q (self, top) ---"
  grep '%' "$out/perf-smol-q$q.txt" | head -14
done
