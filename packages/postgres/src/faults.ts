import { TenantryError } from '@tenantry/context'
import type pg from 'pg'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_CONNECTION_LOST: true
    TENANTRY_DATABASE_FAILOVER: true
    TENANTRY_OUT_OF_SHARED_MEMORY: true
  }
}

/** What went wrong underneath a PostgreSQL call, when it was the server or the network. */
export type PostgresFault = 'connection' | 'failover' | 'shared-memory'

// SQLSTATEs: 57P01 admin_shutdown (pg_terminate_backend, fast shutdown), 57P02 crash_shutdown,
// 57P05 idle_session_timeout, 25P03 idle_in_transaction_session_timeout, class 08 connection.
const CONNECTION_STATES = new Set(['57P01', '57P02', '57P05', '25P03'])
// 25006 read_only_sql_transaction (a standby, or a primary demoted by failover), 57P03
// cannot_connect_now (starting up, shutting down, in recovery).
const FAILOVER_STATES = new Set(['25006', '57P03'])
const SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
])
// pg's own messages for a socket that ended, a client that saw one, a pool that timed out.
const CONNECTION_MESSAGE =
  /^(Connection terminated|Client has encountered a connection error|Connection ended|timeout exceeded when trying to connect)/

/** Classifies `error` (or any error in its `cause` chain) as a server or network fault. */
export function faultOf(error: unknown): PostgresFault | undefined {
  for (let e = error, depth = 0; e != null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code
    if (code === '53200') return 'shared-memory'
    if (typeof code === 'string') {
      if (FAILOVER_STATES.has(code)) return 'failover'
      if (CONNECTION_STATES.has(code) || code.startsWith('08') || SOCKET_CODES.has(code))
        return 'connection'
    }
    const message = (e as { message?: unknown }).message
    if (typeof message === 'string' && CONNECTION_MESSAGE.test(message)) return 'connection'
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

function doing(what: string, tenant: string | undefined): string {
  return tenant === undefined ? what : `${what} tenant "${tenant}"`
}

/** A server or network fault under a call: a request that meets one gets 503. */
export abstract class PostgresFaultError extends TenantryError {
  override readonly statusCode = 503
  /** The tenant of the call, when it concerned one. */
  readonly tenant: string | undefined

  constructor(
    code:
      | 'TENANTRY_CONNECTION_LOST'
      | 'TENANTRY_DATABASE_FAILOVER'
      | 'TENANTRY_OUT_OF_SHARED_MEMORY',
    message: string,
    tenant: string | undefined,
    cause: unknown,
  ) {
    super(code, message, { cause })
    this.tenant = tenant
  }
}

/**
 * The connection to PostgreSQL ended under a call: the backend was terminated
 * (`pg_terminate_backend`, a server restart), an idle timeout fired, or the network dropped.
 * The interrupted transaction was rolled back by the server; the call is safe to retry.
 */
export class ConnectionLostError extends PostgresFaultError {
  constructor(what: string, tenant: string | undefined, cause: unknown) {
    super(
      'TENANTRY_CONNECTION_LOST',
      `The connection to PostgreSQL was lost while ${doing(what, tenant)} (${describe(cause)}). The server rolled back the interrupted transaction, so nothing of it was kept; retry the call.`,
      tenant,
      cause,
    )
  }
}

/**
 * PostgreSQL refused writes or connections because it is a standby or in recovery: a failover
 * is under way, or the connection string points at a replica.
 */
export class DatabaseFailoverError extends PostgresFaultError {
  constructor(what: string, tenant: string | undefined, cause: unknown) {
    super(
      'TENANTRY_DATABASE_FAILOVER',
      `PostgreSQL is read-only or in recovery while ${doing(what, tenant)} (${describe(cause)}): a failover is under way or the connection string points at a standby. Retry once the primary is back, and connect with target_session_attrs=read-write so that a pool finds it.`,
      tenant,
      cause,
    )
  }
}

/**
 * PostgreSQL's shared lock table is full ("out of shared memory", SQLSTATE 53200). Its size is
 * `max_locks_per_transaction × (max_connections + max_prepared_transactions)`; each migrating
 * transaction locks every relation it touches.
 */
export class OutOfSharedMemoryError extends PostgresFaultError {
  constructor(what: string, tenant: string | undefined, cause: unknown) {
    super(
      'TENANTRY_OUT_OF_SHARED_MEMORY',
      `PostgreSQL ran out of lock-table memory while ${doing(what, tenant)}. Lower the migrate-all concurrency, or raise max_locks_per_transaction in postgresql.conf (default 64; needs a restart) so that concurrent transactions × relations each touches fit.`,
      tenant,
      cause,
    )
  }
}

/** The tenantry error for a server or network fault in `error`, or undefined for any other. */
export function faultError(
  error: unknown,
  what: string,
  tenant?: string,
): PostgresFaultError | undefined {
  if (error instanceof PostgresFaultError) return error
  switch (faultOf(error)) {
    case 'connection':
      return new ConnectionLostError(what, tenant, error)
    case 'failover':
      return new DatabaseFailoverError(what, tenant, error)
    case 'shared-memory':
      return new OutOfSharedMemoryError(what, tenant, error)
    default:
      return undefined
  }
}

function describe(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(error)
  return typeof e?.code === 'string' ? `${e.code}: ${message}` : message
}

const guarded = new WeakSet<object>()

/**
 * Gives a checked-out client an `error` listener. pg-pool listens on idle clients only: a
 * backend terminated while a client is checked out (mid-migration, between two queries) makes
 * the client emit `error` with nobody listening, which crashes the process. With the listener
 * the client is only marked unusable; its pending or next query rejects, and the pool discards
 * it on release.
 */
export function guardClient<C extends pg.ClientBase>(client: C): C {
  if (!guarded.has(client)) {
    guarded.add(client)
    client.on('error', () => {})
  }
  return client
}

/**
 * Makes `pool` safe against client errors: every client it connects gets {@link guardClient},
 * and an idle client's error (which pg-pool re-emits on the pool, fatal without a listener)
 * only removes that client, as pg-pool already does.
 */
export function guardPool(pool: pg.Pool): pg.Pool {
  if (guarded.has(pool)) return pool
  guarded.add(pool)
  pool.on('connect', (client) => guardClient(client))
  pool.on('error', () => {})
  return pool
}
