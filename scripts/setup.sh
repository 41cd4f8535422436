# Sourced by scripts/dev and scripts/test: provisions what they need and is
# safe to run any number of times. Caches live outside the clone, under
# $HOME/.cache/pantheon, so a fresh clone reuses earlier builds.

set -euo pipefail

PANTHEON_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PANTHEON_CACHE="${PANTHEON_CACHE:-$HOME/.cache/pantheon}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PANTHEON_CACHE/target}"
mkdir -p "$PANTHEON_CACHE"

log() { printf '==> %s\n' "$*" >&2; }

# Rust toolchain: the machine's rustup toolchain, or rustup if it is missing.
ensure_rust() {
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        log "installing the Rust toolchain with rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    for component in rustfmt clippy; do
        if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
            log "adding rustup component $component"
            rustup component add "$component"
        fi
    done
}

# Debian packages, installed only when missing (needs root or sudo).
ensure_debs() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Python with pyca/cryptography >= 48 (ML-DSA), for the independent
# verifier of the published test vectors.
ensure_python_cryptography() {
    if ! python3 -c 'import cryptography, sys; sys.exit(int(cryptography.__version__.split(".")[0]) < 48)' 2>/dev/null; then
        log "installing Python package cryptography>=48"
        python3 -m pip install -q 'cryptography>=48'
    fi
}

# The unmodified OpenTimestamps client from PyPI, in a venv of its own
# ($PANTHEON_CACHE/ots-venv), for node/tests/ots.rs: it must accept our
# .ots exports. Exports OTS_EXE.
OTS_CLIENT="opentimestamps-client==0.7.2"
ensure_ots() {
    local venv="$PANTHEON_CACHE/ots-venv"
    if [ "$("$venv/bin/ots" --version 2>/dev/null)" != "v0.7.2" ]; then
        log "installing $OTS_CLIENT in $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q "$OTS_CLIENT"
    fi
    OTS_EXE="$venv/bin/ots"
    export OTS_EXE
}

# Bitcoin Core's bitcoind and bitcoin-cli. Uses BITCOIND_EXE or a bitcoind on
# PATH when there is one; otherwise builds Bitcoin Core once from the source
# tree shipped inside the published crate libbitcoinkernel-sys 0.4.1 and
# caches it under $PANTHEON_CACHE/bitcoin-core (about 20 minutes on 2
# cores). Exports BITCOIND_EXE.
BITCOIN_CRATE_VERSION="0.4.1"
BITCOIN_CRATE_SHA256="345d18a1ce19a1becfcaaa066e3a60e9c7813ef5c23ea8c20704ca4ba1a46339"
ensure_bitcoind() {
    if [ -n "${BITCOIND_EXE:-}" ] && [ -x "$BITCOIND_EXE" ]; then
        return 0
    fi
    if command -v bitcoind >/dev/null 2>&1; then
        BITCOIND_EXE="$(command -v bitcoind)"
        export BITCOIND_EXE
        return 0
    fi
    local prefix="$PANTHEON_CACHE/bitcoin-core/$BITCOIN_CRATE_VERSION"
    if [ ! -x "$prefix/bin/bitcoind" ]; then
        ensure_debs cmake make g++ pkg-config libboost-dev libevent-dev curl ca-certificates
        mkdir -p "$PANTHEON_CACHE/bitcoin-core"
        # One build at a time, even when scripts/dev and scripts/test start
        # together.
        exec 9>"$PANTHEON_CACHE/bitcoin-core/lock"
        if ! flock -n 9; then
            log "waiting for another Bitcoin Core build to finish (its log: $(bitcoind_build_log))"
            flock 9
        fi
        if [ ! -x "$prefix/bin/bitcoind" ]; then
            build_bitcoind "$prefix"
        fi
        exec 9>&-
    fi
    BITCOIND_EXE="$prefix/bin/bitcoind"
    export BITCOIND_EXE
}

# Where the build of Bitcoin Core writes its full output (kept after the
# build, so that a failure can be read at leisure).
bitcoind_build_log() {
    printf '%s\n' "$PANTHEON_CACHE/bitcoin-core/build-$BITCOIN_CRATE_VERSION.log"
}

