/**
 * Structured logs: one JSON object per line on stderr, written by pino (the API adds request
 * fields: request id, key id, route, status, duration). Everything else logs through this small
 * interface, so tests can capture lines and a CLI can stay silent.
 */
import { destination as pinoDestination, pino, stdTimeFunctions } from 'pino';

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = Object.freeze({ info() {}, warn() {}, error() {} });

/** A pino logger on stderr (file descriptor 2 by default), ISO timestamps, level names. */
export function jsonLogger(destination: number | NodeJS.WritableStream = 2): Logger {
  const log = pino(
    {
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    typeof destination === 'number' ? pinoDestination({ dest: destination, sync: true }) : destination,
  );
  return {
    info: (message, fields) => log.info(fields ?? {}, message),
    warn: (message, fields) => log.warn(fields ?? {}, message),
    error: (message, fields) => log.error(fields ?? {}, message),
  };
}
