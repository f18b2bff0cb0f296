import { request as httpRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createTenancy, type NamingRule, type Tenancy } from '@tenantry/context'
import { fromPath, tenantry } from '@tenantry/fastify'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach } from 'vitest'
import { WebSocket } from 'ws'
import {
  createRealtime,
  type Realtime,
  type RealtimeOptions,
  realtimePlugin,
} from '../src/index.js'

/** A per-tenant test resource whose creations and disposals are observable. */
export interface Probe {
  tenant: string
}

/** An isolated tenancy with an in-memory tenant source and a `probe` resource. */
export function makeTenancy(
  names: readonly string[] = ['acme', 'globex', 'initech'],
  rule?: NamingRule,
) {
  const known = new Set(names)
  const disposed: string[] = []
  const tenancy = createTenancy({
    ...(rule === undefined ? {} : { naming: { rule } }),
    tenants: { exists: (t) => known.has(t), list: () => [...known].sort() },
    resources: {
      probe: {
        create: (tenant): Probe => ({ tenant }),
        dispose: (p) => {
          disposed.push((p as Probe).tenant)
        },
      },
    },
  })
  return { tenancy, disposed, known }
}

/** What code saw: the current tenant and the tenant of the `probe` resource. */
export function seen(tenancy: Tenancy): string {
  const tenant = tenancy.currentTenant()
  if (tenant === undefined) return 'none'
  const probe = tenancy.getResource('probe') as Probe
  return probe.tenant === tenant ? tenant : `MISMATCH(${tenant}/${probe.tenant})`
}

/** A listening app (tenants under `/t/:tenant`) with a realtime hub; `setup` adds routes. */
export async function makeServer(
  tenancy: Tenancy,
  setup: (app: FastifyInstance, hub: Realtime) => void,
  options: Omit<RealtimeOptions, 'tenancy'> = {},
): Promise<{ app: FastifyInstance; hub: Realtime; base: string; ws: string }> {
  const hub = createRealtime({ ...options, tenancy })
  const app = Fastify()
  await app.register(tenantry, { resolve: fromPath('/t/:tenant'), tenancy })
  await app.register(realtimePlugin, { hub })
  setup(app, hub)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { app, hub, base: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` }
}

/** A WebSocket client that records what it receives. */
export interface Client {
  socket: WebSocket
  messages: string[]
  closed: Promise<{ code: number; reason: string }>
}

/** Opens a WebSocket; rejects with the HTTP status when the upgrade is refused. */
export function connect(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url)
    const messages: string[] = []
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      socket.once('close', (code, reason) => r({ code, reason: String(reason) })),
    )
    socket.on('message', (data) => messages.push(String(data)))
    socket.once('open', () => resolve({ socket, messages, closed }))
    socket.once('unexpected-response', (req, res: IncomingMessage) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }))
      req.destroy() // with this listener, ending the refused request is ours to do
    })
    socket.once('error', reject)
  })
}

/** An event-stream client that records its `data:` records and events. */
export interface StreamClient {
  status: number
  records: string[]
  response: IncomingMessage
  ended: Promise<void>
  close(): void
}

/** Opens a Server-Sent Events stream (resolves once the headers arrived). */
export function stream(url: string): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'text/event-stream' } }, (response) => {
      const records: string[] = []
      let buffer = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        buffer += chunk
        let end = buffer.indexOf('\n\n')
        while (end !== -1) {
          const record = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (!record.startsWith(':')) records.push(record)
          end = buffer.indexOf('\n\n')
        }
      })
      const ended = new Promise<void>((r) => {
        response.once('close', () => r())
      })
      resolve({
        status: response.statusCode ?? 0,
        records,
        response,
        ended,
        close: () => req.destroy(),
      })
    })
    req.once('error', reject)
    req.end()
  })
}

/** Waits (bounded, polling) for `condition`. */
export async function waitFor(
  condition: () => boolean,
  what = 'condition',
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** A process-unique name. */
export function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
}

/** Random delay for interleaving (not synchronisation). */
export function jitter(max = 8): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.floor(Math.random() * max)))
}

/**
 * For one test file: a cleanup list run (last first) after each test, and `server` / `open`
 * that put their app and socket on it.
 */
export function closing() {
  const cleanup: Array<() => Promise<unknown> | unknown> = []
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })
  return {
    cleanup,
    async server(...args: Parameters<typeof makeServer>) {
      const s = await makeServer(...args)
      cleanup.push(() => s.app.close())
      return s
    },
    async open(url: string): Promise<Client> {
      const c = await connect(url)
      cleanup.push(() => c.socket.terminate())
      return c
    },
  }
}
