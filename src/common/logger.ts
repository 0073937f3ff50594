import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';
import type { LogLevel } from '../config/config';

/**
 * JSON lines with an ISO 8601 `time` and the level's name (`info`, `warn`), what log shippers
 * and people read without a lookup table.
 */
export function createLogger(level: LogLevel, instanceId: string): Logger {
  return pino({
    level,
    base: { service: 'tiercel', instance: instanceId },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** Nest's own messages (module wiring, admin routes) go through the same JSON logger. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly pinoLogger: Logger) {}
  log(message: unknown, context?: string) { this.pinoLogger.debug({ context }, String(message)); }
  error(message: unknown, trace?: string, context?: string) { this.pinoLogger.error({ context, trace }, String(message)); }
  warn(message: unknown, context?: string) { this.pinoLogger.warn({ context }, String(message)); }
  debug(message: unknown, context?: string) { this.pinoLogger.debug({ context }, String(message)); }
  verbose(message: unknown, context?: string) { this.pinoLogger.trace({ context }, String(message)); }
}

export const LOGGER = Symbol('LOGGER');
