import { TenancyConfigError, type TenantScope } from '@tenantry/context'
import type {} from '@tenantry/fastify' // request.tenant
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify'
import type { WebSocket } from 'ws'
import { type Outgoing, RealtimeConnection, type Transport } from './connection.js'
import { RealtimeNoTenantError } from './errors.js'
import type { Realtime } from './hub.js'

/** What a realtime route runs once per connection, inside the connection's tenant. */
export type ConnectionHandler = (
  conn: RealtimeConnection,
  request: FastifyRequest,
) => void | Promise<void>

/** Route options passed through to Fastify (hooks, config, schema...). */
export type RealtimeRouteOptions = Omit<RouteShorthandOptions, 'websocket'>

const kAdmitted = Symbol('tenantry.realtime.admitted')

/** A slot and a scope taken before the upgrade; given back exactly once. */
class Admission {
  private settled = false
  constructor(
    readonly hub: Realtime,
    readonly tenant: string,
    readonly scope: TenantScope,
  ) {}
  settle(): void {
    if (this.settled) return
    this.settled = true
    this.scope.close()
    this.hub.releaseSlot(this.tenant)
  }
}

type Admitted = FastifyRequest & { [kAdmitted]?: Admission | undefined }

// Runs before the upgrade (preHandler), so a refusal is a plain HTTP answer: 404 without a
// tenant (unknown tenants and bad names were answered by @tenantry/fastify already), 429 at the
// tenant's limit. The connection's own scope is opened here, outside the request's frame, so it
// lives exactly as long as the socket.
function admitter(hub: Realtime) {
  return async function admitRealtime(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const tenant = request.tenant
    if (tenant === undefined) throw new RealtimeNoTenantError(request.url)
    hub.acquire(tenant)
    let scope: TenantScope
    try {
      const tenancy = hub.tenancy
      scope = await tenancy.withoutTenant(() => tenancy.enterScope(tenant, { allowSwitch: true }))
    } catch (error) {
      hub.releaseSlot(tenant)
      throw error
    }
    const admission = new Admission(hub, tenant, scope)
    ;(request as Admitted)[kAdmitted] = admission
    // Given back when the socket (WebSocket) or the response (event stream) closes, whether
    // or not the connection was ever made: a client may leave before its upgrade completes.
    const closing = request.ws ? request.raw.socket : reply.raw
    if (closing === undefined || closing === null) return
    if ((closing as { closed?: boolean }).closed === true) admission.settle()
    else closing.once('close', () => admission.settle())
  }
}

function take(request: FastifyRequest): Admission {
  const admission = (request as Admitted)[kAdmitted]
  if (admission === undefined)
    throw new TenancyConfigError(
      '@tenantry/realtime: the route ran without its preHandler (was it replaced?).',
    )
  ;(request as Admitted)[kAdmitted] = undefined
  return admission
}

// The route's own preHandlers (authentication, say) run first: a client they refuse never
// takes one of the tenant's connection slots.
function withAdmission(hub: Realtime, options: RealtimeRouteOptions): RouteShorthandOptions {
  const own = options.preHandler
  const list = own === undefined ? [] : Array.isArray(own) ? own : [own]
  return { ...options, preHandler: [...list, admitter(hub)] }
}

const TEXT = { binary: false }

/**
 * Registers a WebSocket route on `app` (after `@tenantry/fastify` and the realtime plugin):
 * `handler` runs once per connection inside its tenant, and so does every listener of the socket.
 */
export function websocketRoute(
  hub: Realtime,
  app: FastifyInstance,
  url: string,
  handler: ConnectionHandler,
  options: RealtimeRouteOptions = {},
): void {
  // Without @fastify/websocket, `websocket: true` would be ignored and this a plain GET route.
  if (!app.hasPlugin('@tenantry/realtime'))
    throw new TenancyConfigError(
      `@tenantry/realtime: register realtimePlugin on the app before the route ${url}.`,
    )
  app.get(
    url,
    { ...withAdmission(hub, options), websocket: true },
    function realtimeSocket(socket: WebSocket, request: FastifyRequest) {
      const admission = take(request)
      const scope = admission.scope
      // Every listener of the socket (ours, the app's 'message' handlers, 'close', 'pong') is
      // called through emit: running emit in the tenant's frame puts them all inside it.
      const emit = socket.emit
      socket.emit = function emitInTenant(this: WebSocket, ...args: Parameters<WebSocket['emit']>) {
        return scope.run(() => emit.apply(this, args))
      } as WebSocket['emit']
      const transport: Transport = {
        kind: 'websocket',
        buffered: () => socket.bufferedAmount,
        frame: (m: Outgoing) => m.forWebSocket(),
        write: (frame) => socket.send(frame, TEXT),
        end: (code, reason) => socket.close(code, reason),
        destroy: () => socket.terminate(),
      }
      const conn = new RealtimeConnection(
        admission.tenant,
        request,
        socket,
        scope,
        transport,
        hub,
        hub.maxBufferedBytes,
      )
      hub.attach(conn)
      socket.once('close', () => {
        hub.detach(conn)
        conn.released()
        admission.settle()
      })
      conn.guard(() => handler(conn, request))
    },
  )
}

/**
 * Registers a Server-Sent Events route on `app` (GET, `text/event-stream`): `handler` runs once
 * per stream inside its tenant. Each publish arrives as one `data:` record.
 */
export function eventStreamRoute(
  hub: Realtime,
  app: FastifyInstance,
  url: string,
  handler: ConnectionHandler,
  options: RealtimeRouteOptions = {},
): void {
  app.get(url, withAdmission(hub, options), function realtimeEvents(request, reply) {
    const admission = take(request)
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
    })
    res.write(': connected\n\n')
    const heartbeat = setInterval(() => res.write(': ping\n\n'), hub.heartbeatMs)
    heartbeat.unref()
    const transport: Transport = {
      kind: 'sse',
      buffered: () => res.writableLength,
      frame: (m: Outgoing) => m.forEventStream(),
      write: (frame) => void res.write(frame),
      end: (code, reason) => {
        res.end(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`)
      },
      destroy: () => res.destroy(),
    }
    const conn = new RealtimeConnection(
      admission.tenant,
      request,
      undefined,
      admission.scope,
      transport,
      hub,
      hub.maxBufferedBytes,
    )
    hub.attach(conn)
    res.once('close', () => {
      clearInterval(heartbeat)
      hub.detach(conn)
      conn.released()
      admission.settle()
    })
    conn.guard(() => handler(conn, request))
  })
}
