import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Paths pino blanks out wherever they appear; the canary test proves nothing else leaks. */
export const REDACT_PATHS = [
  'password',
  'passphrase',
  'privateKey',
  'secretAccessKey',
  'authorization',
  '*.password',
  '*.passphrase',
  '*.privateKey',
  '*.secretAccessKey',
  '*.authorization',
  'auth.*',
  '*.auth.*',
  'headers.authorization',
  'req.headers.authorization',
];

/** Root logger: pino JSON, one line per event, to stdout (or a destination for tests). */
export function createLogger(
  options: { level?: string; name?: string } = {},
  destination?: NodeJS.WritableStream,
): Logger {
  const opts: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: 'ferry', ...(options.name ? { role: options.name } : {}), pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(opts, destination as pino.DestinationStream) : pino(opts);
}

/** S3 keys are attacker-controlled text: keep CR/LF and other controls out of log lines (CWE-117). */
export function safeText(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
