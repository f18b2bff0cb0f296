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
