#!/usr/bin/env bash
# Throughput benchmark: kinesd against kinesalite and kinesis-local (kinesis-mock),
# with RocksDB's db_bench as the ceiling for durable batched writes and for
# synced single puts from 1 and 16 writers.
#
# Each server runs on its own loopback port with a fresh data directory. For
# each one: create a stream, PutRecords with 4 connections, PutRecord with 1
# and 16 connections, then read everything back with GetRecords. All traffic
# goes to 127.0.0.1 and every phase is bounded in time. See bench/README.md.
set -uo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$BENCH_DIR/.." && pwd)"

KINESALITE_VERSION=3.3.3
KINESIS_LOCAL_VERSION=0.6.2

DURATION=10
SIZES=100
SHARD_COUNTS=4
SERVERS=kinesd,kinesalite,kinesis-local
RECORDS_PER_REQUEST=""
BUILD=1
KINESD_BIN=""
KINESD_ARGS=""
DB_BENCH=1
CBOR=1
PEERS_ON_DISK=1
RESULTS_DIR=""
DRAIN_TIMEOUT=300
STREAM=bench
SCALE_STREAMS=0
SUBSCRIBE=1
SUBSCRIBE_ONLY=0
SUBSCRIBE_BACKLOG=500000
# kinesis-local takes about a millisecond per record put: a smaller backlog
# keeps its run within minutes.
SUBSCRIBE_PEER_BACKLOG=5000
SETTINGS_COMPARE=0
SETTINGS_MODES="off metrics"
SETTINGS_ROUNDS=1
SERVER_SCHEME=http

usage() {
  cat <<EOF
usage: bench/run.sh [options]

  -d, --duration SECS        seconds per load phase (default $DURATION)
  -s, --size LIST            record sizes, comma-separated: 100, 1k, 64k or bytes (default $SIZES)
  -n, --shards LIST          shard counts, comma-separated, e.g. 1,4,64 (default $SHARD_COUNTS)
      --servers LIST         any of kinesd,kinesalite,kinesis-local (default all)
      --records-per-request N
                             records per PutRecords call (default 500, lowered so one
                             call carries at most 4 MiB of data: 64 for 64 KiB records)
      --skip-build           do not build kinesd; use the existing binary
      --kinesd PATH          kinesd binary to run (default build-release/kinesd; implies --skip-build)
      --kinesd-args "ARGS"   extra kinesd options, e.g. "--durability flush"
      --no-db-bench          skip the RocksDB db_bench ceiling
      --no-cbor              skip kinesd's CBOR 1.1 phases (PutRecords and drain in CBOR)
      --in-memory-peers      run kinesalite and kinesis-local without their on-disk stores
      --drain-timeout SECS   give up draining after this long (default $DRAIN_TIMEOUT)
      --results DIR          where logs and the table go (default bench/results/<timestamp>)
      --matrix               the full matrix: record sizes 100,1k,64k, shards 1,4,64, then
                             kinesd alone from 1 to 1,000 streams (bench/scale.py streams)
      --scale-streams N      after the table, grow kinesd from 1 to N streams of 4 shards
      --no-subscribe         skip the SubscribeToShard section (kinesd and kinesis-local)
      --subscribe-only       run only the SubscribeToShard section
      --subscribe-backlog N  records read from a backlog by 16 subscribers (default $SUBSCRIBE_BACKLOG;
                             kinesis-local gets $SUBSCRIBE_PEER_BACKLOG)
      --settings-compare     also run kinesd's PutRecords phase under the production settings, each on
                             a fresh server, in the order A B C D D C B A: off (--metrics off), metrics
                             (--metrics on), auth (metrics and --credentials-file, signed requests), tls
                             (metrics, auth, and https on the same port); rates and CPU side by side
      --settings-compare-only run only that comparison
      --metrics-compare      the same with the first two settings only (off, metrics)
      --metrics-compare-only run only that comparison
      --settings-rounds N    repeat the sequence N times (default $SETTINGS_ROUNDS)
  -h, --help                 this text
EOF
}

die() { echo "run.sh: $*" >&2; exit 2; }

parse_size() {
  local s="${1,,}"
  case "$s" in
    *kib|*k) s="${s%kib}"; s="${s%k}"; [[ "$s" =~ ^[0-9]+$ ]] && echo $((s * 1024)) ;;
    *mib|*m) s="${s%mib}"; s="${s%m}"; [[ "$s" =~ ^[0-9]+$ ]] && echo $((s * 1048576)) ;;
    *) [[ "$s" =~ ^[0-9]+$ ]] && echo "$s" ;;
  esac
}

size_label() {
  local b=$1
  if (( b >= 1048576 && b % 1048576 == 0 )); then echo "$((b / 1048576)) MiB"
  elif (( b >= 1024 && b % 1024 == 0 )); then echo "$((b / 1024)) KiB"
  else echo "$b B"; fi
}

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -d|--duration) DURATION="$2"; shift 2 ;;
      -s|--size|--sizes) SIZES="$2"; shift 2 ;;
      -n|--shards) SHARD_COUNTS="$2"; shift 2 ;;
      --servers) SERVERS="$2"; shift 2 ;;
      --records-per-request) RECORDS_PER_REQUEST="$2"; shift 2 ;;
      --skip-build) BUILD=0; shift ;;
      --kinesd) KINESD_BIN="$2"; BUILD=0; shift 2 ;;
      --kinesd-args) KINESD_ARGS="$2"; shift 2 ;;
      --no-db-bench) DB_BENCH=0; shift ;;
      --no-cbor) CBOR=0; shift ;;
      --in-memory-peers) PEERS_ON_DISK=0; shift ;;
      --drain-timeout) DRAIN_TIMEOUT="$2"; shift 2 ;;
      --results) RESULTS_DIR="$2"; shift 2 ;;
      --matrix) SIZES=100,1k,64k; SHARD_COUNTS=1,4,64; SCALE_STREAMS=1000; shift ;;
      --scale-streams) SCALE_STREAMS="$2"; shift 2 ;;
      --no-subscribe) SUBSCRIBE=0; shift ;;
      --subscribe-only) SUBSCRIBE_ONLY=1; SUBSCRIBE=1; DB_BENCH=0; shift ;;
      --subscribe-backlog) SUBSCRIBE_BACKLOG="$2"; shift 2 ;;
      --settings-compare) SETTINGS_COMPARE=1; SETTINGS_MODES="off metrics auth tls"; shift ;;
      --settings-compare-only) SETTINGS_COMPARE=2; SETTINGS_MODES="off metrics auth tls"; SUBSCRIBE=0; DB_BENCH=0; shift ;;
      --metrics-compare) SETTINGS_COMPARE=1; shift ;;
      --metrics-compare-only) SETTINGS_COMPARE=2; SUBSCRIBE=0; DB_BENCH=0; shift ;;
      --settings-rounds|--metrics-rounds) SETTINGS_ROUNDS="$2"; shift 2 ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
  done

  [[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 ]] || die "--duration must be a whole number of seconds"
  [[ "$DURATION" -le 600 ]] || die "--duration is capped at 600 s per phase"
  [[ -z "$RECORDS_PER_REQUEST" || "$RECORDS_PER_REQUEST" =~ ^[0-9]+$ ]] || die "bad --records-per-request"
  [[ "$SCALE_STREAMS" =~ ^[0-9]+$ ]] || die "bad --scale-streams"
  [[ "$SUBSCRIBE_BACKLOG" =~ ^[0-9]+$ && "$SUBSCRIBE_BACKLOG" -ge 1 ]] || die "bad --subscribe-backlog"
  [[ "$SETTINGS_ROUNDS" =~ ^[0-9]+$ && "$SETTINGS_ROUNDS" -ge 1 ]] || die "bad --settings-rounds"

  IFS=',' read -ra SIZE_LIST <<< "$SIZES"
  IFS=',' read -ra SHARD_LIST <<< "$SHARD_COUNTS"
  IFS=',' read -ra SERVER_LIST <<< "$SERVERS"
  local i b n s
  for i in "${!SIZE_LIST[@]}"; do
    b=$(parse_size "${SIZE_LIST[$i]}")
    [[ -n "$b" && "$b" -ge 1 && "$b" -le 1048576 ]] || die "bad record size: ${SIZE_LIST[$i]}"
    SIZE_LIST[$i]=$b
  done
  for n in "${SHARD_LIST[@]}"; do
    [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || die "bad shard count: $n"
  done
  for s in "${SERVER_LIST[@]}"; do
    case "$s" in kinesd|kinesalite|kinesis-local) ;; *) die "unknown server: $s" ;; esac
  done
}

