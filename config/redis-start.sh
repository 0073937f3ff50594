#!/bin/sh
# Starts redis-master or redis-replica of docker-compose.cache.yml from a writable copy of
# config/redis.conf: Sentinel rewrites an instance's configuration (CONFIG REWRITE) when it
# turns a master into a replica or the other way round, and that must survive a restart.
# Environment: REDIS_PASSWORD (required), REDIS_ANNOUNCE_HOSTNAME (this service's name),
# REDIS_REPLICAOF ("host port", replica only). REDIS_TEMPLATE and REDIS_DIR default to the
# container paths (test/deployment/redis-config.spec.ts points them at a temporary directory).
# Extra arguments go to redis-server after the file (they win over it).
set -eu
: "${REDIS_PASSWORD:?REDIS_PASSWORD must be set}"
template=${REDIS_TEMPLATE:-/etc/redis/redis.conf}
dir=${REDIS_DIR:-/data}
conf=$dir/redis.conf
# Made once per data volume, like the data itself; `docker compose down -v` starts afresh
# (and picks up a changed config/redis.conf).
if [ ! -f "$conf" ]; then
  cp "$template" "$conf.tmp"
  # The password goes into the 0600 copy, not onto the command line where `ps` shows it.
  printf 'requirepass %s\nmasterauth %s\n' "$REDIS_PASSWORD" "$REDIS_PASSWORD" >> "$conf.tmp"
  if [ -n "${REDIS_ANNOUNCE_HOSTNAME:-}" ]; then
    printf 'replica-announce-ip %s\n' "$REDIS_ANNOUNCE_HOSTNAME" >> "$conf.tmp"
  fi
  if [ -n "${REDIS_REPLICAOF:-}" ]; then
    printf 'replicaof %s\n' "$REDIS_REPLICAOF" >> "$conf.tmp"
  fi
  chmod 600 "$conf.tmp"
  mv "$conf.tmp" "$conf"
fi
# Redis keeps its RDB and AOF in the working directory.
cd "$dir"
exec redis-server "$conf" "$@"
