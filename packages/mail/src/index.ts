/**
 * @tenantry/mail — a per-tenant mailer on nodemailer: each tenant's sender and settings, links
 * to the tenant's site, SMTP in production and an inspectable outbox in development and tests.
 */
export { MailConfigError, MailUrlError } from './errors.js'
export {
  type MailResourceOptions,
  type MailSettings,
  type MailTransportSpec,
  mailResource,
  TenantMailer,
} from './mailer.js'
export { Outbox, type OutboxMessage, type OutboxSentInfo } from './outbox.js'
export { formatTenantUrl } from './url.js'