export PYTHONDONTWRITEBYTECODE=1
PY=python3
ADMIN=("$PY" "$BENCH_DIR/admin.py")

# ---------------------------------------------------------------------------
# Cleanup: every server we started is stopped and every temp dir removed,
# however the script ends.

declare -a RUNNING_PIDS=()
WORK_TMP=""

stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "  pid $pid ignored SIGTERM for 10 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  return 0
}

cleanup() {
  local pid
  for pid in "${RUNNING_PIDS[@]}"; do
    [[ -n "$pid" ]] && stop_pid "$pid"
  done
  RUNNING_PIDS=()
  [[ -n "$WORK_TMP" ]] && rm -rf "$WORK_TMP"
  return 0
}

forget_pid() {
  local keep=() p
  for p in "${RUNNING_PIDS[@]}"; do [[ "$p" != "$1" ]] && keep+=("$p"); done
  RUNNING_PIDS=("${keep[@]}")
}

log() { echo "[$(date +%H:%M:%S)] $*"; }

# ---------------------------------------------------------------------------
# Tools

ensure_apt_package() {  # ensure_apt_package COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing $2 (for $1)"
    { apt-get install -y --no-install-recommends "$2" ||
      { apt-get update && apt-get install -y --no-install-recommends "$2"; }; } \
      > "$RESULTS_DIR/apt-$2.log" 2>&1
  fi
  command -v "$1" >/dev/null 2>&1
}

declare -A UNAVAILABLE=()
DB_BENCH_BIN=""
wants() { [[ ",$SERVERS," == *",$1,"* ]]; }

find_tools() {
  if [[ $SUBSCRIBE_ONLY -eq 0 ]]; then
    ensure_apt_package wrk wrk || die "wrk is missing and could not be installed (apt-get install wrk)"
  fi
  command -v "$PY" >/dev/null 2>&1 || die "python3 is required"

  local c
  DB_BENCH_BIN=""
  if [[ $DB_BENCH -eq 1 ]]; then
    for c in db_bench rocksdb_db_bench; do
      if command -v "$c" >/dev/null 2>&1; then DB_BENCH_BIN=$(command -v "$c"); break; fi
    done
    if [[ -z "$DB_BENCH_BIN" ]] && ensure_apt_package db_bench rocksdb-tools; then
      DB_BENCH_BIN=$(command -v db_bench)
    fi
    if [[ -z "$DB_BENCH_BIN" ]] && command -v dpkg >/dev/null 2>&1; then
      DB_BENCH_BIN=$(dpkg -L rocksdb-tools 2>/dev/null | grep -E '/(rocksdb_)?db_bench$' | head -n1)
    fi
    [[ -n "$DB_BENCH_BIN" ]] || log "db_bench not found (Debian package rocksdb-tools): skipping the RocksDB ceiling"
  fi
}

# The drain client reads every server's stream back, so all of them are
# measured with the same client. It is built whether or not kinesd is (it is
# the client, not the server under test), and rebuilt when its source changes.
# Without a compiler the Python client does the drain instead, much slower.
DRAIN_CLIENT=""
build_drain_client() {
  local src="$BENCH_DIR/drain_client.cc" bin="$ROOT_DIR/build-release/drain_client"
  if [[ ! -x "$bin" || "$src" -nt "$bin" || "$BENCH_DIR/drain_cbor.h" -nt "$bin" ]]; then
    log "building the drain client (bench/drain_client.cc)"
    mkdir -p "$ROOT_DIR/build-release"
    if ! "${CXX:-g++}" -std=c++20 -O2 -pthread "$src" -o "$bin.tmp" > "$RESULTS_DIR/drain_client.build.log" 2>&1 ||
       ! mv "$bin.tmp" "$bin"; then
      rm -f "$bin.tmp"
      log "drain client build failed (see $RESULTS_DIR/drain_client.build.log): draining with drain.py"
      return 0
    fi
  fi
  DRAIN_CLIENT=$bin
}

prepare_servers() {
  if wants kinesd; then
    [[ -n "$KINESD_BIN" ]] || KINESD_BIN="$ROOT_DIR/build-release/kinesd"
    if [[ $BUILD -eq 1 ]]; then
      log "building kinesd (Release) in build-release/"
      if cmake -S "$ROOT_DIR" -B "$ROOT_DIR/build-release" -G Ninja -DCMAKE_BUILD_TYPE=Release \
            -DKINESD_BUILD_TESTS=OFF > "$RESULTS_DIR/build.log" 2>&1 &&
         cmake --build "$ROOT_DIR/build-release" --target kinesd -j "${BUILD_JOBS:-2}" \
            >> "$RESULTS_DIR/build.log" 2>&1; then
        log "build ok"
      else
        UNAVAILABLE[kinesd]="build failed (see $RESULTS_DIR/build.log)"
        tail -n 15 "$RESULTS_DIR/build.log" | sed 's/^/  build: /' >&2
      fi
    fi
    if [[ -z "${UNAVAILABLE[kinesd]:-}" && ! -x "$KINESD_BIN" ]]; then
      UNAVAILABLE[kinesd]="no executable at $KINESD_BIN"
    fi
  fi

  build_drain_client

  if wants kinesalite || wants kinesis-local; then
    if [[ ! -f "$BENCH_DIR/node_modules/kinesalite/package.json" ||
          ! -f "$BENCH_DIR/node_modules/kinesis-local/main.js" ]]; then
      if command -v npm >/dev/null 2>&1; then
        log "installing kinesalite@$KINESALITE_VERSION and kinesis-local@$KINESIS_LOCAL_VERSION into bench/node_modules"
        (cd "$BENCH_DIR" && npm install --prefix "$BENCH_DIR" --no-save --no-audit --no-fund \
            "kinesalite@$KINESALITE_VERSION" "kinesis-local@$KINESIS_LOCAL_VERSION") \
          > "$RESULTS_DIR/npm.log" 2>&1 || log "npm install failed (see $RESULTS_DIR/npm.log)"
      fi
    fi
    if ! command -v node >/dev/null 2>&1; then
      UNAVAILABLE[kinesalite]="node is not installed"
      UNAVAILABLE[kinesis-local]="node is not installed"
    fi
    [[ -f "$BENCH_DIR/node_modules/kinesalite/package.json" ]] ||
      UNAVAILABLE[kinesalite]="${UNAVAILABLE[kinesalite]:-npm package kinesalite is not installed}"
    [[ -f "$BENCH_DIR/node_modules/kinesis-local/main.js" ]] ||
      UNAVAILABLE[kinesis-local]="${UNAVAILABLE[kinesis-local]:-npm package kinesis-local is not installed}"
  fi
}

