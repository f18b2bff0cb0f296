import { TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_MAIL_CONFIG: true
    TENANTRY_MAIL_URL: true
  }
}

/** Mail settings are missing or inconsistent (no sender, no transport). */
export class MailConfigError extends TenantryError {
  constructor(message: string) {
    super('TENANTRY_MAIL_CONFIG', message)
  }
}

/**
 * A tenant URL could not be built safely: the tenant name is not a valid host label, or the
 * path is not a site-relative path (so a link in a mail could point to another site).
 */
export class MailUrlError extends TenantryError {
  constructor(message: string) {
    super('TENANTRY_MAIL_URL', message)
  }
}
