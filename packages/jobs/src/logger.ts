import { noop } from '@tenantry/context/internal'
/** A log method in pino's style: `(obj, msg?, ...args)` or `(msg, ...args)`. */
export type LogFn = {
  (obj: object, msg?: string, ...args: unknown[]): void
  (msg: string, ...args: unknown[]): void
}

/** The part of a pino (or pino-compatible) logger the jobs package uses. */
export interface JobLogger {
  /** Debug-level line. */
  debug: LogFn
  /** Info-level line. */
  info: LogFn
  /** Warning line. */
  warn: LogFn
  /** Error line. */
  error: LogFn
  /** A logger with `bindings` on every line. */
  child(bindings: Record<string, unknown>): JobLogger
}

/** A logger that drops everything. */
export const silentLogger: JobLogger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const

/**
 * Wraps `logger` so every line carries `fields` in its *object* rather than in child bindings:
 * pino merges a mixin (such as the core's `tenantLogFields`) with the object, so `tenant`
 * appears once whether or not the app uses that mixin.
 */
export function withFields(logger: JobLogger, fields: Record<string, unknown>): JobLogger {
  const wrapped = { child: (b: Record<string, unknown>) => withFields(logger.child(b), fields) }
  for (const level of LEVELS) {
    const fn = logger[level].bind(logger) as (...args: unknown[]) => void
    ;(wrapped as Record<string, unknown>)[level] = (first: unknown, ...rest: unknown[]) => {
      if (typeof first === 'object' && first !== null && !(first instanceof Error))
        fn({ ...fields, ...first }, ...rest)
      else if (first instanceof Error) fn({ ...fields, err: first }, ...rest)
      else fn(fields, first, ...rest)
    }
  }
  return wrapped as JobLogger
}