# ---------------------------------------------------------------------------
# Servers. The one under test is described by these globals; start_<name>
# starts it in the background and sets SERVER_PID to the server process
# itself, so /proc/PID/status shows its own memory.

SERVER_NAME=""
SERVER_PORT=""
SERVER_DATA=""
SERVER_LOG=""
SERVER_SHARDS=""
SERVER_PID=""

start_kinesd() {
  local extra=()
  [[ -n "$KINESD_ARGS" ]] && read -ra extra <<< "$KINESD_ARGS"
  "$KINESD_BIN" --host 127.0.0.1 --port "$SERVER_PORT" --data-dir "$SERVER_DATA" --log-level warn \
    "${extra[@]}" >> "$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
}

start_kinesalite() {
  local store=()
  [[ $PEERS_ON_DISK -eq 1 ]] && store=("$SERVER_DATA")
  node "$BENCH_DIR/kinesalite_server.js" "$SERVER_PORT" "${store[@]}" >> "$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
}

start_kinesis_local() {
  # kinesis-mock always opens a TLS port as well; give it a free one too. Its
  # store is in memory, optionally snapshotted to a JSON file every 5 s.
  local tls_port
  tls_port=$("${ADMIN[@]}" free-port) || return 1
  local persist=false
  [[ $PEERS_ON_DISK -eq 1 ]] && persist=true
  (cd "$SERVER_DATA" && exec env \
      KINESIS_MOCK_PLAIN_PORT="$SERVER_PORT" KINESIS_MOCK_TLS_PORT="$tls_port" \
      KINESIS_MOCK_CERT_PATH="$BENCH_DIR/node_modules/kinesis-local/server.json" \
      SHARD_LIMIT=100000 LOG_LEVEL=WARN \
      SHOULD_PERSIST_DATA="$persist" PERSIST_PATH="$SERVER_DATA/data" \
      node "$BENCH_DIR/node_modules/kinesis-local/main.js") >> "$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
}

# Starts the server, waits for its port and makes sure the stream exists and
# is ACTIVE. On failure sets R[<server>.status] and returns 1.
launch_server() {
  local s=$SERVER_NAME err="$RESULTS_DIR/$CONFIG_TAG.$SERVER_NAME.create.err"
  SERVER_PID=""
  case "$s" in
    kinesd) start_kinesd ;;
    kinesalite) start_kinesalite ;;
    kinesis-local) start_kinesis_local ;;
  esac
  if [[ -z "$SERVER_PID" ]]; then
    R[$s.status]="could not start"
    return 1
  fi
  RUNNING_PIDS+=("$SERVER_PID")
  if ! "${ADMIN[@]}" wait-port --port "$SERVER_PORT" --pid "$SERVER_PID" --timeout 60; then
    R[$s.status]="did not start listening (see $SERVER_LOG)"
    log "  $s did not come up; last lines of its log:"
    tail -n 10 "$SERVER_LOG" | sed 's/^/    /'
    return 1
  fi
  # CreateStream on an existing stream is fine: after a restart the stream is
  # usually still there.
  if ! "${ADMIN[@]}" create-stream --port "$SERVER_PORT" --stream "$STREAM" \
       --shards "$SERVER_SHARDS" --timeout 60 2> "$err"; then
    R[$s.status]="CreateStream failed: $(tr '\n' ' ' < "$err")"
    log "  ${R[$s.status]}"
    return 1
  fi
  return 0
}

# Keeps the highest VmHWM seen across the server's processes, in KiB.
sample_rss() {
  local hwm key="$SERVER_NAME.rss_kib"
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null)
  [[ -n "$hwm" ]] && (( hwm > ${R[$key]:-0} )) && R[$key]=$hwm
  return 0
}

# A server that died in a phase is counted and started again on the same
# data directory, so the remaining phases still measure something.
ensure_server() {
  kill -0 "$SERVER_PID" 2>/dev/null && return 0
  local s=$SERVER_NAME
  wait "$SERVER_PID" 2>/dev/null
  forget_pid "$SERVER_PID"
  R[$s.crashes]=$(( ${R[$s.crashes]:-0} + 1 ))
  log "  $s has exited; last lines of its log:"
  tail -n 6 "$SERVER_LOG" | sed 's/^/    /'
  log "  restarting $s on its data directory"
  echo "---- restarted by run.sh ----" >> "$SERVER_LOG"
  launch_server
}

# ---------------------------------------------------------------------------
# Results: R[<server>.<metric>] holds numbers parsed from RESULT lines.

declare -A R=()

