#!/bin/sh
# Starts one Sentinel of docker-compose.cache.yml from a writable copy of config/sentinel.conf.
# Environment: REDIS_PASSWORD (the master's password), SENTINEL_PASSWORD (what clients and the
# other sentinels must send to this one; unset: none), SENTINEL_ANNOUNCE_HOSTNAME (this
# sentinel's service name); SENTINEL_TEMPLATE and SENTINEL_DIR default to the container paths
# (test/deployment/redis-config.spec.ts points them at a temporary directory).
set -eu
template=${SENTINEL_TEMPLATE:-/etc/redis/sentinel.conf}
conf=${SENTINEL_DIR:-/data}/sentinel.conf
# The copy is made once: on a restart Sentinel keeps what it learned (the current master after
# a failover, the other sentinels, the epoch).
if [ ! -f "$conf" ]; then
  cp "$template" "$conf.tmp"
  if [ -n "${REDIS_PASSWORD:-}" ]; then
    printf 'sentinel auth-pass mymaster %s\n' "$REDIS_PASSWORD" >> "$conf.tmp"
  fi
  if [ -n "${SENTINEL_PASSWORD:-}" ]; then
    # requirepass guards this sentinel; sentinel-pass is what it sends to the others.
    printf 'requirepass %s\nsentinel sentinel-pass %s\n' "$SENTINEL_PASSWORD" "$SENTINEL_PASSWORD" >> "$conf.tmp"
  fi
  if [ -n "${SENTINEL_ANNOUNCE_HOSTNAME:-}" ]; then
    printf 'sentinel announce-ip %s\n' "$SENTINEL_ANNOUNCE_HOSTNAME" >> "$conf.tmp"
  fi
  mv "$conf.tmp" "$conf"
fi
exec redis-server "$conf" --sentinel
