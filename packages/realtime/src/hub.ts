import { tenantKey } from '@tenantry/cache'
import { tenancy as sharedTenancy, type Tenancy, TenancyConfigError } from '@tenantry/context'
import type { FastifyInstance } from 'fastify'
import { type Broker, localBroker } from './broker.js'
import { type ConnectionHost, Outgoing, type RealtimeConnection } from './connection.js'
import { RealtimeChannelError, RealtimeLimitError } from './errors.js'
import {
  type ConnectionHandler,
  eventStreamRoute,
  type RealtimeRouteOptions,
  websocketRoute,
} from './routes.js'

/** Options of {@link createRealtime}. */
export interface RealtimeOptions {
  /** Carries publishes between processes; default {@link localBroker} (this process only). */
  broker?: Broker | undefined
  /** The tenancy connections enter; default the shared one (as `@tenantry/fastify`'s). */
  tenancy?: Tenancy | undefined
  /** Open connections allowed per tenant (WebSocket and SSE together); default 1000. */
  maxConnectionsPerTenant?: number | undefined
  /**
   * Unsent bytes allowed per connection; a message that would pass it drops the connection as
   * a slow consumer (it reconnects and reloads). Default 1 MiB.
   */
  maxBufferedBytes?: number | undefined
  /** Comment line sent on idle event streams so proxies keep them open; default 25 000 ms. */
  heartbeatMs?: number | undefined
  /** How long a graceful close waits for the client before dropping it; default 5 000 ms. */
  closeGraceMs?: number | undefined
}

/** Options of {@link Realtime.closeTenantConnections}. */
export interface CloseTenantOptions {
  /** WebSocket close code; default 4410 ("gone", like HTTP 410: do not reconnect). */
  code?: number | undefined
  /** Close reason; default `'tenant closed'`. */
  reason?: string | undefined
  /** Only this process's connections; default false (every process, through the broker). */
  local?: boolean | undefined
}

/** A snapshot of what a hub holds, for metrics. */
export interface RealtimeStats {
  connections: number
  tenants: number
  channels: number
  /** Connections dropped because their client read too slowly, since start. */
  slowConsumersDropped: number
}

// tenantKey() never makes a key that starts with ':' (a tenant name is never empty), so this
// key cannot collide with any tenant's channel.
const CONTROL = ':control'

interface Channel {
  readonly conns: Set<RealtimeConnection>
  readonly ready: Promise<void>
}

/**
 * The realtime hub: connections by tenant, channels by tenant-qualified key, and the broker
 * that carries publishes between processes. Create one per app with {@link createRealtime}.
 */
export class Realtime implements ConnectionHost {
  /** The tenancy connections enter. */
  readonly tenancy: Tenancy
  /** @internal */
  readonly maxBufferedBytes: number
  /** @internal */
  readonly heartbeatMs: number
  private readonly broker: Broker
  private readonly maxPerTenant: number
  private readonly graceMs: number
  private readonly channels = new Map<string, Channel>()
  private readonly tenants = new Map<string, Set<RealtimeConnection>>()
  private readonly slots = new Map<string, number>()
  private readonly started: Promise<void>
  private dropped = 0

  constructor(options: RealtimeOptions = {}) {
    this.tenancy = options.tenancy ?? sharedTenancy
    this.broker = options.broker ?? localBroker()
    this.maxPerTenant = positive(options.maxConnectionsPerTenant ?? 1000, 'maxConnectionsPerTenant')
    this.maxBufferedBytes = positive(options.maxBufferedBytes ?? 1 << 20, 'maxBufferedBytes')
    this.heartbeatMs = positive(options.heartbeatMs ?? 25_000, 'heartbeatMs')
    this.graceMs = positive(options.closeGraceMs ?? 5_000, 'closeGraceMs')
    const broker = this.broker
    this.started = Promise.resolve(broker.start((key, text) => this.receive(key, text))).then(() =>
      broker.subscribe(CONTROL),
    )
    this.started.catch(noop) // surfaced by ready(), subscribe() and publish()
  }

  /** Resolves once the broker listens (Redis subscribed); rejects if it could not start. */
  ready(): Promise<void> {
    return this.started
  }

  /**
   * Publishes `data` (JSON) on `channel` of the current tenant: every connection of this tenant
   * subscribed to `channel`, in any process, receives `{"channel":…,"data":…}`. Connections of
   * other tenants never do, whatever channel name they use. Throws `NoTenantError` outside a tenant.
   */
  async publish(channel: string, data: unknown): Promise<void> {
    return this.publishTo(this.tenancy.requireTenant(), channel, data)
  }

  /** Publishes in the tenant named explicitly: for admin code and jobs outside any tenant. */
  async publishTo(tenant: string, channel: string, data: unknown): Promise<void> {
    checkChannel(channel)
    const key = tenantKey(channel, tenant)
    const text = JSON.stringify({ channel, data })
    await this.started
    await this.broker.publish(key, text)
  }

  /**
   * Registers a WebSocket route (GET `url`) on `app`: `handler` runs once per connection inside
   * its tenant, and so does every listener of the socket. `app` must have `@tenantry/fastify`
   * and {@link realtimePlugin} registered.
   */
  websocket(
    app: FastifyInstance,
    url: string,
    handler: ConnectionHandler,
    options?: RealtimeRouteOptions,
  ): void {
    websocketRoute(this, app, url, handler, options)
  }

  /** Registers a Server-Sent Events route (GET `url`, `text/event-stream`) on `app`. */
  eventStream(
    app: FastifyInstance,
    url: string,
    handler: ConnectionHandler,
    options?: RealtimeRouteOptions,
  ): void {
    eventStreamRoute(this, app, url, handler, options)
  }

