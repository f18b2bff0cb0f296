import type { Broker } from './broker.js'

/** The part of an ioredis client that publishes (any client in normal mode). */
export interface RedisPublisher {
  publish(channel: string, message: string): Promise<unknown>
}

/**
 * The part of an ioredis client that subscribes. It must be a connection of its own: a Redis
 * connection in subscriber mode can run no other command.
 */
export interface RedisSubscriber {
  subscribe(...channels: string[]): Promise<unknown>
  unsubscribe(...channels: string[]): Promise<unknown>
  on(event: 'message', listener: (channel: string, message: string) => void): unknown
  off(event: 'message', listener: (channel: string, message: string) => void): unknown
  /** ioredis: `'ready'` once connected (and its ready check done). */
  readonly status?: string | undefined
  once?(event: 'ready', listener: () => void): unknown
}

/** Options of {@link redisBroker}. */
export interface RedisBrokerOptions {
  /** Publishes (may be shared with the rest of the app, e.g. BullMQ's or the cache's client). */
  publisher: RedisPublisher
  /** Subscribes: a dedicated connection (`publisher.duplicate()` with ioredis). */
  subscriber: RedisSubscriber
  /**
   * Put in front of every Redis channel, so several apps (or test runs) share one Redis without
   * hearing each other; default `'tenantry:rt:'`.
   */
  prefix?: string | undefined
}

/**
 * A broker over Redis pub/sub, for many processes behind a load balancer: every process
 * publishes to Redis, and each hears the keys its own connections are subscribed to. The
 * clients are yours (ioredis, or anything with the same methods); `close()` leaves them open.
 *
 * ```ts
 * const publisher = new Redis(process.env.REDIS_URL)
 * const live = createRealtime({ broker: redisBroker({ publisher, subscriber: publisher.duplicate() }) })
 * ```
 */
export function redisBroker(options: RedisBrokerOptions): Broker {
  const { publisher, subscriber } = options
  const prefix = options.prefix ?? 'tenantry:rt:'
  let listener: ((channel: string, message: string) => void) | null = null
  return {
    async start(deliver) {
      listener = (channel, message) => {
        // Other apps on the same Redis may use other channels: only ours carry the prefix.
        if (channel.startsWith(prefix)) deliver(channel.slice(prefix.length), message)
      }
      subscriber.on('message', listener)
      // ioredis ≥ 5.8.2 sends its ready check (INFO) after a SUBSCRIBE queued while connecting,
      // which Redis refuses in subscriber mode (redis/ioredis#2037): subscribe once ready.
      const once = subscriber.once
      if (subscriber.status !== undefined && subscriber.status !== 'ready' && once !== undefined)
        await new Promise<void>((resolve) => once.call(subscriber, 'ready', resolve))
    },
    async subscribe(key) {
      await subscriber.subscribe(prefix + key)
    },
    async unsubscribe(key) {
      await subscriber.unsubscribe(prefix + key)
    },
    async publish(key, message) {
      await publisher.publish(prefix + key, message)
    },
    close() {
      if (listener !== null) subscriber.off('message', listener)
      listener = null
    },
  }
}
