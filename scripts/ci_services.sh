# Throwaway PostgreSQL and Redis servers on free loopback ports, for CI's second pass. Source this file, then:
#   ci_services_start   exports DATABASE_URL and REDIS_URL; registers ci_services_stop on EXIT
# Everything lives in one temporary folder that ci_services_stop removes.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
CI_SERVICES_DIR=""
CI_REDIS_PIDFILE=""

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# initdb and postgres refuse to run as root: run them as the postgres system user when we are root.
as_pg_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

ci_services_stop() {
    if [ -n "$CI_SERVICES_DIR" ] && [ -d "$CI_SERVICES_DIR" ]; then
        if [ -f "$CI_SERVICES_DIR/pg/postmaster.pid" ]; then
            as_pg_user "$PG_BIN/pg_ctl" -D "$CI_SERVICES_DIR/pg" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        if [ -n "$CI_REDIS_PIDFILE" ] && [ -f "$CI_REDIS_PIDFILE" ]; then
            kill "$(cat "$CI_REDIS_PIDFILE")" 2>/dev/null || true
        fi
        rm -rf "$CI_SERVICES_DIR"
    fi
    CI_SERVICES_DIR=""
}

ci_services_start() {
    CI_SERVICES_DIR=$(mktemp -d /tmp/power95598-ci.XXXXXX)
    trap ci_services_stop EXIT
    chmod 755 "$CI_SERVICES_DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$CI_SERVICES_DIR"
    fi

    local pg_port redis_port
    pg_port=$(free_port)
    as_pg_user "$PG_BIN/initdb" -D "$CI_SERVICES_DIR/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$CI_SERVICES_DIR/initdb.log" 2>&1 || { cat "$CI_SERVICES_DIR/initdb.log" >&2; return 1; }
    # Durability is irrelevant for a throwaway test cluster; turning it off makes the suite markedly faster.
    if ! as_pg_user "$PG_BIN/pg_ctl" -D "$CI_SERVICES_DIR/pg" -l "$CI_SERVICES_DIR/pg.log" -w -t 60 \
        -o "-p $pg_port -k $CI_SERVICES_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null; then
        cat "$CI_SERVICES_DIR/pg.log" >&2
        return 1
    fi
    as_pg_user "$PG_BIN/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres power95598
    export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/power95598"
    echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"

    redis_port=$(free_port)
    CI_REDIS_PIDFILE="$CI_SERVICES_DIR/redis.pid"
    redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize yes \
        --pidfile "$CI_REDIS_PIDFILE" --logfile "$CI_SERVICES_DIR/redis.log" --dir "$CI_SERVICES_DIR"
    for _ in $(seq 1 50); do
        redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null
    export REDIS_URL="redis://127.0.0.1:$redis_port/0"
    echo "Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$redis_port"
}
