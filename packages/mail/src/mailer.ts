import type { ResourceDefinition } from '@tenantry/context'
import nodemailer, {
  type Address,
  type SendMailOptions,
  type SentMessageInfo,
  type SMTPTransportOptions,
  type Transport,
  type Transporter,
} from 'nodemailer'
import { MailConfigError } from './errors.js'
import type { Outbox } from './outbox.js'
import { formatTenantUrl } from './url.js'

/** How a mailer delivers: an SMTP URL, SMTP options, or any nodemailer transport instance. */
export type MailTransportSpec = string | SMTPTransportOptions | Transport<any, any>

/** One tenant's mail settings. */
export interface MailSettings {
  /** Default sender (From), e.g. `"Acme Wiki" <wiki@acme.example.com>`. Required. */
  from: string | Address
  /** Default Reply-To. */
  replyTo?: string | Address
  /** Headers added to every message (e.g. `List-Unsubscribe`). */
  headers?: Record<string, string>
  /** URL template for {@link TenantMailer.tenantUrl}, e.g. `https://{tenant}.example.com`. */
  baseUrl?: string
  /** Delivery (production: SMTP). Ignored when the resource has an outbox. */
  transport?: MailTransportSpec
}

/**
 * A tenant's mailer: nodemailer with the tenant's sender and defaults, and links to the
 * tenant's site. Get it with `getMail()` inside a tenant.
 */
export class TenantMailer {
  /** The tenant it sends for (`undefined` for a fallback mailer outside tenants). */
  readonly tenant: string | undefined
  /** The settings it was built from. */
  readonly settings: Readonly<MailSettings>
  /** The underlying nodemailer transporter (for `verify()`, plugins, events). */
  readonly transporter: Transporter<SentMessageInfo>

  constructor(tenant: string | undefined, settings: MailSettings, transport?: MailTransportSpec) {
    const spec = transport ?? settings.transport
    if (settings.from === undefined || settings.from === '')
      throw new MailConfigError(
        `Mail settings${tenant === undefined ? '' : ` of tenant "${tenant}"`} have no "from". Return a sender from your settings function.`,
        tenant,
      )
    if (spec === undefined)
      throw new MailConfigError(
        `Mail settings${tenant === undefined ? '' : ` of tenant "${tenant}"`} have no transport. Give settings.transport (an SMTP URL or options) or use an Outbox in development and tests.`,
        tenant,
      )
    this.tenant = tenant
    this.settings = Object.freeze({ ...settings })
    const defaults: SendMailOptions = { from: settings.from }
    if (settings.replyTo !== undefined) defaults.replyTo = settings.replyTo
    if (settings.headers !== undefined) defaults.headers = settings.headers
    this.transporter = nodemailer.createTransport(spec as never, defaults) as Transporter
  }

  /** Sends a message; `from`, `replyTo` and headers default to the tenant's settings. */
  send(message: SendMailOptions): Promise<SentMessageInfo> {
    return this.transporter.sendMail(message)
  }

  /** An absolute link into this tenant's site, from `settings.baseUrl`. */
  tenantUrl(path = '/'): string {
    const template = this.settings.baseUrl
    if (template === undefined)
      throw new MailConfigError(
        'Mail settings have no baseUrl (e.g. "https://{tenant}.example.com").',
        this.tenant,
      )
    if (this.tenant === undefined)
      throw new MailConfigError('tenantUrl() needs a tenant mailer; this is the fallback mailer.')
    return formatTenantUrl(template, path, this.tenant)
  }

  /** Closes the transport (SMTP connections, pools). */
  close(): void {
    this.transporter.close()
  }
}

/** Options of {@link mailResource}. */
export interface MailResourceOptions {
  /** A tenant's settings; may be async (read from the database): then set `eager: true`. */
  settings: (tenant: string) => MailSettings | Promise<MailSettings>
  /** Deliver every tenant's mail into this outbox instead (development, tests). */
  outbox?: Outbox
  /** Settings of a mailer used outside any tenant; absent: the resource is tenant-only. */
  fallback?: MailSettings
  /** Build the mailer when a tenant is entered (required when `settings` is async). */
  eager?: boolean
  /** Most idle tenant mailers kept (each may hold an SMTP connection); default 50. */
  cap?: number
}

/**
 * A resource definition for `mail`: one {@link TenantMailer} per tenant from `settings(tenant)`,
 * delivering through the outbox when one is given, else through the settings' transport (SMTP
 * in production). Mailers are closed when evicted, refreshed or released.
 *
 * ```ts
 * configureTenancy({ resources: { mail: mailResource({ settings: (t) => ({ from: `${t}@example.com`, transport: process.env.SMTP_URL }) }) } })
 * ```
 */
export function mailResource(options: MailResourceOptions): ResourceDefinition<TenantMailer> {
  const { settings, outbox, fallback } = options
  const build = (tenant: string | undefined, s: MailSettings) =>
    new TenantMailer(tenant, s, outbox?.transport(tenant))
  const def: ResourceDefinition<TenantMailer> = {
    create(tenant) {
      const s = settings(tenant)
      return s instanceof Promise ? s.then((v) => build(tenant, v)) : build(tenant, s)
    },
    dispose: (mailer) => mailer.close(),
  }
  if (fallback === undefined) def.tenantOnly = true
  else def.fallback = () => build(undefined, fallback)
  if (options.eager !== undefined) def.eager = options.eager
  if (options.cap !== undefined) def.cap = options.cap
  return def
}
