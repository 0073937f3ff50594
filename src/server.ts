import { createLogger } from './common/logger';
import { loadConfig, unknownVariables } from './config/config';
import { ConfigError } from './config/parse';
import { startTelemetry } from './telemetry/otel-sdk';
import { RunningTiercel, startTiercel } from './tiercel';

/** SIGHUP: every reloader in turn; one that fails is logged and the others still run. */
async function reloadAll(tiercel: RunningTiercel): Promise<void> {
  if (tiercel.reloaders.length === 0) return void tiercel.logger.info({ signal: 'SIGHUP' }, 'SIGHUP received: nothing to reload');
  for (const r of tiercel.reloaders) {
    try {
      await r.reload();
      tiercel.logger.info({ signal: 'SIGHUP', reloaded: r.name }, 'reloaded');
    } catch (err) {
      tiercel.logger.error({ signal: 'SIGHUP', reloader: r.name, err }, 'reload failed: the previous state stays in use');
    }
  }
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel, config.instanceId);
  for (const warning of unknownVariables(process.env)) logger.warn(warning);
  // Telemetry first: instruments and tracers acquired while Nest builds the app must be the SDK's.
  const telemetry = startTelemetry(config, logger);
  const tiercel = await startTiercel(process.env, { config, logger, telemetry });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    tiercel.logger.info({ signal }, 'shutting down');
    tiercel
      .close()
      .then(() => telemetry.shutdown())
      .then(
        () => process.exit(0),
        (err) => {
          tiercel.logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  // A promise nobody awaited must not take every in-flight request down with the process.
  process.on('unhandledRejection', (err) => tiercel.logger.error({ err }, 'unhandled rejection'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP reloads (it must never stop the process, Node's default).
  process.on('SIGHUP', () => void reloadAll(tiercel));
}

main().catch((err: unknown) => {
  // A bad configuration value is one line naming the variable, the value and the accepted form.
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; variable?: string };
  if (err instanceof ConfigError) {
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
