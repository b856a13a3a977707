#!/bin/sh
# Installs what is missing for a given purpose ("build" or "test") with
# apt-get when running as root; otherwise prints the exact command and
# fails.  Prints what it installs.
set -e

purpose=${1:-build}
missing=""

need_pkg() {
    # $1 = Debian package, $2 = a command or file that proves it is there
    case "$2" in
    /*) [ -e "$2" ] && return 0 ;;
    *) command -v "$2" >/dev/null 2>&1 && return 0 ;;
    esac
    missing="$missing $1"
}

need_pc() {
    pkg-config --exists "$2" 2>/dev/null || missing="$missing $1"
}

need_pkg pkg-config pkg-config
need_pkg meson meson
need_pkg ninja-build ninja
need_pkg python3 python3
need_pkg gcc cc
if command -v pkg-config >/dev/null 2>&1; then
    need_pc libglib2.0-dev glib-2.0
    need_pc zlib1g-dev zlib
    need_pc libzstd-dev libzstd
else
    missing="$missing libglib2.0-dev zlib1g-dev libzstd-dev"
fi
if [ "$purpose" = test ]; then
    need_pkg qemu-utils /usr/bin/qemu-img
    need_pkg time /usr/bin/time
    # ASan/UBSan runtimes come with gcc (libasan, libubsan).
    if ! echo 'int main(void){return 0;}' |
         cc -x c -fsanitize=address,undefined -o /dev/null - 2>/dev/null; then
        missing="$missing libasan8 libubsan1"
    fi
fi

if [ "$purpose" = fuzz ]; then
    # make fuzz: clang with libFuzzer and its sanitizer runtimes.
    need_pkg clang clang
    if command -v clang >/dev/null 2>&1 &&
       ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}' |
         clang -x c -fsanitize=fuzzer,address,undefined -o /dev/null - \
         2>/dev/null; then
        missing="$missing libclang-rt-14-dev"
    fi
fi

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing missing $purpose dependencies:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >/dev/null
    echo "Installed:$missing"
else
    echo "Missing $purpose dependencies. Install them with:" >&2
    echo "    sudo apt-get install$missing" >&2
    exit 1
fi
