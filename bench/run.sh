#!/usr/bin/env bash
# bench/run.sh - LEB's benchmark, what `make bench` runs: bash bench/run.sh [BUILD_DIR]
#
# Three phases, in one go, each on the same real disk (bench/.out/ under the work tree, so the
# fsync costs compared are the same disk's):
#   1. pgbench   PostgreSQL's own TPC-B-like rate (pgbench -c 16 -j 2, fsync on, synchronous
#                commit on) against a throwaway server this script starts and always stops.
#   2. engine    BUILD_DIR/engine_bench: durable recharge credits per second through the storage
#                layer, in-process (the lead's program; its output is passed through).
#   3. http      full recharge flows per second over HTTP against BUILD_DIR/lebd --demo, driven
#                by bench/http_load.js (create order + signed sandbox notify), with p50 and p99.
# It ends with exactly two lines:
#   bench: engine_credits_per_s=N pgbench_tps=N ratio=R
#   bench: http_flows_per_s=N p50_ms=X p99_ms=X
#
# It builds nothing: it checks that the binaries exist. It must never leave a process or a
# server behind: everything it starts is recorded and stopped by the EXIT trap, also on failure
# and Ctrl-C. See bench/README.md for how to read the figures.
#
# Tunables (environment): BENCH_PHASES (default "pgbench engine http"), BENCH_PGBENCH_S (20),
# BENCH_PGBENCH_SCALE (10), BENCH_PGBENCH_CLIENTS (16), BENCH_HTTP_S (15), BENCH_WARMUP_S (2),
# BENCH_CONCURRENCY (64), BENCH_WORKERS (2), BENCH_CARDS (100), BENCH_OUT (bench/.out),
# BENCH_PGBIN (the newest /usr/lib/postgresql/*/bin), BENCH_LEBD_ARGS (more lebd flags, e.g.
# "--log-level warn"). LEB_* variables in the environment reach lebd (e.g. LEB_STORE_BATCH_MAX).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build_arg=${1:-build}
started_s=$SECONDS

phases=${BENCH_PHASES:-"pgbench engine http"}
pgbench_s=${BENCH_PGBENCH_S:-20}
pgbench_scale=${BENCH_PGBENCH_SCALE:-10}
pgbench_clients=${BENCH_PGBENCH_CLIENTS:-16}
http_s=${BENCH_HTTP_S:-15}
warmup_s=${BENCH_WARMUP_S:-2}
out=${BENCH_OUT:-$repo/bench/.out}

# Targets the figures are reported against (not enforced: a missed target is reported).
target_ratio=10
target_flows_per_s=3000
target_p99_ms=50

say() { echo "bench: $*"; }
die() {
  echo "bench: FAILED: $*" >&2
  exit 1
}
has_phase() { [[ " $phases " == *" $1 "* ]]; }

for value in "$pgbench_s" "$pgbench_scale" "$pgbench_clients" "$http_s" "$warmup_s"; do
  if ! [[ $value =~ ^[0-9]+$ ]] || [ "$value" -lt 1 ] || [ "$value" -gt 3600 ]; then
    die "a BENCH_* duration, scale or count is not an integer in 1..3600: '$value'"
  fi
done

# ---------------------------------------------------------------------------------------------
# Everything started, so that the EXIT trap can stop it. child_pid is the foreground phase's
# program (run in the background and waited for, so that a signal reaches the trap at once).
pg_root=
pg_sock=
pg_data=
pg_started=0
lebd_pid=
child_pid=
tail_pid=

