#!/usr/bin/env bash
# The whole hall on one machine, or its tests — one command each, on a fresh
# Debian machine too (it installs what is missing first):
#
#   ./hall.sh [--headless] [--out DIR] [--duration SECONDS] [--speed X] ...
#       builds everything (release) and runs the hall: the server, a kiosk,
#       two counter terminals, the lobby board, the printer and ID-card
#       reader simulators, simulated visitors and clerks. With a display the
#       clients open windows; without one (or with --headless) screenshots,
#       slips (PNG) and announcements (WAV) go to DIR (default hall-out).
#       Ctrl-C stops everything cleanly. `./hall.sh --help` lists the options.
#
#   ./hall.sh test
#       runs every test: cargo test --workspace --locked.
set -euo pipefail
cd "$(dirname "$0")"

# What a fresh Debian machine lacks:
# - a C toolchain and pkg-config (build scripts of ring/zstd-style crates);
# - ALSA headers (rodio's playback links libasound even where no sound card
#   exists; the board then writes WAV files);
# - curl and certificates for rustup, when there is no Rust toolchain;
# - with a display, the X11 libraries winit opens at run time;
# - Chromium and its driver (the pages' browser tests) and PostgreSQL (the
#   city tests start their own server from its binaries).
# Everything else is pure Rust or in the repository (fonts, voice pack).
install_missing() {
  local need=()
  command -v cc >/dev/null || need+=(build-essential)
  command -v pkg-config >/dev/null || need+=(pkg-config)
  dpkg -s libasound2-dev >/dev/null 2>&1 || need+=(libasound2-dev)
  # A real headless Chromium: the web pages' browser tests (WebDriver) and
  # the data screen's screenshot in a headless run.
  command -v chromium >/dev/null || need+=(chromium)
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  # A real PostgreSQL for the city tests (三级协同): the tests start their
  # own cluster with initdb/pg_ctl in a temporary folder.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
  # A virtual X screen for `hall-bench clients` (the Slint clients in
  # their windows, measured idle).
  command -v Xvfb >/dev/null || need+=(xvfb)
  if ! command -v cargo >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    command -v curl >/dev/null || need+=(curl ca-certificates)
  fi
  if [ -n "${DISPLAY:-}" ]; then
    for p in libx11-xcb1 libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0; do
      dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
  fi
  if [ ${#need[@]} -gt 0 ]; then
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "hall.sh: installing ${need[*]}" >&2
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
  fi
  if ! command -v cargo >/dev/null; then
    if [ ! -x "$HOME/.cargo/bin/cargo" ]; then
      echo "hall.sh: installing the Rust toolchain (rustup, stable)" >&2
      curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    fi
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
}

install_missing

if [ "${1:-}" = "test" ]; then
  shift
  exec cargo test --workspace --locked "$@"
fi

# hall-bench too: .ci/run builds exactly this set, so this build is then a no-op.
cargo build --release --locked -p hall-server -p hall-runner -p hall-sim -p hall-hardware -p kiosk -p counter-terminal -p display-board -p hall-bench -p hall-city --bins
exec ./target/release/hall "$@"
