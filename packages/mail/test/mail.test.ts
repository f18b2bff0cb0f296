import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { Readable } from 'node:stream'
import { createTenancy, tenancy as shared, type Tenancy, withTenant } from '@tenantry/context'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  formatTenantUrl,
  type MailSettings,
  mailResource,
  Outbox,
  TenantMailer,
} from '../src/index.js'

let tenancy: Tenancy
let outbox: Outbox
const mail = () => tenancy.getResource('mail') as TenantMailer

const settingsOf = (tenant: string): MailSettings => ({
  from: { name: `${tenant} wiki`, address: `wiki@${tenant}.example.com` },
  replyTo: `support@${tenant}.example.com`,
  baseUrl: 'https://{tenant}.example.com',
  headers: { 'X-Tenant': tenant },
})

beforeEach(() => {
  outbox = new Outbox()
  tenancy = createTenancy({ resources: { mail: mailResource({ settings: settingsOf, outbox }) } })
})

afterEach(async () => {
  await tenancy.reset()
  await shared.reset()
})

describe('outbox transport', () => {
  it("builds the full MIME message with the tenant's sender and stores it per tenant", async () => {
    const info = await tenancy.withTenant('acme', () =>
      mail().send({
        to: 'ann@example.org',
        subject: 'Welcome to the wiki',
        text: `Start here: ${mail().tenantUrl('/pages/start')}`,
        html: '<p>Hi</p>',
      }),
    )
    await tenancy.withTenant('globex', () =>
      mail().send({ to: 'bob@example.org', subject: 'Hi', text: Readable.from(['streamed']) }),
    )
    expect(info.messageId).toMatch(/^<.+@.+>$/)
    expect(info.response).toContain('acme')

    const [m] = outbox.messages('acme')
    expect(outbox.messages('acme')).toHaveLength(1)
    expect(m).toMatchObject({
      tenant: 'acme',
      envelope: { from: 'wiki@acme.example.com', to: ['ann@example.org'] },
      from: 'acme wiki <wiki@acme.example.com>',
      subject: 'Welcome to the wiki',
      text: 'Start here: https://acme.example.com/pages/start',
      html: '<p>Hi</p>',
      messageId: info.messageId,
    })
    expect(m!.headers.from).toBe('acme wiki <wiki@acme.example.com>')
    expect(m!.headers['reply-to']).toBe('support@acme.example.com')
    expect(m!.headers['x-tenant']).toBe('acme')
    expect(m!.headers['message-id']).toBe(info.messageId)
    expect(m!.headers['content-type']).toMatch(/^multipart\/alternative; boundary=/)
    expect(m!.raw).toContain('\r\n\r\n')
    expect(m!.raw).toContain('Content-Type: text/html')
    expect(m!.raw).toContain('Start here: https://acme.example.com/pages/start')

    const g = outbox.last('globex')!
    expect(g.envelope.from).toBe('wiki@globex.example.com')
    expect(g.text).toBeUndefined() // given as a stream: read it from raw
    expect(g.raw).toContain('streamed')
    expect(outbox.messages().map((x) => x.tenant)).toEqual(['acme', 'globex'])
  })

  it('lets a message override the defaults and keeps Bcc out of the headers but in the envelope', async () => {
    await tenancy.withTenant('acme', () =>
      mail().send({
        from: 'boss@acme.example.com',
        to: 'a@example.org',
        bcc: 'hidden@example.org',
        subject: 'x',
        text: 'y',
      }),
    )
    const m = outbox.last()!
    expect(m.envelope).toEqual({
      from: 'boss@acme.example.com',
      to: ['a@example.org', 'hidden@example.org'],
    })
    expect(m.headers.from).toBe('boss@acme.example.com')
  })

  it('clears all messages or those of one tenant', async () => {
    for (const t of ['acme', 'globex', 'acme'])
      await tenancy.withTenant(t, () => mail().send({ to: 'x@example.org', text: t }))
    expect(outbox.messages()).toHaveLength(3)
    outbox.clear('acme')
    expect(outbox.messages().map((m) => m.tenant)).toEqual(['globex'])
    outbox.clear()
    expect(outbox.messages()).toEqual([])
    expect(outbox.last()).toBeUndefined()
  })

  it('keeps concurrent tenants apart', async () => {
    const tenants = Array.from({ length: 20 }, (_, i) => `t${i}`)
    await Promise.all(
      tenants.map((t) =>
        tenancy.withTenant(t, async () => {
          for (let i = 0; i < 3; i++) await mail().send({ to: 'x@example.org', text: `${t}/${i}` })
        }),
      ),
    )
    for (const t of tenants) {
      const ms = outbox.messages(t)
      expect(ms.map((m) => m.text)).toEqual([`${t}/0`, `${t}/1`, `${t}/2`])
      for (const m of ms) expect(m.envelope.from).toBe(`wiki@${t}.example.com`)
    }
  })
})