as_postgres() {
  # initdb refuses root: the throwaway server runs as the postgres system user.
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Waits at most $2 tenths of a second for process $1 to end; 0 if it ended.
wait_gone() {
  local pid=$1 tenths=$2 i
  for ((i = 0; i < tenths; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$pid" 2>/dev/null
}

stop_lebd() {
  # SIGTERM is lebd's graceful stop; SIGKILL only if it hangs, and then it is reported.
  local pid=$lebd_pid rc=0
  [ -n "$pid" ] || return 0
  lebd_pid=
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 150; then
      echo "bench: lebd did not exit within 15 s of SIGTERM: killed" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

stop_postgres() {
  if [ "$pg_started" -eq 1 ]; then
    pg_started=0
    as_postgres "$pgbin/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_postgres "$pgbin/pg_ctl" -D "$pg_data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
      echo "bench: could not stop the throwaway PostgreSQL in $pg_data" >&2
  fi
  if [ -n "$pg_root" ]; then rm -rf "$pg_root"; fi
  if [ -n "$pg_sock" ]; then rm -rf "$pg_sock"; fi
  pg_root='' pg_sock='' pg_data=''
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$child_pid" ] && kill -0 "$child_pid" 2>/dev/null; then
    kill -TERM "$child_pid" 2>/dev/null || true
    wait_gone "$child_pid" 50 || kill -KILL "$child_pid" 2>/dev/null || true
  fi
  if [ -n "$tail_pid" ]; then kill "$tail_pid" 2>/dev/null || true; fi
  stop_lebd || true
  stop_postgres
  exit "$status"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'echo "bench: terminated" >&2; exit 143' TERM

# Runs "$@" with its output into file $1 and, live, on our stdout; returns its exit status.
# The program runs in the background and is waited for, so that Ctrl-C or SIGTERM reach the
# trap at once (bash ignores SIGINT in background jobs: the trap stops it with SIGTERM).
run_logged() {
  local file=$1 rc=0
  shift
  : >"$file"
  "$@" >"$file" 2>&1 &
  child_pid=$!
  tail -n +1 -s 0.2 -f --pid="$child_pid" "$file" &
  tail_pid=$!
  wait "$child_pid" || rc=$?
  wait "$tail_pid" 2>/dev/null || true
  child_pid='' tail_pid=''
  return "$rc"
}

# A loopback port nothing listens on (start-up retries cover the race with other programs).
free_port() {
  local port i
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# Preconditions: binaries, tools, the working directory and its disk.
build=$build_arg
if has_phase engine || has_phase http; then
  [ -d "$build_arg" ] || die "no build directory '$build_arg' (run: make build)"
  build=$(cd "$build_arg" && pwd)
fi
if has_phase engine; then
  [ -x "$build/engine_bench" ] || die "$build/engine_bench is missing (run: make build)"
fi
if has_phase http; then
  [ -x "$build/lebd" ] || die "$build/lebd is missing (run: make build)"
  command -v node >/dev/null 2>&1 || die "node is missing (run: make deps)"
fi
if has_phase pgbench; then
  if [ -n "${BENCH_PGBIN:-}" ]; then
    pgbin=$BENCH_PGBIN
  else
    pgbin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  for tool in initdb pg_ctl pgbench; do
    [ -x "$pgbin/$tool" ] || die "$tool not found in '$pgbin' (run: make deps, or set BENCH_PGBIN)"
  done
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the postgres system user (make deps)"
  fi
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
fs_source=$(df -PT "$out" | awk 'NR == 2 { print $1 }')
fs_type=$(df -PT "$out" | awk 'NR == 2 { print $2 }')
say "working directory $out on $fs_source ($fs_type); $(nproc) cores"
if [ "$fs_type" = tmpfs ] || [ "$fs_type" = ramfs ]; then
  echo "bench: warning: $out is in memory: fsync costs nothing there, figures are not a disk's" >&2
fi

pgbench_tps=
engine_credits_per_s=
http_flows_per_s='' http_p50_ms='' http_p99_ms=''

# ---------------------------------------------------------------------------------------------
# Phase 1: pgbench against a throwaway PostgreSQL on the same disk.
if has_phase pgbench; then
  pg_root=$(mktemp -d "$out/pg.XXXXXX")
  # The socket directory holds no data; /tmp keeps its path under the 107-byte socket limit.
  pg_sock=$(mktemp -d "${TMPDIR:-/tmp}/leb-pgsock.XXXXXX")
  pg_data=$pg_root/data
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$pg_root" "$pg_sock"; fi
  as_postgres test -w "$pg_root" ||
    die "the postgres user cannot write to $pg_root (a parent directory is closed to it: set BENCH_OUT)"

  say "pgbench: initdb into $pg_data"
  # --no-sync only skips initdb's own final sync; the server below runs with fsync on.
  as_postgres "$pgbin/initdb" -D "$pg_data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
    >"$pg_root/initdb.log" 2>&1 || {
    cat "$pg_root/initdb.log" >&2
    die "initdb failed"
  }

  # Durable settings as the brief asks (fsync, synchronous_commit, full_page_writes on), plus a
  # fair amount of memory and WAL so that the 20 s run measures commits, not a checkpoint.
  pg_opts="-c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on"
  pg_opts+=" -c full_page_writes=on -c shared_buffers=512MB -c max_wal_size=4GB"
  pg_opts+=" -c checkpoint_timeout=30min -c max_connections=$((pgbench_clients + 10))"
  pg_port=
  for attempt in 1 2 3; do
    port=$(free_port) || die "no free loopback port found"
    if as_postgres "$pgbin/pg_ctl" -D "$pg_data" -l "$pg_root/server.log" -w -t 60 \
      -o "-p $port -k $pg_sock $pg_opts" start >/dev/null 2>&1; then
      pg_started=1
      pg_port=$port
      break
    fi
    # A failed start may still have left a postmaster (a time-out): stop it before retrying.
    pg_started=1
    as_postgres "$pgbin/pg_ctl" -D "$pg_data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    pg_started=0
    echo "bench: PostgreSQL did not start on port $port (attempt $attempt)" >&2
  done
  if [ -z "$pg_port" ]; then
    tail -n 20 "$pg_root/server.log" >&2 || true
    die "PostgreSQL did not start"
  fi
  say "pgbench: PostgreSQL $("$pgbin/postgres" --version | awk '{ print $3 }') on 127.0.0.1:$pg_port (fsync=on synchronous_commit=on)"

  pgbench_conn=(-h 127.0.0.1 -p "$pg_port" -U postgres)
  say "pgbench: initialising scale $pgbench_scale (pgbench -i -s $pgbench_scale) ..."
  run_logged "$out/pgbench-init.out" "$pgbin/pgbench" "${pgbench_conn[@]}" -i -q \
    -s "$pgbench_scale" postgres >/dev/null || {
    cat "$out/pgbench-init.out" >&2
    die "pgbench -i failed"
  }
  say "pgbench: running $pgbench_s s (pgbench -c $pgbench_clients -j 2 -T $pgbench_s) ..."
  run_logged "$out/pgbench.out" "$pgbin/pgbench" "${pgbench_conn[@]}" -c "$pgbench_clients" -j 2 \
    -T "$pgbench_s" -P 5 postgres || die "pgbench failed (see $out/pgbench.out)"
  # PostgreSQL 15: "tps = 2345.678901 (without initial connection time)".
  pgbench_tps=$(awk '/^tps = / { print $3; exit }' "$out/pgbench.out")
  [[ $pgbench_tps =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "no tps figure in pgbench's output"
  pgbench_tps=$(printf '%.0f' "$pgbench_tps")
  stop_postgres
  say "pgbench: tps=$pgbench_tps (server stopped, data removed)"
fi

# ---------------------------------------------------------------------------------------------
# Phase 2: the storage engine in-process. It runs in bench/.out (LEB_BENCH_DIR says so too), so
# its databases are on the same disk as PostgreSQL's were.
if has_phase engine; then
  say "engine: running $build/engine_bench ..."
  engine_rc=0
  run_logged "$out/engine.out" env -C "$out" LEB_BENCH_DIR="$out" "$build/engine_bench" ||
    engine_rc=$?
  [ "$engine_rc" -eq 0 ] || die "engine_bench exited with status $engine_rc"
fi

# ---------------------------------------------------------------------------------------------
# Phase 3: full recharge flows over HTTP against lebd --demo.
if has_phase http; then
  rm -f "$out/http.db" "$out/http.db-wal" "$out/http.db-shm" "$out/http.db-journal"
  sandbox_secret=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  admin_password=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  read -r -a lebd_extra <<<"${BENCH_LEBD_ARGS:-}"
  say "http: starting lebd --demo on a free loopback port, database $out/http.db"
  LEB_SANDBOX_SECRET=$sandbox_secret LEB_ADMIN_PASSWORD=$admin_password \
    LEB_LIMITS_CARD_LOOKUP_PER_MIN=${LEB_LIMITS_CARD_LOOKUP_PER_MIN:-1000000} \
    LEB_LIMITS_CARD_LOOKUP_BURST=${LEB_LIMITS_CARD_LOOKUP_BURST:-100000} \
    "$build/lebd" --demo --listen 127.0.0.1:0 --db "sqlite:$out/http.db" "${lebd_extra[@]}" \
    >"$out/lebd.stdout" 2>"$out/lebd.log" &
  lebd_pid=$!

  # The "listening" JSON log line on stderr carries the URL (docs/API-ADDITIONS.md).
  url=
  for ((i = 0; i < 300; i++)); do
    line=$(grep -m 1 -E '"msg" *: *"listening"' "$out/lebd.log" 2>/dev/null || true)
    if [ -n "$line" ]; then
      url=$(grep -oE '"url" *: *"[^"]+"' <<<"$line" | head -n 1 | sed -E 's/.*"([^"]+)"$/\1/')
      break
    fi
    if ! kill -0 "$lebd_pid" 2>/dev/null; then
      tail -n 20 "$out/lebd.log" >&2 || true
      die "lebd exited before listening"
    fi
    sleep 0.1
  done
  if [ -z "$url" ]; then
    tail -n 20 "$out/lebd.log" >&2 || true
    die "lebd did not log a listening URL within 30 s"
  fi
  url=${url%/}
  say "http: lebd (pid $lebd_pid) listening on $url; load: warm-up $warmup_s s, measure $http_s s ..."

  http_rc=0
  BENCH_URL=$url BENCH_SANDBOX_SECRET=$sandbox_secret BENCH_ADMIN_PASSWORD=$admin_password \
    BENCH_SERVER_PID=$lebd_pid BENCH_CLK_TCK=$(getconf CLK_TCK) BENCH_DURATION_S=$http_s \
    BENCH_WARMUP_S=$warmup_s run_logged "$out/http.out" node "$here/http_load.js" || http_rc=$?

  lebd_rc=0
  stop_lebd || lebd_rc=$?
  if [ "$lebd_rc" -ne 0 ]; then
    tail -n 20 "$out/lebd.log" >&2 || true
    die "lebd exited with status $lebd_rc on SIGTERM (log: $out/lebd.log)"
  fi
  say "http: lebd stopped"
  [ "$http_rc" -eq 0 ] || die "the HTTP load client failed (status $http_rc; lebd log: $out/lebd.log)"

  result=$(grep -E '^http: flows=' "$out/http.out" | tail -n 1)
  [ -n "$result" ] || die "no result line from the HTTP load client"
  field() { grep -oE "(^| )$1=[^ ]+" <<<"$result" | head -n 1 | cut -d= -f2; }
  http_flows_per_s=$(field flows_per_s)
  http_p50_ms=$(field p50_ms)
  http_p99_ms=$(field p99_ms)
fi

# ---------------------------------------------------------------------------------------------
# Summary: the targets, then exactly the two result lines.
if has_phase engine; then
  # The line "engine: credits_per_s=N ..." is the figure; any other credits_per_s= is a
  # fallback, the last one printed.
  engine_credits_per_s=$(grep -E '^engine: credits_per_s=' "$out/engine.out" | tail -n 1 |
    grep -oE 'credits_per_s=[0-9.]+' | head -n 1 | cut -d= -f2 || true)
  if [ -z "$engine_credits_per_s" ]; then
    engine_credits_per_s=$(grep -oE 'credits_per_s=[0-9.]+' "$out/engine.out" | tail -n 1 |
      cut -d= -f2 || true)
  fi
  [ -n "$engine_credits_per_s" ] || die "no credits_per_s= figure in engine_bench's output"
  engine_credits_per_s=$(printf '%.0f' "$engine_credits_per_s")
fi

ratio=n/a
if [ -n "$engine_credits_per_s" ] && [ -n "$pgbench_tps" ] && [ "$pgbench_tps" -gt 0 ]; then
  ratio=$(awk -v e="$engine_credits_per_s" -v p="$pgbench_tps" 'BEGIN { printf "%.1f", e / p }')
fi

verdict() { if [ "$1" = 1 ]; then echo met; else echo MISSED; fi; }
targets=()
if [ "$ratio" != n/a ]; then
  ok=$(awk -v r="$ratio" -v t="$target_ratio" 'BEGIN { print (r >= t) ? 1 : 0 }')
  targets+=("ratio $ratio >= $target_ratio $(verdict "$ok")")
fi
if [ -n "$http_flows_per_s" ]; then
  ok=$(awk -v f="$http_flows_per_s" -v t="$target_flows_per_s" 'BEGIN { print (f >= t) ? 1 : 0 }')
  targets+=("http_flows_per_s $http_flows_per_s >= $target_flows_per_s $(verdict "$ok")")
  ok=$(awk -v p="$http_p99_ms" -v t="$target_p99_ms" 'BEGIN { print (p < t) ? 1 : 0 }')
  targets+=("p99_ms $http_p99_ms < $target_p99_ms $(verdict "$ok")")
fi
if [ ${#targets[@]} -gt 0 ]; then
  joined=$(printf '%s; ' "${targets[@]}")
  say "targets: ${joined%; }"
fi
say "done in $((SECONDS - started_s)) s (phases: $phases; outputs in $out)"
echo "bench: engine_credits_per_s=${engine_credits_per_s:-n/a} pgbench_tps=${pgbench_tps:-n/a} ratio=$ratio"
echo "bench: http_flows_per_s=${http_flows_per_s:-n/a} p50_ms=${http_p50_ms:-n/a} p99_ms=${http_p99_ms:-n/a}"
