import { TenantryError } from '@tenantry/context'

/**
 * The request names a tenant that does not exist (404). Thrown from the plugin's `onRequest`
 * hook, so it reaches your error handler like any Fastify error.
 */
export class TenantNotFoundError extends TenantryError {
  /** HTTP status: Fastify's error handler uses it for the reply. */
  override readonly statusCode = 404
  /** The tenant that was asked for. */
  readonly tenant: string

  constructor(tenant: string, options?: ErrorOptions) {
    super(
      'TENANTRY_UNKNOWN_TENANT',
      `There is no tenant "${tenant}". Check the host name, path or header that names it.`,
      options,
    )
    this.tenant = tenant
  }
}

/**
 * The request names a tenant the naming rule refuses (400 by default). Raised before the
 * tenant source, a file or a database is touched.
 */
export class InvalidTenantRequestError extends TenantryError {
  /** HTTP status: Fastify's error handler uses it for the reply. */
  override readonly statusCode = 400

  constructor(message: string, options?: ErrorOptions) {
    super('TENANTRY_INVALID_TENANT_NAME', message, options)
  }
}

/**
 * A route that requires a tenant (`config: { tenant: 'required' }` or the plugin's
 * `requireTenant`) was asked for without one. Answered like an unknown tenant (404,
 * `TENANTRY_UNKNOWN_TENANT`) or, with `missingTenantStatus: 400`, like an invalid name
 * (`TENANTRY_INVALID_TENANT_NAME`), so clients handle one pair of codes.
 */
export class TenantRequiredError extends TenantryError {
  /** HTTP status: Fastify's error handler uses it for the reply. */
  override readonly statusCode: 400 | 404
  /** No tenant was named. */
  readonly tenant: undefined = undefined

  constructor(url: string, status: 400 | 404 = 404) {
    super(
      status === 404 ? 'TENANTRY_UNKNOWN_TENANT' : 'TENANTRY_INVALID_TENANT_NAME',
      `${url.split('?', 1)[0]} needs a tenant, but the request names none. Name the tenant in the host name, path or header the app resolves it from.`,
    )
    this.statusCode = status
  }
}
