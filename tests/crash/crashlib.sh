# What the crash-injection drivers share (run.sh, run-writer.sh,
# run-snapshot.sh); sourced, after `top` is set.

# Options -v, -k, -j N: sets verbose, keep, jobs and filters (the rest).
crash_parse_args() {
    verbose=0 keep=0 jobs=$(nproc 2>/dev/null || echo 2)
    filters=()
    while [ $# -gt 0 ]; do
        case $1 in
        -v) verbose=1 ;;
        -k) keep=1 ;;
        -j) jobs=$2; shift ;;
        -j*) jobs=${1#-j} ;;
        *) filters+=("$1") ;;
        esac
        shift
    done
}

# A failure before any case ran: one FAIL line, the counts, exit 1.
crash_setup_fail() {
    echo "FAIL $1"
    echo "0 passed, 1 failed"
    exit 1
}

# The work directory, under CRASH_WORKDIR, else a tmpfs (which keeps the
# many small copies cheap), named after $1: sets work, and KEEP to it
# with -k (else removed at exit).
crash_workdir() {
    if [ -n "${CRASH_WORKDIR:-}" ]; then
        work=$(mktemp -d -p "$CRASH_WORKDIR")
    elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
        work=$(mktemp -d -p /dev/shm "$1.XXXXXX")
    else
        work=$(mktemp -d)
    fi
    if [ "$keep" = 1 ]; then
        echo "work directory: $work"
        KEEP=$work
    else
        trap 'rm -rf "$work"' EXIT
        KEEP=
    fi
}

# names: the workloads of worker $1 that the filters select; NAME@N
# selects the one crash point N of NAME.
crash_select() {
    local name f hit
    names=()
    for name in $(python3 "$1" list); do
        if [ ${#filters[@]} -gt 0 ]; then
            hit=
            for f in "${filters[@]}"; do
                case $f in
                "$name"@*) names+=("$f") ;;
                *@*) ;;
                *) [[ $name == *"$f"* ]] && hit=$name ;;
                esac
            done
            [ -z "$hit" ] || names+=("$hit")
        else
            names+=("$name")
        fi
    done
}

# Runs worker $1 on each of names, -j at a time, each in a directory of
# its own; its output goes to $work/results/NAME.
crash_run_workers() {
    mkdir "$work/results"
    printf '%s\n' "${names[@]}" |
        xargs -P "$jobs" -I{} sh -c \
            'd="$2/w.$(echo "$1" | tr ":@" "__")"; mkdir "$d" &&
             python3 "$0" run "$1" "$d" >"$2/results/$1" 2>&1; rm -rf "$d"' \
            "$1" {} "$work"
}

# Prints the workers' output and adds up their COUNT lines; without a
# filter, fewer than $1 crash points fail.  Returns 1 on failure.
crash_report() {
    local min=$1 pass=0 fail=0 points=0 name res count p f n
    for name in "${names[@]}"; do
        res=$work/results/$name
        grep -v '^COUNT ' "$res"
        count=$(grep '^COUNT ' "$res")
        if [ -z "$count" ]; then
            echo "FAIL $name: worker did not finish"
            tail -n 5 "$res" | sed 's/^/    /'
            fail=$((fail + 1))
            continue
        fi
        read -r _ p f n <<<"$count"
        pass=$((pass + p)) fail=$((fail + f)) points=$((points + n))
    done
    echo "${#names[@]} workloads, $points crash points," \
         "$(($(date +%s) - start)) s"
    if [ ${#filters[@]} = 0 ] && [ "$points" -lt "$min" ]; then
        echo "FAIL only $points crash points run (at least $min required)"
        fail=$((fail + 1))
    fi
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
