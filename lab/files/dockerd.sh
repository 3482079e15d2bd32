# Sourced by the lab guests' service scripts (/etc/init.d/docker of the boot2docker guest, the
# minikube guest's systemctl): dockerd's pid file, waiting for it, stopping it, and the hold
# points tests stop a restart at.
PIDFILE=/var/run/docker.pid

alive() {
    [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*[ZX]' "/proc/$1/status"
}

daemon_pid() {
    [ -s "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE")
    alive "$pid"
}

# Tests stop a restart at one of its points: while /run/lab-hold-<point> exists, the script waits
# there (up to 60 s), after creating /run/lab-at-<point> to say it arrived.
hold() {
    [ -e "/run/lab-hold-$1" ] || return 0
    : > "/run/lab-at-$1"
    waited=0
    while [ -e "/run/lab-hold-$1" ] && [ $waited -lt 600 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
}

listening() {
    netstat -ltn 2>/dev/null | grep -q ":$1 .*LISTEN"
}

# wait_started PID PORT LOG: until dockerd PID listens on PORT and on its socket (30 s at most).
wait_started() {
    tries=0
    while [ $tries -lt 300 ]; do
        if ! alive "$1"; then
            echo "error: dockerd exited during start-up; the end of $3:" >&2
            tail -n 5 "$3" >&2
            return 1
        fi
        if listening "$2" && [ -S /var/run/docker.sock ]; then
            return 0
        fi
        sleep 0.1
        tries=$((tries + 1))
    done
    echo "error: dockerd did not listen on port $2 within 30 s; see $3" >&2
    kill "$1" 2>/dev/null
    return 1
}

stop_daemon() {
    if ! daemon_pid; then
        rm -f "$PIDFILE"
        return 0
    fi
    kill "$pid"
    tries=0
    while alive "$pid"; do
        if [ $tries -ge 300 ]; then
            kill -9 "$pid"
            break
        fi
        sleep 0.1
        tries=$((tries + 1))
    done
    rm -f "$PIDFILE"
}
