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
