import type { MailMessage, SentMessageInfo, Transport } from 'nodemailer'
import StreamTransport from 'nodemailer/lib/stream-transport'

/** One message captured by an {@link Outbox}: the full MIME source and the usual fields. */
export interface OutboxMessage {
  /** The tenant whose mailer sent it (`undefined` for the fallback mailer). */
  tenant: string | undefined
  /** The Message-ID header value, e.g. `<...@example.com>`. */
  messageId: string
  /** SMTP envelope: what a server would have been told. */
  envelope: { from: string | false; to: string[] }
  /** The From header as given to nodemailer (after the tenant's defaults were applied). */
  from: string | undefined
  /** Subject as given. */
  subject: string | undefined
  /** Plain-text body when it was given as a string or Buffer. */
  text: string | undefined
  /** HTML body when it was given as a string or Buffer. */
  html: string | undefined
  /** Top-level headers of the built message, lower-case names, unfolded. */
  headers: Record<string, string>
  /** The complete RFC 5322 message as nodemailer built it (what SMTP would have carried). */
  raw: string
  /** When it was captured. */
  date: Date
}

/** What the outbox transport reports back to `sendMail`. */
export interface OutboxSentInfo extends SentMessageInfo {
  /** The stored message. */
  stored: OutboxMessage
}

/**
 * An in-memory mailbox for development and tests. Its {@link Outbox.transport} is a real
 * nodemailer transport: messages go through nodemailer's whole pipeline (defaults, address
 * parsing, MIME building by its stream transport), then are kept here per tenant instead of
 * being delivered.
 */
export class Outbox {
  private readonly store: OutboxMessage[] = []

  /** Messages in sending order: all of them, or those of one tenant. */
  messages(tenant?: string): OutboxMessage[] {
    return tenant === undefined ? [...this.store] : this.store.filter((m) => m.tenant === tenant)
  }

  /** The latest message (of one tenant), or `undefined`. */
  last(tenant?: string): OutboxMessage | undefined {
    return this.messages(tenant).at(-1)
  }

  /** Forgets all messages, or those of one tenant. */
  clear(tenant?: string): void {
    if (tenant === undefined) {
      this.store.length = 0
      return
    }
    for (let i = this.store.length - 1; i >= 0; i--)
      if (this.store[i]!.tenant === tenant) this.store.splice(i, 1)
  }

  /** A nodemailer transport that stores into this outbox under `tenant`. */
  transport(tenant?: string): Transport<OutboxSentInfo> {
    return new OutboxTransport(this, tenant)
  }

  /** @internal */
  push(message: OutboxMessage): void {
    this.store.push(message)
  }
}

class OutboxTransport implements Transport<OutboxSentInfo> {
  readonly name = 'TenantryOutbox'
  readonly version = '0.1.0'
  private readonly builder = new StreamTransport({ buffer: true, newline: 'windows' })

  constructor(
    private readonly outbox: Outbox,
    private readonly tenant: string | undefined,
  ) {}

  send(
    mail: MailMessage<OutboxSentInfo>,
    callback: (err: Error | null, info: OutboxSentInfo) => void,
  ): void {
    const data = mail.data
    this.builder.send(mail as never, (error: Error | null, info: any) => {
      if (error) return callback(error, undefined as never)
      const raw = (info.message as Buffer).toString('utf8')
      const stored: OutboxMessage = {
        tenant: this.tenant,
        messageId: info.messageId,
        envelope: { from: info.envelope.from, to: [...info.envelope.to] },
        from:
          typeof data.from === 'string'
            ? data.from
            : data.from
              ? formatAddress(data.from)
              : undefined,
        subject: data.subject,
        text: asText(data.text),
        html: asText(data.html),
        headers: parseHeaders(raw),
        raw,
        date: new Date(),
      }
      this.outbox.push(stored)
      callback(null, {
        envelope: stored.envelope as never,
        messageId: stored.messageId,
        accepted: stored.envelope.to,
        rejected: [],
        pending: [],
        response: `250 stored in outbox (${stored.tenant ?? 'no tenant'})`,
        stored,
      } as OutboxSentInfo)
    })
  }
}

function formatAddress(a: unknown): string | undefined {
  if (typeof a === 'object' && a !== null && 'address' in a) {
    const { name, address } = a as { name?: string; address: string }
    return name ? `${name} <${address}>` : address
  }
  return undefined
}

function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (Buffer.isBuffer(v)) return v.toString('utf8')
  return undefined
}

function parseHeaders(raw: string): Record<string, string> {
  const end = raw.indexOf('\r\n\r\n')
  const block = (end === -1 ? raw : raw.slice(0, end)).replace(/\r\n[ \t]+/g, ' ')
  const headers: Record<string, string> = {}
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    headers[name] ??= line.slice(colon + 1).trim()
  }
  return headers
}
