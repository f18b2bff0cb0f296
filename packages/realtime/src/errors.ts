import { TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_REALTIME_NO_TENANT: true
    TENANTRY_REALTIME_LIMIT: true
    TENANTRY_REALTIME_CHANNEL: true
    TENANTRY_REALTIME_UNSUPPORTED: true
  }
}

/**
 * A realtime route was reached without a tenant (the resolver found none): answered 404 before
 * the upgrade, like any path that names no tenant.
 */
export class RealtimeNoTenantError extends TenantryError {
  /** HTTP status: the upgrade is refused with it. */
  override readonly statusCode = 404

  constructor(url: string) {
    super(
      'TENANTRY_REALTIME_NO_TENANT',
      `The realtime endpoint ${url.split('?')[0]} was reached without a tenant. Connect through a tenant's host, path or header, as for the tenant's HTTP routes.`,
    )
  }
}

/** The tenant already has as many open connections as `maxConnectionsPerTenant` allows (429). */
export class RealtimeLimitError extends TenantryError {
  /** HTTP status: the upgrade (or the event stream) is refused with it. */
  override readonly statusCode = 429
  /** The tenant that is at its limit. */
  readonly tenant: string
  /** The limit in force. */
  readonly limit: number

  constructor(tenant: string, limit: number) {
    super(
      'TENANTRY_REALTIME_LIMIT',
      `Tenant "${tenant}" already has ${limit} open realtime connections, its limit. Close idle connections (one per browser tab shared by a SharedWorker, say), or raise maxConnectionsPerTenant.`,
    )
    this.tenant = tenant
    this.limit = limit
  }
}

/** A channel name is not a non-empty string (a programming error, not a client's). */
export class RealtimeChannelError extends TenantryError {
  constructor(channel: unknown) {
    super(
      'TENANTRY_REALTIME_CHANNEL',
      `A realtime channel name must be a non-empty string (got ${typeof channel === 'string' ? '""' : typeof channel}).`,
    )
  }
}

/** The connection's transport cannot do this: `onMessage` on an event stream (a programming error). */
export class RealtimeUnsupportedError extends TenantryError {
  constructor(message: string) {
    super('TENANTRY_REALTIME_UNSUPPORTED', message)
  }
}
