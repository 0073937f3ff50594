import { createLogger } from './common/logger';
import { loadConfig } from './config/config';
import { ConfigError } from './config/parse';
import { startTelemetry } from './telemetry/otel-sdk';
import { startTiercel } from './tiercel';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel, config.instanceId);
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
}

main().catch((err: unknown) => {
  // A bad configuration value is one line naming the variable, the value and the accepted form.
  if (err instanceof ConfigError) {
    process.stderr.write(`tiercel: ${err.message}\n`);
  } else {
    process.stderr.write(`tiercel: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  }
  process.exit(1);
});
