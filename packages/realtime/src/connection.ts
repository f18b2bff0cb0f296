import type { TenantScope } from '@tenantry/context'
import type { FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { RealtimeUnsupportedError } from './errors.js'

/** One message as it goes out: framed once per publish, shared by every subscriber. */
export class Outgoing {
  private ws: Buffer | null = null
  private sse: Buffer | null = null
  constructor(readonly text: string) {}
  /** The WebSocket text frame's payload. */
  forWebSocket(): Buffer {
    this.ws ??= Buffer.from(this.text)
    return this.ws
  }
  /** The Server-Sent Events record. */
  forEventStream(): Buffer {
    this.sse ??= Buffer.from(`data: ${this.text}\n\n`)
    return this.sse
  }
}

/** How a connection reaches its client; one per kind (WebSocket, Server-Sent Events). */
export interface Transport {
  readonly kind: 'websocket' | 'sse'
  /** Bytes accepted but not yet handed to the kernel. */
  buffered(): number
  /** The bytes this transport sends for `message` (built once per publish and kind). */
  frame(message: Outgoing): Buffer
  write(frame: Buffer): void
  /** A clean close (a close frame, the end of the stream). */
  end(code: number, reason: string): void
  /** Drops the connection at once (a slow consumer, a grace period that ran out). */
  destroy(): void
}

/** What the hub does for a connection; implemented by the hub, used only by connections. */
export interface ConnectionHost {
  subscribe(conn: RealtimeConnection, channel: string): Promise<void>
  unsubscribe(conn: RealtimeConnection, channel: string): Promise<void>
}

/** Why a connection closed. */
export type CloseReason = 'client' | 'server' | 'slow-consumer' | 'tenant-closed' | 'error'

let ids = 0

/**
 * One client's realtime connection, inside one tenant for its whole life: its tenant was
 * resolved once, at the upgrade, and every handler it runs (`onMessage`, the socket's own
 * listeners, `onClose`) runs inside that tenant, getters included. Its channels are the
 * tenant's own: the same name in another tenant is another channel.
 */
export class RealtimeConnection {
  /** A process-unique id, for logs. */
  readonly id = ++ids
  /** Channels this connection is subscribed to, by their names in the tenant. */
  readonly channels = new Set<string>()
  /** Set once the connection is closed (`'client'` when the client went away). */
  closeReason: CloseReason | undefined = undefined
  private readonly closeListeners: Array<(reason: CloseReason) => void> = []
  /** Resolves a pending graceful {@link end} once the transport is gone. */
  private gone: () => void = noop

  /** @internal Built by the hub at the upgrade (or the start of the event stream). */
  constructor(
    /** The connection's tenant. */
    readonly tenant: string,
    /** The upgrade (or event-stream) request. */
    readonly request: FastifyRequest,
    /** The WebSocket (`undefined` for Server-Sent Events); its listeners run inside the tenant. */
    readonly socket: WebSocket | undefined,
    private readonly scope: TenantScope,
    private readonly transport: Transport,
    private readonly host: ConnectionHost,
    private readonly maxBufferedBytes: number,
  ) {}

  /** `'websocket'` or `'sse'`. */
  get kind(): 'websocket' | 'sse' {
    return this.transport.kind
  }

  /** True once closed. */
  get closed(): boolean {
    return this.closeReason !== undefined
  }

  /**
   * Subscribes to `channel` of this connection's tenant; resolves once messages published
   * there (by any process) will arrive.
   */
  subscribe(channel: string): Promise<void> {
    return this.host.subscribe(this, channel)
  }

  /** Stops receiving `channel`. */
  unsubscribe(channel: string): Promise<void> {
    return this.host.unsubscribe(this, channel)
  }

  /** Sends `data` to this client only, framed like a publish on `channel`. */
  send(channel: string, data: unknown): void {
    this.deliver(new Outgoing(JSON.stringify({ channel, data })))
  }

  /**
   * Runs `fn` for each text message from the client (WebSocket only), inside the tenant. A
   * handler that throws or rejects closes the connection with 1011 and logs the error.
   */
  onMessage(fn: (text: string) => unknown): void {
    const socket = this.socket
    if (socket === undefined)
      throw new RealtimeUnsupportedError(
        'onMessage: Server-Sent Events carry no client messages; use a WebSocket route for them.',
      )
    socket.on('message', (data, isBinary) => {
      if (!isBinary) this.guard(() => fn(String(data)))
    })
  }

  /** Runs `fn` once when the connection closes, inside the tenant. */
  onClose(fn: (reason: CloseReason) => void): void {
    if (this.closeReason !== undefined) this.scope.run(() => fn(this.closeReason!))
    else this.closeListeners.push(fn)
  }

  /** Closes the connection (WebSocket close code and reason; an event stream just ends). */
  close(code = 1000, reason = ''): void {
    if (this.closeReason !== undefined) return
    this.transport.end(code, reason)
    this.markClosed('server')
  }

  /** Runs `fn` inside this connection's tenant. */
  run<R>(fn: () => R): R {
    return this.scope.run(fn)
  }

  /**
   * @internal Queues one message; a client whose unsent bytes would pass the bound is a slow
   * consumer and is dropped (it reconnects and reloads, rather than miss messages unseen).
   */
  deliver(message: Outgoing): void {
    if (this.closeReason !== undefined) return
    const frame = this.transport.frame(message)
    if (this.transport.buffered() + frame.length > this.maxBufferedBytes) {
      this.drop('slow-consumer')
      return
    }
    this.transport.write(frame)
  }

  /** @internal Drops the connection at once. */
  drop(reason: CloseReason): void {
    if (this.closeReason !== undefined) return
    this.transport.destroy()
    this.markClosed(reason)
  }

  /** @internal Ends the connection gracefully with `code`, dropping it after `graceMs`. */
  end(reason: CloseReason, code: number, text: string, graceMs: number): Promise<void> {
    if (this.closeReason !== undefined) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.transport.destroy(), graceMs)
      timer.unref()
      this.gone = () => {
        clearTimeout(timer)
        resolve()
      }
      this.transport.end(code, text)
      this.markClosed(reason)
    })
  }

  /** @internal The transport is gone (the socket or response closed). */
  released(): void {
    this.markClosed('client')
    const gone = this.gone
    this.gone = noop
    gone()
  }

  /** @internal Runs a handler inside the tenant; a failure closes the connection with 1011. */
  guard(fn: () => unknown): void {
    let result: unknown
    try {
      result = this.scope.run(fn)
    } catch (error) {
      this.fail(error)
      return
    }
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function')
      (result as PromiseLike<unknown>).then(undefined, (error: unknown) => this.fail(error))
  }

  private fail(error: unknown): void {
    this.request.log.error({ err: error, tenant: this.tenant }, 'realtime handler failed')
    if (this.closeReason !== undefined) return
    this.transport.end(1011, 'handler failed')
    this.markClosed('error')
  }

  private markClosed(reason: CloseReason): void {
    if (this.closeReason !== undefined) return
    this.closeReason = reason
    for (const fn of this.closeListeners.splice(0)) {
      try {
        this.scope.run(() => fn(reason))
      } catch (error) {
        this.request.log.error({ err: error, tenant: this.tenant }, 'realtime onClose failed')
      }
    }
  }
}

function noop(): void {}
