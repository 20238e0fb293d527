#!/usr/bin/env bash
# Install what geo_crm needs on a Debian machine (idempotent): PostgreSQL + PostGIS, Chromium for
# the browser tests, CJK fonts for readable screenshots, and a virtualenv in .venv with the
# package and its test and serve extras at the versions of requirements.lock. Nothing is
# downloaded at run time after this.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

pick_postgis() {
  # Debian 12 ships postgresql-15-postgis-3; newer releases carry a newer major version.
  if apt-cache policy postgresql-15-postgis-3 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    echo postgresql-15-postgis-3
  else
    apt-cache search --names-only '^postgresql-[0-9]+-postgis-3$' | awk '{print $1}' | sort -V | tail -n 1
  fi
}

need=()
# chromium: browser tests; pdftotext/pdftoppm (poppler-utils) and ogrinfo (gdal-bin): the tests
# open the reports and GIS endpoints with independent readers
for cmd_pkg in "chromium:chromium" "python3:python3" "pdftotext:poppler-utils" "ogrinfo:gdal-bin"; do
  cmd=${cmd_pkg%%:*}; pkg=${cmd_pkg##*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
# CJK glyphs for pages, screenshots and PDF reports; Pango is what WeasyPrint lays PDFs out with
for pkg in fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  need+=(POSTGIS)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  pkgs=()
  for p in "${need[@]}"; do
    if [ "$p" = POSTGIS ]; then pkgs+=("$(pick_postgis)"); else pkgs+=("$p"); fi
  done
  $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
  # the embedded cluster is geo_crm's own: Debian's default cluster is not needed
  $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# the exact versions (and the hashes of their files) the suite was run with: requirements.lock,
# the runtime dependencies and the test and serve extras (regenerate with scripts/lock.sh)
.venv/bin/python -m pip install -q --require-hashes --no-deps -r requirements.lock
# geo_crm itself, editable (pip refuses an unhashed editable in the hash-checked command above)
.venv/bin/python -m pip install -q --no-deps -e .
echo "setup: ready (.venv)" >&2
