#!/usr/bin/env bash
# Two replicas against one, on the same machine and the same PostgreSQL database: the same client
# load (two `vaultctl bench` processes started together, each keeping CONCURRENCY requests in
# flight) is sent first to one replica (both processes), then to two (one process each). A third
# run sends it to one vaultd on SQLite, for reference. Prints requests/s per operation and the
# ratios.
#
#   cargo build --release --bins
#   VAULTD_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres examples/bench_replicas.sh
#
# The URL names a role that may create databases: the run makes its own and drops it.
set -euo pipefail
cd "$(dirname "$0")/.."

admin_url=${VAULTD_BENCH_DATABASE_URL:?set VAULTD_BENCH_DATABASE_URL to a PostgreSQL URL that may create databases}
operations=${OPERATIONS:-generate-data-key,get-secret-value,get-parameter}
concurrency=${CONCURRENCY:-32}
seconds=${SECONDS_PER_ROW:-10}
bin=target/release
test -x "$bin/vaultd" && test -x "$bin/vaultctl" || { echo "build first: cargo build --release --bins" >&2; exit 1; }

work=$(mktemp -d)
database="vaultd_bench_$$"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
psql -q "$admin_url" -c "CREATE DATABASE $database" >/dev/null
database_url="${admin_url%/*}/$database"

export VAULTD_ROOT_KEY
VAULTD_ROOT_KEY=$(head -c 32 /dev/urandom | base64)
export VAULTD_ROOT_ACCESS_KEY_ID=AKIAEXAMPLEKEY234567
export VAULTD_ROOT_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY

# start NAME PORT [--storage URL]: a vaultd in the background (metrics on PORT + 1000), waited
# for until it serves.
start() {
    local name=$1 port=$2
    shift 2
    "$bin/vaultd" --listen "127.0.0.1:$port" --data-dir "$work/$name" --throttle off \
        --metrics-listen "127.0.0.1:$((port + 1000))" --log warn "$@" 2>"$work/$name.log" &
    pids+=($!)
    for _ in $(seq 100); do
        "$bin/vaultd" healthcheck --endpoint "http://127.0.0.1:$port" >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "vaultd $name did not start:" >&2
    cat "$work/$name.log" >&2
    exit 1
}

# load OUT PORT: one vaultctl bench process.
load() {
    VAULTD_ENDPOINT="http://127.0.0.1:$2" VAULTD_ACCESS_KEY_ID=$VAULTD_ROOT_ACCESS_KEY_ID \
        VAULTD_SECRET_ACCESS_KEY=$VAULTD_ROOT_SECRET_ACCESS_KEY \
        "$bin/vaultctl" bench --operations "$operations" --concurrency "$concurrency" \
        --seconds "$seconds" --output json >"$work/$1.json" 2>"$work/$1.err" || {
        echo "vaultctl bench ($1) failed:" >&2
        cat "$work/$1.err" >&2
        return 1
    }
}

start replica-1 7801 --storage "$database_url"
start replica-2 7802 --storage "$database_url"
start sqlite 7803

# drained PORT...: waits until those vaultds have written their audit backlog, so that one run's
# events are not written during the next.
drained() {
    python3 - "$@" <<'PY'
import sys, time, urllib.request
for port in sys.argv[1:]:
    for _ in range(600):
        page = urllib.request.urlopen(f"http://127.0.0.1:{int(port) + 1000}/metrics").read().decode()
        if "vaultd_audit_queue_depth 0\n" in page:
            break
        time.sleep(0.1)
    else:
        sys.exit(f"vaultd on {port} did not drain its audit queue")
PY
}

# together PORT_A PORT_B NAME: two load processes at once (waiting for them, not the daemons).
together() {
    load "$3-a" "$1" &
    local a=$!
    load "$3-b" "$2" &
    local b=$!
    wait "$a" "$b"
}
together 7801 7801 one
drained 7801 7802
together 7801 7802 two
drained 7801 7802
together 7803 7803 sqlite

python3 - "$work" "$concurrency" <<'PY'
import json, sys
work, concurrency = sys.argv[1], sys.argv[2]
def rates(*names):
    total = {}
    for name in names:
        for row in json.load(open(f"{work}/{name}.json"))["Rows"]:
            if row.get("Errors"):
                print(f"{name}: {row['Operation']}: {row['Errors']} errors of {row['Requests']} "
                      f"({row.get('FirstError')})")
            total[row["Operation"]] = total.get(row["Operation"], 0) + row["RequestsPerSecond"]
    return total
one, two, sqlite = rates("one-a", "one-b"), rates("two-a", "two-b"), rates("sqlite-a", "sqlite-b")
print(f"2 load processes x {concurrency} in flight; requests/s")
print(f"{'operation':<18}{'1 replica':>12}{'2 replicas':>12}{'2 / 1':>8}{'SQLite':>10}{'1 PG / SQLite':>15}")
for op in one:
    print(f"{op:<18}{one[op]:>12,.0f}{two[op]:>12,.0f}{two[op] / one[op]:>8.2f}{sqlite[op]:>10,.0f}{one[op] / sqlite[op]:>15.2f}")
PY