  /** Open connections of `tenant`, or of all tenants. */
  connectionCount(tenant?: string): number {
    if (tenant !== undefined) return this.tenants.get(tenant)?.size ?? 0
    let n = 0
    for (const set of this.tenants.values()) n += set.size
    return n
  }

  /** What the hub holds now. */
  stats(): RealtimeStats {
    return {
      connections: this.connectionCount(),
      tenants: this.tenants.size,
      channels: this.channels.size,
      slowConsumersDropped: this.dropped,
    }
  }

  /**
   * Closes every connection of `tenant` (WebSocket code 4410 by default; an event stream gets an
   * `event: close` record, then ends), in every process unless `local`. Call it when a tenant is
   * destroyed, before its resources are released. Resolves with the number closed here, once
   * they are gone (dropped after `closeGraceMs` if the client does not answer).
   */
  async closeTenantConnections(tenant: string, options: CloseTenantOptions = {}): Promise<number> {
    const code = options.code ?? 4410
    const reason = options.reason ?? 'tenant closed'
    // Local first: a broker that is down must not keep this process's connections open.
    const local = this.closeLocal(tenant, code, reason)
    if (options.local !== true) {
      await this.started
      await this.broker.publish(CONTROL, JSON.stringify({ close: tenant, code, reason }))
    }
    return local
  }

  /** Closes every connection (1001, going away) and the broker. */
  async close(): Promise<void> {
    const all = [...this.tenants.values()].flatMap((set) => [...set])
    await Promise.all(all.map((c) => c.end('server', 1001, 'server closing', this.graceMs)))
    await this.started.catch(noop)
    await this.broker.close()
  }

  /** @internal Takes one of the tenant's connection slots; throws when none is left. */
  acquire(tenant: string): void {
    const used = this.slots.get(tenant) ?? 0
    if (used >= this.maxPerTenant) throw new RealtimeLimitError(tenant, this.maxPerTenant)
    this.slots.set(tenant, used + 1)
  }

  /** @internal Gives a slot back (exactly once per acquire). */
  releaseSlot(tenant: string): void {
    const used = (this.slots.get(tenant) ?? 1) - 1
    if (used <= 0) this.slots.delete(tenant)
    else this.slots.set(tenant, used)
  }

  /** @internal A connection is open. */
  attach(conn: RealtimeConnection): void {
    let set = this.tenants.get(conn.tenant)
    if (set === undefined) {
      set = new Set()
      this.tenants.set(conn.tenant, set)
    }
    set.add(conn)
  }

  /** @internal A connection's transport is gone: drop its subscriptions and its place. */
  detach(conn: RealtimeConnection): void {
    if (conn.closeReason === 'slow-consumer') this.dropped++
    for (const channel of [...conn.channels]) void this.unsubscribe(conn, channel).catch(noop)
    const set = this.tenants.get(conn.tenant)
    if (set?.delete(conn) === true && set.size === 0) this.tenants.delete(conn.tenant)
  }

  /** @internal See {@link RealtimeConnection.subscribe}. */
  subscribe(conn: RealtimeConnection, channel: string): Promise<void> {
    checkChannel(channel)
    if (conn.closed) return Promise.resolve()
    const key = tenantKey(channel, conn.tenant)
    let entry = this.channels.get(key)
    if (entry === undefined) {
      const ready = this.started.then(() => this.broker.subscribe(key))
      const made: Channel = { conns: new Set(), ready }
      ready.catch(() => {
        if (this.channels.get(key) === made) this.channels.delete(key)
      })
      this.channels.set(key, made)
      entry = made
    }
    conn.channels.add(channel)
    entry.conns.add(conn)
    return entry.ready
  }

  /** @internal See {@link RealtimeConnection.unsubscribe}. */
  async unsubscribe(conn: RealtimeConnection, channel: string): Promise<void> {
    if (!conn.channels.delete(channel)) return
    const key = tenantKey(channel, conn.tenant)
    const entry = this.channels.get(key)
    if (entry === undefined || !entry.conns.delete(conn) || entry.conns.size > 0) return
    this.channels.delete(key)
    await entry.ready.catch(noop)
    if (!this.channels.has(key)) await this.broker.unsubscribe(key)
  }

  private receive(key: string, text: string): void {
    if (key === CONTROL) {
      this.control(text)
      return
    }
    const entry = this.channels.get(key)
    if (entry === undefined) return
    const message = new Outgoing(text)
    for (const conn of entry.conns) conn.deliver(message)
  }

  private control(text: string): void {
    let order: { close?: unknown; code?: unknown; reason?: unknown }
    try {
      order = JSON.parse(text)
    } catch {
      return
    }
    if (typeof order.close === 'string')
      void this.closeLocal(
        order.close,
        typeof order.code === 'number' ? order.code : 4410,
        typeof order.reason === 'string' ? order.reason : 'tenant closed',
      )
  }

  private async closeLocal(tenant: string, code: number, reason: string): Promise<number> {
    const conns = [...(this.tenants.get(tenant) ?? [])]
    await Promise.all(conns.map((c) => c.end('tenant-closed', code, reason, this.graceMs)))
    return conns.length
  }
}

/**
 * Creates a realtime hub. Register `realtimePlugin` after `@tenantry/fastify`, then its routes
 * with `hub.websocket(app, url, handler)` / `hub.eventStream(...)`; see the package README.
 */
export function createRealtime(options?: RealtimeOptions): Realtime {
  return new Realtime(options)
}

function checkChannel(channel: unknown): asserts channel is string {
  if (typeof channel !== 'string' || channel === '') throw new RealtimeChannelError(channel)
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0)
    throw new TenancyConfigError(
      `@tenantry/realtime: ${name} must be a positive number (got ${n}).`,
    )
  return n
}

function noop(): void {}
