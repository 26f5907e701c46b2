#!/usr/bin/env bash
# Installs what the test suite needs beyond Go modules, on a fresh Debian machine as root:
#   - kcat (librdkafka's CLI) from Debian apt, for broker/compat's kcat tests;
#   - kafkajs and @kafkajs/confluent-schema-registry from npm into .ci/node_modules, for broker/compat's
#     kafkajs tests and schemaregistry's client test (node and npm must already be on the machine);
#   - PostgreSQL server binaries (initdb, pg_ctl) from Debian apt, for the Postgres connectors' tests
#     (internal/testpg starts a throwaway server from them; nothing is started here).
# Idempotent: each step is skipped when what it installs is already there. Works from any directory.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { echo "test-deps: $*"; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	sudo_cmd=(sudo)
fi

# kcat: `apt-get update` only when the package is missing, since it is slow and needs the network.
if command -v kcat >/dev/null 2>&1; then
	log "kcat present ($(command -v kcat))"
else
	log "installing kcat from apt"
	export DEBIAN_FRONTEND=noninteractive
	if ! "${sudo_cmd[@]}" apt-get install -y --no-install-recommends kcat; then
		"${sudo_cmd[@]}" apt-get update
		"${sudo_cmd[@]}" apt-get install -y --no-install-recommends kcat
	fi
	command -v kcat >/dev/null 2>&1 || { log "kcat still not on PATH after install"; exit 1; }
fi

# kafkajs (broker/compat) and @kafkajs/confluent-schema-registry (schemaregistry): a local install
# under .ci/, so nothing global changes; tests use NODE_PATH=.ci/node_modules.
# NB: one npm command for both, since an `npm install --no-save` prunes what an earlier one added.
if [ -f "$repo/.ci/node_modules/kafkajs/package.json" ] && [ -f "$repo/.ci/node_modules/@kafkajs/confluent-schema-registry/package.json" ]; then
	log "kafkajs present ($(node -p "require('$repo/.ci/node_modules/kafkajs/package.json').version" 2>/dev/null || echo '?')), @kafkajs/confluent-schema-registry present"
else
	command -v npm >/dev/null 2>&1 || { log "npm not found; kafkajs cannot be installed"; exit 1; }
	log "installing kafkajs@2 and @kafkajs/confluent-schema-registry@4 into $repo/.ci/node_modules"
	mkdir -p "$repo/.ci"
	npm install --prefix "$repo/.ci" --no-audit --no-fund --no-save kafkajs@2 @kafkajs/confluent-schema-registry@4
	[ -f "$repo/.ci/node_modules/kafkajs/package.json" ] || { log "kafkajs install failed"; exit 1; }
	[ -f "$repo/.ci/node_modules/@kafkajs/confluent-schema-registry/package.json" ] || { log "@kafkajs/confluent-schema-registry install failed"; exit 1; }
fi

# PostgreSQL: internal/testpg looks on PATH and under /usr/lib/postgresql/*/bin.
if command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
	log "postgres binaries present ($(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | head -1))"
else
	log "installing postgresql from apt"
	export DEBIAN_FRONTEND=noninteractive
	if ! "${sudo_cmd[@]}" apt-get install -y --no-install-recommends postgresql; then
		"${sudo_cmd[@]}" apt-get update
		"${sudo_cmd[@]}" apt-get install -y --no-install-recommends postgresql
	fi
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { log "postgres binaries still missing after install"; exit 1; }
fi