describe('mailResource', () => {
  it('is tenant-only unless a fallback is given', async () => {
    expect(() => mail()).toThrow(expect.objectContaining({ code: 'TENANTRY_NO_TENANT' }))
    tenancy.defineResource(
      'mail',
      mailResource({ settings: settingsOf, outbox, fallback: { from: 'noreply@example.com' } }),
    )
    await mail().send({ to: 'ops@example.com', text: 'system' })
    expect(outbox.last()).toMatchObject({
      tenant: undefined,
      envelope: { from: 'noreply@example.com' },
    })
    expect(() => mail().tenantUrl('/')).toThrow(
      expect.objectContaining({ code: 'TENANTRY_MAIL_CONFIG' }),
    )
  })

  it('supports async settings with eager: true, and reports missing settings clearly', async () => {
    tenancy.defineResource(
      'mail',
      mailResource({ settings: async (t) => settingsOf(t), outbox, eager: true }),
    )
    await tenancy.withTenant('acme', () => mail().send({ to: 'x@example.org', text: 'ok' }))
    expect(outbox.last()!.tenant).toBe('acme')

    tenancy.defineResource('mail', mailResource({ settings: () => ({ from: 'a@example.com' }) }))
    await expect(tenancy.withTenant('acme', () => mail())).rejects.toMatchObject({
      code: 'TENANTRY_MAIL_CONFIG',
      message: expect.stringMatching(/no transport/),
    })
    tenancy.defineResource('mail', mailResource({ settings: () => ({ from: '' }), outbox }))
    await expect(tenancy.withTenant('acme', () => mail())).rejects.toMatchObject({
      code: 'TENANTRY_MAIL_CONFIG',
      message: expect.stringMatching(/no "from"/),
    })
  })

  it('closes mailers when a tenant is refreshed, and builds fresh ones from new settings', async () => {
    let sender = 'old@acme.example.com'
    tenancy.defineResource('mail', mailResource({ settings: () => ({ from: sender }), outbox }))
    const first = await tenancy.withTenant('acme', () => mail())
    let closed = 0
    const realClose = first.close.bind(first)
    first.close = () => {
      closed++
      realClose()
    }
    sender = 'new@acme.example.com'
    await tenancy.refreshTenant('acme', ['mail'])
    expect(closed).toBe(1)
    await tenancy.withTenant('acme', () => mail().send({ to: 'x@example.org', text: 'x' }))
    expect(outbox.last()!.envelope.from).toBe('new@acme.example.com')
  })
})

describe('formatTenantUrl', () => {
  it('interpolates the tenant into the host or the path', () => {
    expect(formatTenantUrl('https://{tenant}.example.com', '/pages/x?y=1#z', 'acme')).toBe(
      'https://acme.example.com/pages/x?y=1#z',
    )
    expect(formatTenantUrl('https://{tenant}.example.com/', '/', 'acme')).toBe(
      'https://acme.example.com/',
    )
    expect(formatTenantUrl('https://example.com/t/{tenant}', '/a', 'a:b')).toBe(
      'https://example.com/t/a%3Ab/a',
    )
  })

  it('uses the current tenant by default', async () => {
    await withTenant('acme', () =>
      expect(formatTenantUrl('http://{tenant}.localhost:3000', '/x')).toBe(
        'http://acme.localhost:3000/x',
      ),
    )
    expect(() => formatTenantUrl('https://{tenant}.example.com', '/x')).toThrow(
      expect.objectContaining({ code: 'TENANTRY_NO_TENANT' }),
    )
  })

  it('refuses paths and tenants that would point the link at another site', () => {
    const t = 'https://{tenant}.example.com'
    for (const path of ['//evil.com/x', 'https://evil.com', 'pages/x', '/\\evil.com', ''])
      expect(() => formatTenantUrl(t, path, 'acme')).toThrow(
        expect.objectContaining({ code: 'TENANTRY_MAIL_URL' }),
      )
    for (const tenant of ['evil.com?', 'evil.com#', 'a:b', 'x@evil.com', 'a.b'])
      expect(() => formatTenantUrl(t, '/', tenant)).toThrow(
        expect.objectContaining({ code: 'TENANTRY_MAIL_URL' }),
      )
    expect(() => formatTenantUrl('https://example.com', '/', 'acme')).toThrow(/placeholder/)
  })

  it('keeps a path-form link inside the tenant: no dot segments up to another tenant', () => {
    const t = 'https://example.com/t/{tenant}'
    for (const path of ['/../globex/pages/x', '/%2e%2e/globex', '/./../globex', '/x/../../b'])
      expect(() => formatTenantUrl(t, path, 'acme')).toThrow(
        expect.objectContaining({ code: 'TENANTRY_MAIL_URL' }),
      )
    expect(formatTenantUrl(t, '/x/../y', 'acme')).toBe('https://example.com/t/acme/y')
    expect(formatTenantUrl(t, '/', 'acme')).toBe('https://example.com/t/acme/')
  })
})

