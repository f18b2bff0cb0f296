import { TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_MAIL_CONFIG: true
    TENANTRY_MAIL_URL: true
  }
}

/** Mail settings are missing or inconsistent (no sender, no transport). */
export class MailConfigError extends TenantryError {
  /** The tenant whose mail settings are at fault; `undefined` for the fallback mailer. */
  readonly tenant: string | undefined

  constructor(message: string, tenant?: string) {
    super('TENANTRY_MAIL_CONFIG', message)
    this.tenant = tenant
  }
}

/**
 * A tenant URL could not be built safely: the tenant name is not a valid host label, or the
 * path is not a site-relative path (so a link in a mail could point to another site).
 */
export class MailUrlError extends TenantryError {
  /** The tenant whose URL was being built. */
  readonly tenant: string

  constructor(message: string, tenant: string) {
    super('TENANTRY_MAIL_URL', message)
    this.tenant = tenant
  }
}