# Reads cmake's build output on stdin, appends all of it to the file $1 and
# summarises its "[ 42%]" lines on stderr as one progress line with the
# elapsed time and an estimate of the time left. On a terminal the line is
# redrawn in place; otherwise (a pipe, a CI log) a plain line is printed
# at each 10% step or after 30 s without one, never a carriage return.
cmake_progress() {
    local log="$1" started=$SECONDS line pct last_pct=-1 last_step=-1 last_print=$SECONDS
    local tty=0
    [ -t 2 ] && tty=1
    while IFS= read -r line; do
        printf '%s\n' "$line" >>"$log"
        [[ "$line" =~ ^\[\ *([0-9]+)%\] ]] || continue
        pct=$((10#${BASH_REMATCH[1]}))
        [ "$pct" -eq "$last_pct" ] && continue
        last_pct=$pct
        local elapsed=$((SECONDS - started)) eta=""
        if [ "$pct" -gt 0 ] && [ "$pct" -lt 100 ]; then
            local left=$((elapsed * (100 - pct) / pct))
            if [ "$left" -lt 60 ]; then
                eta=", about ${left} s left"
            else
                eta=", about $(((left + 30) / 60)) min left"
            fi
        fi
        local text="Bitcoin Core build: ${pct}% ($((elapsed / 60))m$((elapsed % 60))s${eta})"
        if [ "$tty" -eq 1 ]; then
            printf '\r\033[K==> %s' "$text" >&2
        elif [ $((pct / 10)) -ne "$last_step" ] || [ $((SECONDS - last_print)) -ge 30 ]; then
            last_step=$((pct / 10))
            last_print=$SECONDS
            printf '==> %s\n' "$text" >&2
        fi
    done
    [ "$tty" -eq 1 ] && [ "$last_pct" -ge 0 ] && printf '\n' >&2
    return 0
}

# Prints why a step of the Bitcoin Core build failed: the log's path and
# its last lines.
bitcoind_build_failed() {
    local what="$1" log="$2"
    log "Bitcoin Core build failed while ${what}; the full log is $log; its last lines:"
    tail -n 40 "$log" >&2
    return 1
}

build_bitcoind() {
    local prefix="$1"
    local work="$PANTHEON_CACHE/bitcoin-core/build-$BITCOIN_CRATE_VERSION"
    local crate="$work/libbitcoinkernel-sys-$BITCOIN_CRATE_VERSION.crate"
    local build_log
    build_log="$(bitcoind_build_log)"
    log "building Bitcoin Core (bitcoind, bitcoin-cli) from libbitcoinkernel-sys $BITCOIN_CRATE_VERSION; about 20 minutes on 2 cores, once"
    log "full build log: $build_log"
    rm -rf "$work"
    mkdir -p "$work"
    : >"$build_log"
    curl -sSfL -o "$crate" \
        "https://static.crates.io/crates/libbitcoinkernel-sys/libbitcoinkernel-sys-$BITCOIN_CRATE_VERSION.crate"
    echo "$BITCOIN_CRATE_SHA256  $crate" | sha256sum -c --quiet -
    tar -xzf "$crate" -C "$work"
    local src="$work/libbitcoinkernel-sys-$BITCOIN_CRATE_VERSION/bitcoin"
    log "Bitcoin Core build: configuring (cmake)"
    cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$prefix.tmp" \
        -DBUILD_DAEMON=ON -DBUILD_CLI=ON -DENABLE_WALLET=OFF -DENABLE_IPC=OFF \
        -DWITH_EMBEDDED_ASMAP=OFF -DBUILD_TESTS=OFF -DBUILD_BENCH=OFF \
        -DBUILD_GUI=OFF -DBUILD_KERNEL_LIB=OFF -DBUILD_TX=OFF -DBUILD_UTIL=OFF \
        -DBUILD_WALLET_TOOL=OFF -DBUILD_FUZZ_BINARY=OFF -DWITH_ZMQ=OFF \
        -DBUILD_UTIL_CHAINSTATE=OFF >>"$build_log" 2>&1 \
        || bitcoind_build_failed "configuring" "$build_log"
    # pipefail (set above): the pipeline fails when cmake does.
    cmake --build "$work/build" -j "$(nproc)" --target bitcoind bitcoin-cli 2>&1 \
        | cmake_progress "$build_log" \
        || bitcoind_build_failed "compiling" "$build_log"
    rm -rf "$prefix.tmp"
    mkdir -p "$prefix.tmp/bin"
    cp "$work/build/bin/bitcoind" "$work/build/bin/bitcoin-cli" "$prefix.tmp/bin/"
    rm -rf "$prefix"
    mv "$prefix.tmp" "$prefix"
    rm -rf "$work"
    log "Bitcoin Core installed in $prefix (build log kept in $build_log)"
}

# The browser verifier's packages (web/package-lock.json, from the npm
# registry) and Debian's Chromium for its browser tests. `npm ci` is
# quick from npm's cache in $HOME/.npm, and safe to run twice.
ensure_web() {
    ensure_debs chromium
    if ! command -v npm >/dev/null 2>&1; then
        ensure_debs nodejs npm
    fi
    log "web: npm ci (web/package-lock.json)"
    (cd "$PANTHEON_ROOT/web" && npm ci --no-audit --no-fund --loglevel=error)
}