result_field() {  # result_field FILE KEY
  grep -m1 '^RESULT ' "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}

cpu_ticks() {  # user+system clock ticks used so far by PID
  [[ -r /proc/$1/stat ]] || return 1
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# A server may still be working through requests that wrk sent just before it
# stopped; let it finish so that backlog does not land in the next phase.
wait_idle() {  # wait_idle PID
  local pid=$1 hz prev cur i
  hz=$(getconf CLK_TCK)
  prev=$(cpu_ticks "$pid") || return 0
  for i in $(seq 1 120); do
    sleep 0.5
    cur=$(cpu_ticks "$pid") || return 0
    # Below 5% of one core over the last half second counts as idle.
    if (( (cur - prev) * 40 < hz )); then
      (( i > 2 )) && log "    (waited $(awk -v n="$i" 'BEGIN { printf "%.1f", n / 2 }') s for $SERVER_NAME to go idle)"
      return 0
    fi
    prev=$cur
  done
  log "    ($SERVER_NAME still busy after 60 s; going on)"
}

loadavg() { cut -d' ' -f1 /proc/loadavg; }

# server_cpu KEY TICKS0: the server's CPU seconds since TICKS0 into
# R[KEY.server_cpu_s] (nothing when it restarted in between). Less sensitive
# to other work on the machine than a rate is.
server_cpu() {
  local now
  now=$(cpu_ticks "$SERVER_PID") || return 0
  [[ -n "$2" && "$now" -ge "$2" ]] || return 0
  R[$1.server_cpu_s]=$(awk -v t=$((now - $2)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
}

# run_wrk NAME CONNECTIONS THREADS SCRIPT ARGS... against the current server
run_wrk() {
  local name=$1 conns=$2 threads=$3 script=$4 server=$SERVER_NAME
  shift 4
  local out="$RESULTS_DIR/$CONFIG_TAG.$server.$name.txt"
  ensure_server || return 1
  wait_idle "$SERVER_PID"
  log "  $name: $conns connection(s), ${DURATION}s (load average $(loadavg))"
  local ticks0
  ticks0=$(cpu_ticks "$SERVER_PID")
  timeout --signal=INT --kill-after=10 $((DURATION + 120)) \
    wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 60s --latency \
      -s "$BENCH_DIR/$script" "$SERVER_SCHEME://127.0.0.1:$SERVER_PORT/" -- "$@" > "$out" 2>&1
  local rc=$?
  server_cpu "$server.$name" "$ticks0"
  sample_rss
  if ! grep -q '^RESULT ' "$out"; then
    log "  $name failed (wrk exit $rc):"
    tail -n 5 "$out" | sed 's/^/    /'
    return 1
  fi
  local k
  for k in records_per_s mb_per_s p50_ms p90_ms p99_ms records requests non200 failed_records unparsed socket_errors; do
    R[$server.$name.$k]=$(result_field "$out" "$k")
  done
  # With no completed call there is no latency to report.
  if [[ "${R[$server.$name.requests]:-0}" == 0 ]]; then
    for k in p50_ms p90_ms p99_ms; do unset "R[$server.$name.$k]"; done
  fi
  R[$server.$name.errors]=$(( ${R[$server.$name.non200]:-0} + ${R[$server.$name.failed_records]:-0} +
                              ${R[$server.$name.unparsed]:-0} + ${R[$server.$name.socket_errors]:-0} ))
  log "    $(printf '%.0f' "${R[$server.$name.records_per_s]}") records/s, p50 ${R[$server.$name.p50_ms]:-—} ms, p99 ${R[$server.$name.p99_ms]:-—} ms, errors ${R[$server.$name.errors]}"
  return 0
}

bench_server() {  # bench_server NAME SIZE SHARDS
  local server=$1 size=$2 shards=$3
  log "== $server: $(size_label "$size") records, $shards shard(s)"
  if [[ -n "${UNAVAILABLE[$server]:-}" ]]; then
    R[$server.status]="not run: ${UNAVAILABLE[$server]}"
    log "  skipped: ${UNAVAILABLE[$server]}"
    return
  fi
  SERVER_NAME=$server
  SERVER_SHARDS=$shards
  SERVER_PORT=$("${ADMIN[@]}" free-port) || { R[$server.status]="no free port"; return; }
  SERVER_DATA="$WORK_TMP/$server-data"
  SERVER_LOG="$RESULTS_DIR/$CONFIG_TAG.$server.server.log"
  rm -rf "$SERVER_DATA" && mkdir -p "$SERVER_DATA"
  : > "$SERVER_LOG"

  if ! launch_server; then
    log "  ${R[$server.status]}"
    finish_server
    return
  fi

  local per_request=$RECORDS_PER_REQUEST
  if [[ -z "$per_request" ]]; then
    per_request=$(( 4194304 / size ))
    (( per_request > 500 )) && per_request=500
    (( per_request < 1 )) && per_request=1
  fi

  run_wrk put_records 4 2 put_records.lua "$STREAM" "$per_request" "$size"
  # The same load in CBOR 1.1, as the Java SDKs and the KPL send it.
  [[ $server == kinesd && $CBOR -eq 1 ]] &&
    run_wrk put_records_cbor 4 2 put_records.lua "$STREAM" "$per_request" "$size" 0 cbor
  # The target for one connection is relative to the disk's own sync time,
  # which drifts on shared machines: measured right before the phase.
  [[ $server == kinesd ]] && probe_sync "$SERVER_DATA"
  run_wrk put_record_c1 1 1 put_record.lua "$STREAM" "$size"
  run_wrk put_record_c16 16 2 put_record.lua "$STREAM" "$size"

  local put_total=0 k
  for k in put_records put_records_cbor put_record_c1 put_record_c16; do
    put_total=$(( put_total + ${R[$server.$k.records]:-0} ))
  done
  R[$server.put_total]=$put_total

  if ensure_server; then
    run_drain drain json "$size" "$shards"
    # The same records again, read in CBOR (the drain client only).
    [[ $server == kinesd && $CBOR -eq 1 && -n "$DRAIN_CLIENT" ]] && run_drain drain_cbor cbor "$size" "$shards"
    kill -0 "$SERVER_PID" 2>/dev/null || R[$server.crashes]=$(( ${R[$server.crashes]:-0} + 1 ))
    R[$server.status]=ok
  fi
  finish_server
}

run_drain() {  # run_drain NAME FORMAT SIZE SHARDS: read the current server's whole stream
  local name=$1 format=$2 size=$3 shards=$4 server=$SERVER_NAME k
  # GetRecords answers are capped at 10 MiB, so ask for no more than that.
  local limit=$(( 10485760 / size ))
  (( limit > 10000 )) && limit=10000
  (( limit < 1 )) && limit=1
  local dout="$RESULTS_DIR/$CONFIG_TAG.$server.$name.txt"
  wait_idle "$SERVER_PID"
  log "  $name: GetRecords in $format, Limit $limit over $shards shard(s)"
  local ticks0
  ticks0=$(cpu_ticks "$SERVER_PID")
  local drain=("$PY" "$BENCH_DIR/drain.py")
  [[ -n "$DRAIN_CLIENT" ]] && drain=("$DRAIN_CLIENT" --format "$format")
  timeout --kill-after=10 $((DRAIN_TIMEOUT + 60)) \
    "${drain[@]}" --port "$SERVER_PORT" --stream "$STREAM" --limit "$limit" \
      --timeout "$DRAIN_TIMEOUT" > "$dout" 2>&1
  server_cpu "$server.$name" "$ticks0"
  sample_rss
  if grep -q '^RESULT ' "$dout"; then
    for k in records_per_s records mb_per_s timed_out client_cpu_s duration_s; do
      R[$server.$name.$k]=$(result_field "$dout" "$k")
    done
    log "    $(grep -v '^RESULT' "$dout" | tail -n 1)"
  else
    log "  $name failed:"; tail -n 5 "$dout" | sed 's/^/    /'
  fi
}

finish_server() {
  [[ -n "${R[$SERVER_NAME.rss_kib]:-}" ]] &&
    R[$SERVER_NAME.rss_mib]=$(awk -v k="${R[$SERVER_NAME.rss_kib]}" 'BEGIN { printf "%.1f", k / 1024 }')
  if [[ -n "$SERVER_PID" ]]; then
    stop_pid "$SERVER_PID"
    forget_pid "$SERVER_PID"
  fi
  SERVER_PID=""
  rm -rf "$SERVER_DATA"
}

probe_sync() {  # probe_sync DIR
  local out
  out=$(python3 "$BENCH_DIR/sync_probe.py" "$1" 2>/dev/null) || { log "  sync probe failed"; return; }
  R[sync.p50_ms]=${out% *}
  R[sync.p99_ms]=${out#* }
  log "  disk sync (200 B write + fdatasync): p50 ${R[sync.p50_ms]} ms, p99 ${R[sync.p99_ms]} ms"
}

# The ops/sec db_bench printed for BENCHMARK in FILE; nothing when it did not
# finish, with the tail of its output on stderr (stdout is the answer).
db_bench_rate() {  # db_bench_rate BENCHMARK FILE
  local rate
  rate=$(awk -v b="$1" '$1 == b { for (i = 1; i < NF; i++) if ($(i+1) == "ops/sec") print $i }' "$2")
  if [[ -z "$rate" ]]; then
    log "  db_bench failed:" >&2; tail -n 5 "$2" | sed 's/^/    /' >&2
    return
  fi
  echo "$rate"
}

# RocksDB's own sequential batched writes with fsync per batch: what the
# storage engine can do on this disk with no HTTP, JSON or base64 in the way.
run_db_bench() {  # run_db_bench SIZE BATCH
  local size=$1 batch=$2 dir="$WORK_TMP/db_bench" out="$RESULTS_DIR/$CONFIG_TAG.db_bench.txt"
  local common=(--benchmarks=fillseq --value_size="$size" --batch_size="$batch" --sync=1
                --compression_ratio=1 --threads=1)
  # db_bench's --duration does not apply to fillseq: calibrate on ~32 MiB,
  # then size the real run to last about DURATION seconds.
  local calib_num=$(( 33554432 / size ))
  (( calib_num < batch * 10 )) && calib_num=$(( batch * 10 ))
  log "== db_bench fillseq ($(size_label "$size") values, batch $batch, sync=1)"
  rm -rf "$dir"
  timeout --kill-after=10 120 "$DB_BENCH_BIN" "${common[@]}" --db="$dir" --num="$calib_num" \
    > "$out.calibrate" 2>&1
  rm -rf "$dir"
  local rate
  rate=$(db_bench_rate fillseq "$out.calibrate")
  [[ -n "$rate" ]] || return 0
  local num
  num=$(awk -v r="$rate" -v d="$DURATION" -v b="$batch" 'BEGIN { n = int(r * d); if (n < b) n = b; print n }')
  timeout --kill-after=10 $((DURATION * 4 + 120)) "$DB_BENCH_BIN" "${common[@]}" --db="$dir" --num="$num" \
    > "$out" 2>&1
  rm -rf "$dir"
  rate=$(db_bench_rate fillseq "$out")
  [[ -n "$rate" ]] || return 0
  R[db_bench.rate]=$rate
  R[db_bench.mbps]=$(awk -v r="$rate" -v s="$size" 'BEGIN { printf "%.3f", r * s / 1e6 }')
  log "  $(printf '%.0f' "$rate") records/s, ${R[db_bench.mbps]} MB/s of values"
}

# RocksDB's own synced single puts from WRITERS threads at once, each waiting
# for its put to be durable before the next: what PutRecord at 1 and at 16
# connections could reach with no HTTP in the way. The threads share log syncs
# through RocksDB's group commit, as kinesd's connections share its syncs.
run_db_bench_single_puts() {  # run_db_bench_single_puts SIZE WRITERS
  local size=$1 writers=$2 dir="$WORK_TMP/db_bench" out="$RESULTS_DIR/$CONFIG_TAG.db_bench_puts_$2.txt"
  log "== db_bench fillrandom ($(size_label "$size") values, $writers writer(s), one synced put each)"
  rm -rf "$dir"
  timeout --kill-after=10 $((DURATION * 4 + 120)) "$DB_BENCH_BIN" --benchmarks=fillrandom \
    --value_size="$size" --batch_size=1 --sync=1 --compression_ratio=1 --threads="$writers" \
    --num=1000000000 --duration="$DURATION" --db="$dir" > "$out" 2>&1
  rm -rf "$dir"
  local rate
  rate=$(db_bench_rate fillrandom "$out")
  [[ -n "$rate" ]] || return 0
  R[db_bench.puts_$writers.rate]=$rate
  log "  $(printf '%.0f' "$rate") records/s"
}

# ---------------------------------------------------------------------------
# Table

us_per_record() {  # us_per_record CPU_SECONDS RECORDS
  if [[ -n "${1:-}" && "${2:-0}" != 0 ]]; then awk -v c="$1" -v n="$2" 'BEGIN { printf "%.2f", c * 1e6 / n }'; else printf "—"; fi
}
fmt_int() { [[ -n "${1:-}" ]] && printf "%.0f" "$1" || printf "—"; }
fmt_1() { [[ -n "${1:-}" ]] && printf "%.1f" "$1" || printf "—"; }
fmt_2() { [[ -n "${1:-}" ]] && printf "%.2f" "$1" || printf "—"; }
fmt_mb() {  # MB/s: keep two significant digits for slow servers
  [[ -n "${1:-}" ]] || { printf "—"; return; }
  awk -v v="$1" 'BEGIN { if (v >= 10) printf "%.1f", v; else printf "%.2f", v }'
}
ratio() {  # ratio A B -> A/B, two significant digits below 1
  if [[ -n "${1:-}" && -n "${2:-}" ]]; then
    awk -v a="$1" -v b="$2" 'BEGIN {
      if (b <= 0) { printf "—"; exit }
      r = a / b
      if (r >= 10) printf "%.1f", r; else if (r >= 1) printf "%.2f", r; else printf "%.2g", r
    }'
  else
    printf "—"
  fi
}

print_table() {  # print_table SIZE SHARDS
  local size=$1 shards=$2 s
  echo
  echo "### $(size_label "$size") records, $shards shard(s), ${DURATION} s per phase"
  echo
  echo "| server | PutRecords rec/s | PutRecords MB/s | PutRecords p50 ms | PutRecords p99 ms | PutRecord c=1 rec/s | PutRecord c=1 p50 ms | PutRecord c=16 rec/s | drain rec/s | peak RSS MiB | errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in "${SERVER_LIST[@]}"; do
    if [[ "${R[$s.status]:-}" != ok ]]; then
      echo "| $s | ${R[$s.status]:-not run} | | | | | | | | | |"
      continue
    fi
    local label=$s
    (( ${R[$s.crashes]:-0} > 0 )) && label="$s (crashed ×${R[$s.crashes]})"
    local errors=$(( ${R[$s.put_records.errors]:-0} + ${R[$s.put_records_cbor.errors]:-0} +
                     ${R[$s.put_record_c1.errors]:-0} + ${R[$s.put_record_c16.errors]:-0} ))
    echo "| $label | $(fmt_int "${R[$s.put_records.records_per_s]:-}") | $(fmt_mb "${R[$s.put_records.mb_per_s]:-}") | $(fmt_2 "${R[$s.put_records.p50_ms]:-}") | $(fmt_2 "${R[$s.put_records.p99_ms]:-}") | $(fmt_int "${R[$s.put_record_c1.records_per_s]:-}") | $(fmt_2 "${R[$s.put_record_c1.p50_ms]:-}") | $(fmt_int "${R[$s.put_record_c16.records_per_s]:-}") | $(fmt_int "${R[$s.drain.records_per_s]:-}") | $(fmt_1 "${R[$s.rss_mib]:-}") | $errors |"
  done
  if [[ -n "${R[db_bench.rate]:-}" ]]; then
    echo "| RocksDB db_bench fillseq (ceiling) | $(fmt_int "${R[db_bench.rate]}") | $(fmt_mb "${R[db_bench.mbps]}") | | | | | | | | |"
  fi
  if [[ -n "${R[db_bench.puts_1.rate]:-}${R[db_bench.puts_16.rate]:-}" ]]; then
    echo "| RocksDB db_bench fillrandom, one synced put per writer (ceiling) | | | | | $(fmt_int "${R[db_bench.puts_1.rate]:-}") | | $(fmt_int "${R[db_bench.puts_16.rate]:-}") | | | |"
  fi

  if wants kinesd && [[ "${R[kinesd.status]:-}" == ok ]]; then
    local others=0
    for s in "${SERVER_LIST[@]}"; do [[ $s != kinesd && "${R[$s.status]:-}" == ok ]] && others=1; done
    if [[ $others -eq 1 ]]; then
      echo
      echo "kinesd ÷ other server (rates: higher is better for kinesd; latency and RSS: lower is better):"
      echo
      echo "| kinesd ÷ | PutRecords rec/s | PutRecords p50 | PutRecords p99 | PutRecord c=1 rec/s | PutRecord c=1 p50 | PutRecord c=16 rec/s | drain rec/s | peak RSS |"
      echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
      for s in "${SERVER_LIST[@]}"; do
        [[ $s == kinesd || "${R[$s.status]:-}" != ok ]] && continue
        echo "| $s | $(ratio "${R[kinesd.put_records.records_per_s]:-}" "${R[$s.put_records.records_per_s]:-}") | $(ratio "${R[kinesd.put_records.p50_ms]:-}" "${R[$s.put_records.p50_ms]:-}") | $(ratio "${R[kinesd.put_records.p99_ms]:-}" "${R[$s.put_records.p99_ms]:-}") | $(ratio "${R[kinesd.put_record_c1.records_per_s]:-}" "${R[$s.put_record_c1.records_per_s]:-}") | $(ratio "${R[kinesd.put_record_c1.p50_ms]:-}" "${R[$s.put_record_c1.p50_ms]:-}") | $(ratio "${R[kinesd.put_record_c16.records_per_s]:-}" "${R[$s.put_record_c16.records_per_s]:-}") | $(ratio "${R[kinesd.drain.records_per_s]:-}" "${R[$s.drain.records_per_s]:-}") | $(ratio "${R[kinesd.rss_mib]:-}" "${R[$s.rss_mib]:-}") |"
      done
      if [[ -n "${R[db_bench.rate]:-}" ]]; then
        echo
        echo "kinesd PutRecords reaches $(ratio "${R[kinesd.put_records.records_per_s]:-}" "${R[db_bench.rate]}")× of the db_bench ceiling."
      fi
    fi
    if [[ -n "${R[sync.p50_ms]:-}" && -n "${R[kinesd.put_record_c1.p50_ms]:-}" ]]; then
      echo
      echo "Disk sync (200 B write + fdatasync, just before kinesd's PutRecord c=1): p50 ${R[sync.p50_ms]} ms, p99 ${R[sync.p99_ms]} ms; kinesd's c=1 p50 is the sync + $(awk -v a="${R[kinesd.put_record_c1.p50_ms]}" -v b="${R[sync.p50_ms]}" 'BEGIN { printf "%.3f", a - b }') ms."
    fi
    if [[ -n "${R[db_bench.puts_1.rate]:-}" && -n "${R[db_bench.puts_16.rate]:-}" ]]; then
      echo
      echo "kinesd PutRecord reaches $(ratio "${R[kinesd.put_record_c1.records_per_s]:-}" "${R[db_bench.puts_1.rate]}")× of db_bench's one-writer ceiling at c=1 and $(ratio "${R[kinesd.put_record_c16.records_per_s]:-}" "${R[db_bench.puts_16.rate]}")× of its 16-writer ceiling at c=16."
    fi
  fi

  if [[ -n "${R[kinesd.put_records_cbor.records_per_s]:-}${R[kinesd.drain_cbor.records_per_s]:-}" ]]; then
    echo
    echo "kinesd by wire format (the CBOR PutRecords phase runs right after the JSON one, on the same stream; both drains read the whole stream):"
    echo
    echo "| kinesd | PutRecords rec/s | PutRecords MB/s | PutRecords p50 ms | PutRecords p99 ms | PutRecords server CPU µs/record | drain rec/s | drain server CPU µs/record | drain client CPU s |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    local f p d
    for f in json cbor; do
      p=put_records d=drain
      [[ $f == cbor ]] && p=put_records_cbor d=drain_cbor
      echo "| $([[ $f == json ]] && echo "JSON 1.1" || echo "CBOR 1.1") | $(fmt_int "${R[kinesd.$p.records_per_s]:-}") | $(fmt_mb "${R[kinesd.$p.mb_per_s]:-}") | $(fmt_2 "${R[kinesd.$p.p50_ms]:-}") | $(fmt_2 "${R[kinesd.$p.p99_ms]:-}") | $(us_per_record "${R[kinesd.$p.server_cpu_s]:-}" "${R[kinesd.$p.records]:-}") | $(fmt_int "${R[kinesd.$d.records_per_s]:-}") | $(us_per_record "${R[kinesd.$d.server_cpu_s]:-}" "${R[kinesd.$d.records]:-}") | ${R[kinesd.$d.client_cpu_s]:-—} |"
    done
    echo
    echo "CBOR ÷ JSON: PutRecords $(ratio "${R[kinesd.put_records_cbor.records_per_s]:-}" "${R[kinesd.put_records.records_per_s]:-}"), drain $(ratio "${R[kinesd.drain_cbor.records_per_s]:-}" "${R[kinesd.drain.records_per_s]:-}")."
  fi

  # Everything accepted must come back: wrk may stop with a few calls in flight
  # that the server still stored, so the drain may see slightly more, never less.
  local notes=()
  for s in "${SERVER_LIST[@]}"; do
    [[ "${R[$s.status]:-}" == ok ]] || continue
    (( ${R[$s.crashes]:-0} > 0 )) &&
      notes+=("$s exited ${R[$s.crashes]} time(s) and was restarted on its data directory; peak RSS is the highest of its processes (see $CONFIG_TAG.$s.server.log)")
    local put=${R[$s.put_total]:-0} got=${R[$s.drain.records]:-}
    if [[ -z "$got" ]]; then
      notes+=("$s: drain did not finish")
    elif (( got < put )); then
      notes+=("$s: drained $got records but $put were acknowledged: $((put - got)) missing")
    fi
    [[ "${R[$s.drain.timed_out]:-0}" == 1 ]] && notes+=("$s: drain stopped at --drain-timeout; its rate covers a partial read")
    [[ -n "${R[$s.drain_cbor.records]:-}" ]] && (( ${R[$s.drain_cbor.records]} < put )) &&
      notes+=("$s: the CBOR drain read ${R[$s.drain_cbor.records]} records but $put were acknowledged")
    (( ${R[$s.put_records_cbor.unparsed]:-0} > 0 )) && notes+=("$s: ${R[$s.put_records_cbor.unparsed]} CBOR PutRecords answers had no FailedRecordCount")
    (( ${R[$s.put_records.unparsed]:-0} > 0 )) && notes+=("$s: ${R[$s.put_records.unparsed]} PutRecords answers had no FailedRecordCount")
  done
  if [[ ${#notes[@]} -gt 0 ]]; then
    echo
    for n in "${notes[@]}"; do echo "- $n"; done
  fi
  return 0
}

# ---------------------------------------------------------------------------
# SubscribeToShard: put-to-push latency with 1, 4 and 16 subscribers on one
# shard, and the rate 16 subscribers are pushed a backlog at
# (bench/subscribe_latency.py), for kinesd and kinesis-local (kinesalite has
# no SubscribeToShard).

sub_field() {  # sub_field FILE KIND SUBSCRIBERS KEY
  grep "^RESULT kind=$2 subscribers=$3 " "$1" 2>/dev/null | head -n1 | tr ' ' '\n' | sed -n "s/^$4=//p"
}

bench_subscribe_server() {  # bench_subscribe_server NAME
  local server=$1 backlog=$SUBSCRIBE_BACKLOG out
  log "== SubscribeToShard: $server"
  if [[ -n "${UNAVAILABLE[$server]:-}" ]]; then
    R[$server.status]="not run: ${UNAVAILABLE[$server]}"
    return
  fi
  [[ $server == kinesd ]] || backlog=$SUBSCRIBE_PEER_BACKLOG
  SERVER_NAME=$server
  SERVER_SHARDS=1
  SERVER_PORT=$("${ADMIN[@]}" free-port) || { R[$server.status]="no free port"; return; }
  SERVER_DATA="$WORK_TMP/$server-subscribe-data"
  SERVER_LOG="$RESULTS_DIR/subscribe.$server.server.log"
  CONFIG_TAG=subscribe
  rm -rf "$SERVER_DATA" && mkdir -p "$SERVER_DATA"
  : > "$SERVER_LOG"
  if ! launch_server; then
    finish_server
    return
  fi
  out="$RESULTS_DIR/subscribe.$server.txt"
  timeout --kill-after=10 1800 "$PY" "$BENCH_DIR/subscribe_latency.py" --port "$SERVER_PORT" \
    --duration "$DURATION" --backlog-records "$backlog" > "$out" 2> "$RESULTS_DIR/subscribe.$server.err"
  sample_rss
  grep '^RESULT ' "$out" | sed 's/^/    /'
  if grep -q '^RESULT ' "$out"; then
    R[$server.status]=ok
  else
    R[$server.status]="failed: $(tail -n 2 "$RESULTS_DIR/subscribe.$server.err" | tr '\n' ' ')"
    log "  ${R[$server.status]}"
  fi
  R[$server.sub_out]=$out
  finish_server
}

print_subscribe_table() {
  local s out n p50 p99 miss
  echo
  echo "### SubscribeToShard, one shard, $(size_label 100) records"
  echo
  echo "Latency: one producer puts 100 single records a second for ${DURATION} s; time from sending PutRecord to reading the event from each subscriber's socket (one clock), and the PutRecord round trip of the 1-subscriber run beside it. Backlog: 16 subscribers read a backlog from TRIM_HORIZON at once; records delivered to all of them together per second."
  echo
  echo "| server | 1 subscriber p50 / p99 ms | 4 subscribers p50 / p99 ms | 16 subscribers p50 / p99 ms | its PutRecord p50 / p99 ms | backlog rec/s to 16 (records each) | client CPU s | lost / twice | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in kinesd kinesis-local; do
    wants "$s" || continue
    if [[ "${R[$s.status]:-}" != ok ]]; then
      echo "| $s | ${R[$s.status]:-not run} | | | | | | | |"
      continue
    fi
    out=${R[$s.sub_out]}
    local cells=() lost=0 twice=0 dup
    for n in 1 4 16; do
      p50=$(sub_field "$out" subscribe_latency "$n" p50_ms)
      p99=$(sub_field "$out" subscribe_latency "$n" p99_ms)
      miss=$(sub_field "$out" subscribe_latency "$n" missing)
      lost=$(( lost + ${miss:-0} ))
      dup=$(sub_field "$out" subscribe_latency "$n" duplicates)
      twice=$(( twice + ${dup:-0} ))
      cells+=("${p50:-—} / ${p99:-—}")
    done
    local rate each cpu put50 put99
    put50=$(sub_field "$out" subscribe_latency 1 put_p50_ms)
    put99=$(sub_field "$out" subscribe_latency 1 put_p99_ms)
    rate=$(sub_field "$out" subscribe_backlog 16 records_per_s)
    each=$(sub_field "$out" subscribe_backlog 16 records_each)
    cpu=$(sub_field "$out" subscribe_backlog 16 client_cpu_s)
    local rss=""
    [[ -n "${R[$s.rss_kib]:-}" ]] && rss=$(awk -v k="${R[$s.rss_kib]}" 'BEGIN { printf "%.1f", k / 1024 }')
    echo "| $s | ${cells[0]} | ${cells[1]} | ${cells[2]} | ${put50:-—} / ${put99:-—} | ${rate:-—} (${each:-—}) | ${cpu:-—} | $lost / $twice | ${rss:-—} |"
  done
}

bench_subscribe() {
  R=()
  local s
  for s in kinesd kinesis-local; do
    wants "$s" && bench_subscribe_server "$s"
  done
  print_subscribe_table | tee -a "$RESULTS_DIR/results.md"
}

# ---------------------------------------------------------------------------
# Main. Everything runs from this one function, called on the script's last
# line, so bash has parsed the whole file before any benchmark starts.

# ---------------------------------------------------------------------------
# What the production settings cost: kinesd's PutRecords phase with metrics
# off, with metrics on, with signatures checked as well, and over TLS as well,
# each on a fresh server, in the order A B C D D C B A so that a machine that
# drifts during the run weighs on every setting alike.

settings_args() {  # settings_args MODE: kinesd's options for one setting
  case "$1" in
    off) echo "--metrics off" ;;
    metrics) echo "--metrics on" ;;
    auth|tls) echo "--metrics on --credentials-file $WORK_TMP/bench-credentials" ;;
  esac
}

bench_settings_compare() {  # bench_settings_compare SIZE
  local size=$1 shards=${SHARD_LIST[0]} saved_args=$KINESD_ARGS mode i=0 round
  if [[ -n "${UNAVAILABLE[kinesd]:-}" ]]; then
    log "settings comparison skipped: ${UNAVAILABLE[kinesd]}"
    return
  fi
  local per_request=$RECORDS_PER_REQUEST
  if [[ -z "$per_request" ]]; then
    per_request=$(( 4194304 / size )); (( per_request > 500 )) && per_request=500; (( per_request < 1 )) && per_request=1
  fi
  # One key for the signed settings; the wrk scripts and the admin client
  # sign with it when these are set.
  printf '[bench]\naws_access_key_id = AKIDKINESDBENCH\naws_secret_access_key = %s\n' \
    "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$WORK_TMP/bench-credentials"
  local secret
  secret=$(awk -F' = ' '/secret/ {print $2}' "$WORK_TMP/bench-credentials")
  CONFIG_TAG="settings-compare"
  R=()
  local order=() forward=() m
  read -ra forward <<< "$SETTINGS_MODES"
  for (( round = 0; round < SETTINGS_ROUNDS; round++ )); do
    order+=("${forward[@]}")
    for (( m = ${#forward[@]} - 1; m >= 0; m-- )); do order+=("${forward[m]}"); done
  done
  local runs=${#order[@]}
  for mode in "${order[@]}"; do
    i=$((i + 1))
    R[mode.$i]=$mode
    log "== kinesd PutRecords, settings: $mode (run $i of $runs): $(size_label "$size") records, $shards shard(s)"
    SERVER_NAME=kinesd
    SERVER_SHARDS=$shards
    SERVER_PORT=$("${ADMIN[@]}" free-port) || { log "  no free port"; continue; }
    SERVER_DATA="$WORK_TMP/kinesd-settings-data"
    SERVER_LOG="$RESULTS_DIR/$CONFIG_TAG.$i.server.log"
    rm -rf "$SERVER_DATA" && mkdir -p "$SERVER_DATA"
    : > "$SERVER_LOG"
    KINESD_ARGS="$saved_args $(settings_args "$mode")"
    if [[ $mode == auth || $mode == tls ]]; then
      export KINESD_BENCH_ACCESS_KEY=AKIDKINESDBENCH KINESD_BENCH_SECRET_KEY=$secret
    fi
    [[ $mode == tls ]] && SERVER_SCHEME=https
    if launch_server; then
      run_wrk "put_records_$i" 4 2 put_records.lua "$STREAM" "$per_request" "$size"
    else
      log "  ${R[kinesd.status]:-could not start}"
    fi
    finish_server
    unset KINESD_BENCH_ACCESS_KEY KINESD_BENCH_SECRET_KEY
    SERVER_SCHEME=http
    KINESD_ARGS=$saved_args
  done
  # Means over the runs of each setting: rec/s and server CPU per record.
  local sum_rate n_rate sum_cpu sum_records
  declare -A mean_rate mean_cpu
  for m in "${forward[@]}"; do
    sum_rate=0 n_rate=0 sum_cpu=0 sum_records=0
    for (( i = 1; i <= runs; i++ )); do
      [[ ${R[mode.$i]} == "$m" && -n "${R[kinesd.put_records_$i.records_per_s]:-}" ]] || continue
      sum_rate=$(awk -v a="$sum_rate" -v b="${R[kinesd.put_records_$i.records_per_s]}" 'BEGIN { print a + b }')
      sum_cpu=$(awk -v a="$sum_cpu" -v b="${R[kinesd.put_records_$i.server_cpu_s]:-0}" 'BEGIN { print a + b }')
      sum_records=$(( sum_records + ${R[kinesd.put_records_$i.records]:-0} ))
      n_rate=$((n_rate + 1))
    done
    (( n_rate > 0 )) && mean_rate[$m]=$(awk -v a="$sum_rate" -v n="$n_rate" 'BEGIN { printf "%.0f", a / n }')
    mean_cpu[$m]=$(us_per_record "$sum_cpu" "$sum_records")
  done
  {
    echo
    echo "### kinesd PutRecords under the production settings, $(size_label "$size") records, $shards shard(s), $per_request per call, 4 connections, ${DURATION} s per run"
    echo
    echo "off: --metrics off; metrics: --metrics on; auth: metrics + --credentials-file, every request signed; tls: auth + https on the same port."
    echo
    echo "| setting | run | rec/s | p50 ms | p99 ms | server CPU µs/record | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for (( i = 1; i <= runs; i++ )); do
      echo "| ${R[mode.$i]} | $i | $(fmt_int "${R[kinesd.put_records_$i.records_per_s]:-}") | ${R[kinesd.put_records_$i.p50_ms]:-—} | ${R[kinesd.put_records_$i.p99_ms]:-—} | $(us_per_record "${R[kinesd.put_records_$i.server_cpu_s]:-}" "${R[kinesd.put_records_$i.records]:-}") | ${R[kinesd.put_records_$i.errors]:-—} |"
    done
    echo
    echo "| setting | mean rec/s | ÷ off | server CPU µs/record | ÷ off |"
    echo "|---|---:|---:|---:|---:|"
    for m in "${forward[@]}"; do
      echo "| $m | $(fmt_int "${mean_rate[$m]:-}") | $(ratio "${mean_rate[$m]:-}" "${mean_rate[off]:-}") | ${mean_cpu[$m]} | $(ratio "${mean_cpu[$m]}" "${mean_cpu[off]}") |"
    done
  } | tee -a "$RESULTS_DIR/results.md"
}

main() {
  parse_args "$@"
  if [[ -z "$RESULTS_DIR" ]]; then
    RESULTS_DIR="$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)"
  fi
  mkdir -p "$RESULTS_DIR" || die "cannot create $RESULTS_DIR"
  RESULTS_DIR="$(cd "$RESULTS_DIR" && pwd)"
  WORK_TMP="$(mktemp -d "${TMPDIR:-/tmp}/kinesd-bench.XXXXXX")" || die "mktemp failed"
  trap cleanup EXIT
  trap 'echo "interrupted" >&2; exit 130' INT TERM
  find_tools
  prepare_servers

  {
    echo "# kinesd benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "- host: $(nproc) CPU(s), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)"
    echo "- CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    wants kinesd && echo "- kinesd: ${KINESD_BIN#"$ROOT_DIR"/} ${KINESD_ARGS:-(default options)}"
    echo "- drain client: $([[ -n "$DRAIN_CLIENT" ]] && echo "bench/drain_client.cc, one reader thread and connection per shard" || echo "bench/drain.py (drain_client.cc did not build), one connection")"
    echo "- wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}'), node $(node --version 2>/dev/null || echo missing), kinesalite $KINESALITE_VERSION ($([[ $PEERS_ON_DISK -eq 1 ]] && echo LevelDB on disk || echo in memory)), kinesis-local $KINESIS_LOCAL_VERSION ($([[ $PEERS_ON_DISK -eq 1 ]] && echo JSON snapshots every 5 s || echo in memory))"
  } > "$RESULTS_DIR/results.md"

  log "results and logs: $RESULTS_DIR"
  if awk -v l="$(loadavg)" -v n="$(nproc)" 'BEGIN { exit !(l > n / 4) }'; then
    log "warning: load average is $(loadavg) on $(nproc) CPU(s): other work will skew the numbers"
    echo "- load average at start: $(loadavg) (busy machine: numbers are noisy)" >> "$RESULTS_DIR/results.md"
  fi
  local size shards server batch
  local compare_size=${SIZE_LIST[0]}
  [[ $SUBSCRIBE_ONLY -eq 1 || $SETTINGS_COMPARE -eq 2 ]] && SIZE_LIST=()
  for size in "${SIZE_LIST[@]}"; do
    for shards in "${SHARD_LIST[@]}"; do
      CONFIG_TAG="size$size-shards$shards"
      R=()
      for server in "${SERVER_LIST[@]}"; do
        bench_server "$server" "$size" "$shards"
      done
      if [[ -n "$DB_BENCH_BIN" ]]; then
        batch=$RECORDS_PER_REQUEST
        if [[ -z "$batch" ]]; then
          batch=$(( 4194304 / size )); (( batch > 500 )) && batch=500; (( batch < 1 )) && batch=1
        fi
        run_db_bench "$size" "$batch"
        run_db_bench_single_puts "$size" 1
        run_db_bench_single_puts "$size" 16
      fi
      print_table "$size" "$shards" | tee -a "$RESULTS_DIR/results.md"
    done
  done
  [[ $SETTINGS_COMPARE -ne 0 ]] && wants kinesd && bench_settings_compare "$compare_size"
  if [[ $SUBSCRIBE -eq 1 ]] && { wants kinesd || wants kinesis-local; }; then
    bench_subscribe
  fi
  if [[ "$SCALE_STREAMS" -gt 0 ]] && wants kinesd && [[ -z "${UNAVAILABLE[kinesd]:-}" ]]; then
    log "== kinesd from 1 to $SCALE_STREAMS streams of 4 shards (load average $(loadavg))"
    {
      echo
      echo "### kinesd from 1 to $SCALE_STREAMS streams"
      echo
      timeout --kill-after=10 7200 "$PY" "$BENCH_DIR/scale.py" --kinesd "$KINESD_BIN" \
        --kinesd-args "--create-stream-ms 0 --shard-limit $((SCALE_STREAMS * 4 + 100)) $KINESD_ARGS" \
        --duration "$DURATION" streams --max-streams "$SCALE_STREAMS" 2> "$RESULTS_DIR/scale.err" ||
        echo "scale.py failed: $(tail -n 3 "$RESULTS_DIR/scale.err" | tr '\n' ' ')"
    } | tee -a "$RESULTS_DIR/results.md"
  fi
  echo
  log "table saved to $RESULTS_DIR/results.md"
}

main "$@"; exit $?