/** A minimal real SMTP server: enough of RFC 5321 for nodemailer's SMTP transport. */
function smtpServer() {
  const received: { auth?: string | undefined; from: string; to: string[]; data: string }[] = []
  const server: Server = createServer((socket: Socket) => {
    let buffer = ''
    let inData = false
    let current = { auth: undefined as string | undefined, from: '', to: [] as string[], data: '' }
    const reply = (line: string) => socket.write(`${line}\r\n`)
    reply('220 test ESMTP')
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8')
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n')
          if (end === -1) return
          current.data = buffer.slice(0, end)
          buffer = buffer.slice(end + 5)
          inData = false
          received.push(current)
          current = { auth: current.auth, from: '', to: [], data: '' }
          reply('250 OK queued')
          continue
        }
        const nl = buffer.indexOf('\r\n')
        if (nl === -1) return
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 2)
        const cmd = line.slice(0, 4).toUpperCase()
        if (cmd === 'EHLO') reply('250-test\r\n250-AUTH PLAIN\r\n250 8BITMIME')
        else if (cmd === 'AUTH') {
          current.auth = Buffer.from(line.split(' ')[2] ?? '', 'base64')
            .toString()
            .split('\0')[1]
          reply('235 Authentication successful')
        } else if (cmd === 'MAIL') {
          current.from = /<(.*)>/.exec(line)![1]!
          reply('250 OK')
        } else if (cmd === 'RCPT') {
          current.to.push(/<(.*)>/.exec(line)![1]!)
          reply('250 OK')
        } else if (cmd === 'DATA') {
          inData = true
          reply('354 go ahead')
        } else if (cmd === 'QUIT') {
          reply('221 bye')
          socket.end()
        } else reply('250 OK')
      }
    })
  })
  return { server, received }
}

describe('SMTP transport (production path)', () => {
  it("delivers through each tenant's own SMTP settings", async () => {
    const { server, received } = smtpServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as { port: number }).port
    try {
      tenancy.defineResource(
        'mail',
        mailResource({
          settings: (t) => ({
            from: `wiki@${t}.example.com`,
            transport: {
              host: '127.0.0.1',
              port,
              secure: false,
              ignoreTLS: true,
              auth: { user: `${t}-user`, pass: 'secret' },
            },
          }),
        }),
      )
      for (const t of ['acme', 'globex'])
        await tenancy.withTenant(t, () =>
          mail().send({ to: `reader@${t}.org`, subject: `Hello ${t}`, text: 'body' }),
        )
      await tenancy.close() // closes the SMTP transports
      expect(received.map((r) => [r.auth, r.from, r.to])).toEqual([
        ['acme-user', 'wiki@acme.example.com', ['reader@acme.org']],
        ['globex-user', 'wiki@globex.example.com', ['reader@globex.org']],
      ])
      expect(received[0]!.data).toContain('Subject: Hello acme')
    } finally {
      server.close()
    }
  })

  it('can be constructed directly, e.g. for a test override', async () => {
    const m = new TenantMailer('acme', settingsOf('acme'), outbox.transport('acme'))
    await tenancy.withOverrides({ mail: m }, () => mail().send({ to: 'x@example.org', text: 'x' }))
    expect(outbox.last()!.tenant).toBe('acme')
    expect(m.tenantUrl('/x')).toBe('https://acme.example.com/x')
  })
})
