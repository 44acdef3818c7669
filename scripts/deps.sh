#!/usr/bin/env bash
# Installs the Debian packages LEB needs to build, run and test, and nothing else.
# Safe to run again: it asks apt-get only for what is missing, and says what it installs.
set -euo pipefail

packages=(
  build-essential cmake pkg-config       # the toolchain and the build
  libmicrohttpd-dev                      # HTTP server
  libsqlite3-dev                         # embedded store
  libpq-dev                              # PostgreSQL client library
  libjansson-dev                         # JSON
  libxml2-dev                            # XML: WeChat Pay API v2 notifications and answers
  libqrencode-dev                        # QR codes of payment links, for the payer to scan
  libinih-dev                            # ini configuration file
  libssl-dev                             # HMAC-SHA256, RSA, AES-GCM for provider signatures
  libsodium-dev                          # argon2id, constant-time compares, random tokens
  libcurl4-openssl-dev                   # lebctl and outbound calls
  libcmocka-dev                          # unit tests
  postgresql postgresql-contrib          # pgbench and the scale-out store in tests
  chromium                               # browser tests
  sqlite3                                # inspecting a database by hand
  fonts-wqy-microhei                     # Chinese glyphs for browser screenshots
  kannel kannel-extras                   # the real SMS gateway and its fake SMS centre, in tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# Node.js may come from another packaging that bundles npm (and conflicts with Debian's npm):
# ask for Debian's only when the commands are missing.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node packages for tests and benchmarks (playwright-core drives Debian's Chromium).
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$here/tests/node_modules/playwright-core" ] && [ -f "$here/tests/package.json" ]; then
  echo "deps: installing npm packages for tests" >&2
  (cd "$here/tests" && npm ci --no-audit --no-fund --silent)
fi
