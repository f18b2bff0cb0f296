/**
 * @tenantry/realtime — WebSocket and Server-Sent Events connections that live inside their
 * tenant, channels named per tenant, one process or many through Redis pub/sub.
 */
export { type Broker, localBroker } from './broker.js'
export { type CloseReason, RealtimeConnection } from './connection.js'
export {
  RealtimeChannelError,
  RealtimeLimitError,
  RealtimeNoTenantError,
  RealtimeUnsupportedError,
} from './errors.js'
export {
  type CloseTenantOptions,
  createRealtime,
  Realtime,
  type RealtimeOptions,
  type RealtimeStats,
} from './hub.js'
export { attachRealtime } from './lifecycle.js'
export { type RealtimePluginOptions, realtimePlugin } from './plugin.js'
export {
  type RedisBrokerOptions,
  type RedisPublisher,
  type RedisSubscriber,
  redisBroker,
} from './redis.js'
export type { ConnectionHandler, RealtimeRouteOptions } from './routes.js'
