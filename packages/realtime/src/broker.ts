/**
 * Carries messages between the hubs of every process. Keys are already tenant-qualified
 * (`tenantKey(channel, tenant)`), so a broker never needs to know about tenants: it only has to
 * deliver a key's messages to the hubs subscribed to exactly that key.
 */
export interface Broker {
  /** Called once by the hub before anything else: where received messages go. */
  start(deliver: (key: string, message: string) => void): void | Promise<void>
  /** Starts receiving `key` (the hub calls it once per key, when the first local subscriber comes). */
  subscribe(key: string): void | Promise<void>
  /** Stops receiving `key` (when its last local subscriber left). */
  unsubscribe(key: string): void | Promise<void>
  /** Sends `message` to every hub subscribed to `key`, this one included. */
  publish(key: string, message: string): void | Promise<void>
  /** Releases what the broker opened itself (not the clients it was given). */
  close(): void | Promise<void>
}

/**
 * The broker of a single process: a publish is delivered at once to this process's
 * subscribers, nothing leaves the process. The default.
 */
export function localBroker(): Broker {
  let deliver: ((key: string, message: string) => void) | null = null
  const keys = new Set<string>()
  return {
    start(fn) {
      deliver = fn
    },
    subscribe(key) {
      keys.add(key)
    },
    unsubscribe(key) {
      keys.delete(key)
    },
    publish(key, message) {
      if (deliver !== null && keys.has(key)) deliver(key, message)
    },
    close() {
      deliver = null
      keys.clear()
    },
  }
}
