import { createLogger } from './common/logger';
import { unknownVariables } from './config/config';
import { ConfigError } from './config/parse';
import { PolicyError } from './policy/policy-file';
import { loadSettings } from './policy/settings';
import type { TelemetryHandle } from './telemetry/otel-sdk';
import type { RunningTiercel } from './tiercel';
import cluster from 'node:cluster';
import { applyWorkerShare, workerContext } from './cluster/worker';

async function main(): Promise<void> {
  const { config, policy } = loadSettings(process.env);
  const worker = workerContext();
  const base = createLogger(config.logLevel, config.instanceId);
  const logger = worker === null ? base : base.child({ worker: worker.index });
  if (worker === null) for (const warning of unknownVariables(process.env)) logger.warn(warning);
  // Several workers: this process supervises them and serves the admin port; they serve the data ports.
  if (config.workers > 1 && cluster.isPrimary) {
    const { runPrimary } = await import('./cluster/primary');
    await runPrimary(config, logger);
    return;
  }
  applyWorkerShare(config);
  // The handlers come before anything is started: the start line is printed just before
  // startTiercel returns, and a signal read off it must not meet Node's default (exit).
  let tiercel: RunningTiercel | null = null;
  let telemetry: TelemetryHandle | null = null;
  let stopping = false;
  let stopWhenStarted: string | null = null;
  let hupWhileStarting = false;
  const stop = (signal: string) => {
    if (tiercel === null) {
      stopWhenStarted ??= signal; // still starting: stopped as soon as it has started
      return;
    }
    if (stopping) return;
    stopping = true;
    tiercel.logger.info({ signal }, 'shutting down');
    tiercel
      .close()
      .then(() => telemetry?.shutdown())
      .then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  // SIGHUP runs every reload hook (the policy file, ...); one that arrives while Tiercel is
  // starting runs once it has started.
  const reload = () => {
    if (tiercel === null) hupWhileStarting = true;
    else void tiercel.reloaders.runAll(tiercel.logger, 'SIGHUP');
  };
  // A promise nobody awaited must not take every in-flight request down with the process.
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A worker reloads when the primary says so (its SIGHUP, its /admin/reload), in order, so a
  // file that fails in the first worker is never loaded by the others.
  if (worker === null) process.on('SIGHUP', reload);
  else process.on('SIGHUP', () => {});
  // A worker whose primary is gone drains and leaves instead of serving unsupervised.
  if (worker !== null) process.once('disconnect', () => stop('disconnect'));
  // Telemetry first: instruments and tracers acquired while Nest builds the app must be the SDK's.
  // Loaded here, not above: the primary of several workers never needs Nest or the SDK.
  const { startTelemetry } = await import('./telemetry/otel-sdk');
  telemetry = await startTelemetry(config, logger);
  const { startTiercel } = await import('./tiercel');
  tiercel = await startTiercel(process.env, { config, policy, logger, telemetry });
  if (stopWhenStarted !== null) stop(stopWhenStarted);
  else if (hupWhileStarting) reload();
}

main().catch((err: unknown) => {
  // A bad configuration value is one line naming the variable, the value and the accepted form.
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; variable?: string };
  if (err instanceof ConfigError || err instanceof PolicyError) {
    process.stderr.write(`tiercel: ${err.message}\n`);
  } else if (e?.code === 'EADDRINUSE' || e?.code === 'EACCES' || e?.code === 'EADDRNOTAVAIL') {
    // A port that cannot be bound is one line naming the variable and the address.
    const why = e.code === 'EADDRINUSE' ? 'is already in use' : e.code === 'EACCES' ? 'may not be bound by this user' : 'is not an address of this machine';
    process.stderr.write(`tiercel: ${e.variable ?? 'a port'}: ${e.address ?? '?'}:${e.port ?? '?'} ${why}\n`);
  } else {
    process.stderr.write(`tiercel: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  }
  process.exit(1);
});
