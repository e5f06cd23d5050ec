#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, starts a
# PostgreSQL when none answers, then runs every test against SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${STAFFGATE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. PostgreSQL: use the one that answers, else start the installed cluster, else install one.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "== installing PostgreSQL"
    [ -x /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null; as_root chmod +x /usr/sbin/policy-rc.d; }
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
    ver=$(ls /etc/postgresql | head -n1)
    # Trust auth on loopback, for throw-away test databases only.
    as_root sed -i 's/^\(host.*127.0.0.1\/32\s*\)\S*$/\1trust/; s/^\(local\s*all\s*postgres\s*\)\S*$/\1trust/' "/etc/postgresql/$ver/main/pg_hba.conf"
  fi
  echo "== starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
# The restart test runs a private cluster of its own, so it needs the server binaries here.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== installing the PostgreSQL server binaries"
  [ -x /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null; as_root chmod +x /usr/sbin/policy-rc.d; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

# 2. OpenLDAP for the directory tests: each test starts its own slapd; the system one stays off.
if [ ! -x /usr/sbin/slapd ] || ! command -v ldapmodify >/dev/null; then
  echo "== installing slapd and ldap-utils"
  [ -x /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null; as_root chmod +x /usr/sbin/policy-rc.d; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends slapd ldap-utils >/dev/null
fi

# 2b. Samba as an Active Directory domain controller for the AD tests (the test harness
#     provisions a throw-away domain; the system's own samba services stay off).
if ! command -v samba >/dev/null || ! command -v samba-tool >/dev/null || ! command -v ldapwhoami >/dev/null; then
  echo "== installing samba (AD DC)"
  [ -x /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null; as_root chmod +x /usr/sbin/policy-rc.d; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends samba samba-ad-dc samba-ad-provision winbind ldap-utils >/dev/null
fi

# 3. A real browser for the end-to-end first-login test, driven over WebDriver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "== installing chromium and chromium-driver"
  [ -x /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null; as_root chmod +x /usr/sbin/policy-rc.d; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

# 4. Real clients: python-telegram-bot for the Telegram broker test, python requests and
#    curl for the compression tests, a real SMTP server (aiosmtpd) for the mail tests,
#    Schemathesis for the OpenAPI test, and scim2-tester (with scim2-client's httpx2
#    engine) for the SCIM compliance test.
if ! command -v curl >/dev/null; then
  echo "== installing curl"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends curl ca-certificates >/dev/null
fi
VENV=.ci/venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import telegram, aiosmtpd, requests, schemathesis, scim2_tester, httpx2' 2>/dev/null; then
  echo "== installing python-telegram-bot, aiosmtpd, requests, schemathesis and scim2-tester in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'python-telegram-bot>=22,<23' 'aiosmtpd>=1.4,<2' 'requests>=2.31,<3' 'schemathesis>=4,<5' \
    'scim2-tester>=0.5.2,<0.6' 'scim2-client[httpx2]>=0.13,<0.14'
fi
# 4a. Canaille, a real identity provider, as SCIM client and pull source. It imports names
#     newer SCIM libraries removed, so it has a venv of its own with the versions it needs.
CANAILLE_VENV=.ci/canaille-venv
if [ ! -x "$CANAILLE_VENV/bin/canaille" ]; then
  echo "== installing canaille 0.3.6 in $CANAILLE_VENV"
  python3 -m venv "$CANAILLE_VENV"
  "$CANAILLE_VENV/bin/pip" install -q 'canaille[oidc,scim,server,sqlite]==0.3.6' 'scim2-client==0.7.5' 'scim2-models>=0.6.12,<0.7'
fi
export STAFFGATE_TEST_CANAILLE="$PWD/$CANAILLE_VENV/bin/canaille"
# 4b. A real OpenID Connect provider (npm oidc-provider) for the OIDC tests.
if ! command -v npm >/dev/null; then
  echo "== installing nodejs and npm"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -d tests/peers/oidc-provider/node_modules/oidc-provider ]; then
  echo "== installing oidc-provider with npm"
  (cd tests/peers/oidc-provider && npm ci --no-audit --no-fund --silent)
fi
if [ ! -f tests/peers/axe/node_modules/axe-core/axe.min.js ]; then
  echo "== installing axe-core with npm (the console's accessibility check)"
  (cd tests/peers/axe && npm ci --no-audit --no-fund --silent)
fi
export STAFFGATE_TEST_PYTHON="$PWD/$VENV/bin/python"
export STAFFGATE_TEST_POSTGRES="$PG_URL"

# 5. Lints, then every test.
python3 scripts/check-layers.py
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets --no-fail-fast
