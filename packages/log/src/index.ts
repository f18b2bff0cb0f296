/**
 * @tenantry/log — one pino logger for the whole process whose every line written inside a
 * tenant carries `tenant`, added by a pino `mixin` that reads the tenant context.
 */
import { tenancy as defaultTenancy, type ResourceDefinition, type Tenancy } from '@tenantry/context'
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino'

export type { DestinationStream, Logger, LoggerOptions } from 'pino'

/** Options of {@link createLogger}: pino's own, plus where the tenant comes from. */
export interface TenantLoggerOptions extends LoggerOptions {
  /** Field name of the tenant in each line; default `tenant`. */
  tenantKey?: string
  /** The tenancy whose current tenant is logged; default the shared one. */
  tenancy?: Tenancy
  /** Make this the logger {@link getLogger} returns; default true. */
  install?: boolean
}

// Shared across installed copies of this package, like the core's context: one process, one
// logger, whichever copy a library imported.
const KEY = Symbol.for('tenantry.log.v1')
const shared = globalThis as typeof globalThis & { [KEY]?: Logger | undefined }

/**
 * Creates a pino logger that adds the current tenant to every line (also for child loggers,
 * such as Fastify's per-request one), and by default installs it as the process logger.
 * The tenant from the context wins over a `tenant` field passed to a log call, so user input
 * cannot spoof it; outside any tenant the field is absent.
 */
export function createLogger(
  options: TenantLoggerOptions = {},
  destination?: DestinationStream,
): Logger {
  const {
    tenantKey = 'tenant',
    tenancy = defaultTenancy,
    install = true,
    mixin: userMixin,
    mixinMergeStrategy: userStrategy,
    ...pinoOptions
  } = options
  const logger = pino(
    {
      ...pinoOptions,
      mixin(mergeObject, level, logger) {
        const fields: Record<string, unknown> = userMixin
          ? { ...userMixin(mergeObject, level, logger) }
          : {}
        const tenant = tenancy.currentTenant()
        if (tenant !== undefined) fields[tenantKey] = tenant
        else delete fields[tenantKey]
        return fields
      },
      mixinMergeStrategy(mergeObject, mixinObject) {
        const tenant = (mixinObject as Record<string, unknown>)[tenantKey]
        const merged = (
          userStrategy
            ? userStrategy(mergeObject, mixinObject)
            : Object.assign(mixinObject, mergeObject)
        ) as Record<string, unknown>
        if (tenant !== undefined) merged[tenantKey] = tenant
        return merged
      },
    },
    destination as DestinationStream,
  )
  // Tells adapters (e.g. @tenantry/fastify) that lines already carry the tenant; pino's child
  // loggers inherit it through the prototype.
  ;(logger as unknown as Record<symbol, unknown>)[Symbol.for('tenantry.log.tagsTenant')] = true
  if (install) shared[KEY] = logger
  return logger
}

/**
 * The process logger: the last one {@link createLogger} installed, or a default one on stdout
 * created on first use. A module-level singleton rather than a per-tenant resource: the tenant
 * is added per line by the mixin, so one instance serves every tenant, and code that has no
 * tenancy configured (libraries, start-up, the job runner) can log too.
 */
export function getLogger(): Logger {
  let logger = shared[KEY]
  if (logger === undefined) logger = createLogger()
  return logger
}

/** Installs `logger` as the process logger (or forgets it with `undefined`, e.g. in tests). */
export function setLogger(logger: Logger | undefined): void {
  shared[KEY] = logger
}

/**
 * A resource definition for apps that prefer `getResource('log')` (and replacing the logger
 * with `withOverrides({ log: fake }, fn)` in tests): a global resource whose value is
 * {@link getLogger}'s logger.
 */
export function logResource(logger?: Logger): ResourceDefinition<Logger> {
  return { fallback: () => logger ?? getLogger() }
}

/** The subset of Kysely's log event this package reads (structural: no Kysely dependency). */
export interface SqlLogEvent {
  level: 'query' | 'error'
  query: { sql: string; parameters: readonly unknown[] }
  queryDurationMillis: number
  error?: unknown
}

/** Options of {@link sqlLogger}. */
export interface SqlLoggerOptions {
  /** Level of successful queries; default `debug`. Errors are logged at `error`. */
  level?: 'trace' | 'debug' | 'info'
  /** Include bound parameters (they may hold personal data); default false. */
  parameters?: boolean
  /** The logger; default {@link getLogger} at the time of each query. */
  logger?: Logger
}

/**
 * A Kysely `log` function writing queries through the tenant-aware logger, so SQL lines carry
 * the tenant like every other line: `new Kysely({ dialect, log: sqlLogger() })`.
 */
export function sqlLogger(options: SqlLoggerOptions = {}): (event: SqlLogEvent) => void {
  const level = options.level ?? 'debug'
  return (event) => {
    const logger = options.logger ?? getLogger()
    const fields: Record<string, unknown> = {
      sql: event.query.sql,
      durationMs: event.queryDurationMillis,
    }
    if (options.parameters) fields.parameters = event.query.parameters
    if (event.level === 'error') logger.error({ ...fields, err: event.error }, 'query failed')
    else logger[level](fields, 'query')
  }
}
