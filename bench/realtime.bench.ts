// Fan-out over WebSockets through Redis pub/sub: 1,000 subscribers over 100 tenants (10 each,
// one channel per tenant), a server in its own child process, the clients and the publisher in
// this one, all on loopback. Baseline: bare Fastify + @fastify/websocket + one ioredis
// subscriber and a hand-written channel map. Against it: @tenantry/fastify + @tenantry/realtime
// (tenant resolved at the upgrade, tenant-qualified channel keys, bounded send buffers, every
// socket event inside the tenant). Each round publishes a fixed number of messages to random
// tenants and waits (bounded) until every subscriber has each of its tenant's messages.
// Figures: per-round ratios (paired rounds in alternating order; min–median–max) of deliveries
// per second (wall clock, the machine is shared) and of the server's CPU time per delivery
// (moves much less with the neighbours' load).
import { type ChildProcess, spawn } from 'node:child_process'
import { Redis } from 'ioredis'
import { WebSocket } from 'ws'
import { fmt, load, pairedRounds, section, spread, verdict } from './lib.ts'

const VARIANTS = ['bare', 'tenantry'] as const
type Variant = (typeof VARIANTS)[number]
const TENANTS = 100
const PER_TENANT = 10
const MESSAGES = Number(process.env.BENCH_REALTIME_MESSAGES ?? 2000) // per round
const ROUNDS = Number(process.env.BENCH_REALTIME_ROUNDS ?? 4)
const ROUND_TIMEOUT_MS = 60_000
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const tenantName = (i: number) => `t${i}`

if (process.argv[2] === '--server') {
  await serve(process.argv[3] as Variant, process.argv[4]!)
} else {
  await main()
}

/** The Redis channel a publish for `tenant` goes to, as each variant names it. */
async function redisChannel(variant: Variant, prefix: string, tenant: string): Promise<string> {
  if (variant === 'bare') return `${prefix}${tenant}:feed`
  const { tenantKey } = await import('@tenantry/cache')
  return `${prefix}${tenantKey('feed', tenant)}`
}

async function serve(variant: Variant, prefix: string): Promise<void> {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ logger: false })
  const publisher = new Redis(REDIS_URL)
  const subscriber = publisher.duplicate()
  // Subscribing while ioredis still connects races its ready check (redis/ioredis#2037).
  await new Promise((resolve) => subscriber.once('ready', resolve))
  if (variant === 'tenantry') {
    const { configureTenancy } = await import('@tenantry/context')
    const { tenantry, fromPath } = await import('@tenantry/fastify')
    const { createRealtime, realtimePlugin, redisBroker } = await import('@tenantry/realtime')
    const tenants = new Set(Array.from({ length: TENANTS }, (_, i) => tenantName(i)))
    configureTenancy({ tenants: { exists: (t) => tenants.has(t) } })
    const hub = createRealtime({ broker: redisBroker({ publisher, subscriber, prefix }) })
    await app.register(tenantry, { resolve: fromPath('/t/:tenant') })
    await app.register(realtimePlugin, { hub })
    hub.websocket(app, '/t/:tenant/live', (conn) => conn.subscribe('feed'))
    await hub.ready()
  } else {
    const { default: websocket } = await import('@fastify/websocket')
    await app.register(websocket)
    const channels = new Map<string, Set<WebSocket>>()
    subscriber.on('message', (channel: string, message: string) => {
      const set = channels.get(channel)
      if (set === undefined) return
      const frame = Buffer.from(message)
      for (const socket of set) socket.send(frame, { binary: false })
    })
    app.get<{ Params: { tenant: string } }>(
      '/t/:tenant/live',
      { websocket: true },
      async (socket, request) => {
        const channel = `${prefix}${request.params.tenant}:feed`
        let set = channels.get(channel)
        if (set === undefined) {
          set = new Set()
          channels.set(channel, set)
          await subscriber.subscribe(channel)
        }
        set.add(socket as unknown as WebSocket)
        socket.on('close', () => set.delete(socket as unknown as WebSocket))
        socket.send('{"ready":true}')
      },
    )
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  process.on('message', () => {
    const { user, system } = process.cpuUsage()
    process.send?.({ cpuUs: user + system })
  })
  process.once('SIGTERM', () => process.exit(0))
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 })
}

interface Server {
  child: ChildProcess
  port: number
  cpuUs: () => Promise<number>
}

async function start(variant: Variant, prefix: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, import.meta.filename, '--server', variant, prefix],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`${variant} server exited (${code})`)))
  })
  const cpuUs = () =>
    new Promise<number>((resolve) => {
      child.once('message', (m) => resolve((m as { cpuUs: number }).cpuUs))
      child.send('cpu')
    })
  return { child, port, cpuUs }
}

/** Opens the 1,000 subscribers; resolves once each is subscribed (first frame or a probe). */
async function subscribers(variant: Variant, port: number, counts: Uint32Array) {
  const sockets: WebSocket[] = []
  for (let t = 0; t < TENANTS; t++) {
    const opening: Promise<void>[] = []
    for (let k = 0; k < PER_TENANT; k++) {
      const index = t * PER_TENANT + k
      const socket = new WebSocket(`ws://127.0.0.1:${port}/t/${tenantName(t)}/live`)
      sockets.push(socket)
      opening.push(
        new Promise((resolve, reject) => {
          socket.once('error', reject)
          if (variant === 'bare') {
            socket.once('message', () => {
              socket.on('message', () => counts[index]!++)
              resolve()
            })
          } else {
            socket.on('message', () => counts[index]!++)
            socket.once('open', () => resolve())
          }
        }),
      )
    }
    await Promise.all(opening)
  }
  return sockets
}

async function round(variant: Variant): Promise<{ perSecond: number; cpuPerDelivery: number }> {
  const prefix = `tenantry-bench-rt-${process.pid}-${Math.random().toString(36).slice(2, 8)}:`
  const server = await start(variant, prefix)
  const publisher = new Redis(REDIS_URL)
  const counts = new Uint32Array(TENANTS * PER_TENANT)
  let sockets: WebSocket[] = []
  try {
    sockets = await subscribers(variant, server.port, counts)
    const channels = await Promise.all(
      Array.from({ length: TENANTS }, (_, t) => redisChannel(variant, prefix, tenantName(t))),
    )
    // The tenantry hub subscribes when the handler runs, after the open: wait until a probe
    // message reaches every subscriber (the bare server says "ready" once subscribed).
    await waitAll(counts, channels, publisher)
    counts.fill(0)
    const expected = new Uint32Array(TENANTS)
    const order = Array.from({ length: MESSAGES }, () => Math.floor(Math.random() * TENANTS))
    for (const t of order) expected[t]!++
    const message = JSON.stringify({ channel: 'feed', data: { text: 'x'.repeat(100) } })
    const cpu0 = await server.cpuUs()
    const t0 = process.hrtime.bigint()
    await Promise.all(order.map((t) => publisher.publish(channels[t]!, message)))
    await until(() => counts.every((n, i) => n >= expected[Math.floor(i / PER_TENANT)]!))
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    const cpu = (await server.cpuUs()) - cpu0
    const deliveries = MESSAGES * PER_TENANT
    if (counts.some((n, i) => n !== expected[Math.floor(i / PER_TENANT)]))
      throw new Error(`${variant}: a subscriber got a message of another tenant`)
    return { perSecond: deliveries / seconds, cpuPerDelivery: cpu / deliveries }
  } finally {
    for (const s of sockets) s.terminate()
    publisher.disconnect()
    server.child.kill('SIGTERM')
  }
}

/** Publishes a probe on every channel until each subscriber has one (subscriptions are live). */
async function waitAll(counts: Uint32Array, channels: string[], publisher: Redis) {
  const probe = JSON.stringify({ channel: 'feed', data: 'probe' })
  const deadline = Date.now() + ROUND_TIMEOUT_MS
  while (!counts.every((n) => n > 0)) {
    if (Date.now() > deadline) throw new Error('subscribers never all subscribed')
    for (let t = 0; t < TENANTS; t++) {
      const from = t * PER_TENANT
      if (counts.subarray(from, from + PER_TENANT).some((n) => n === 0))
        await publisher.publish(channels[t]!, probe)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + ROUND_TIMEOUT_MS
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`round did not finish in ${ROUND_TIMEOUT_MS} ms`)
    await new Promise((r) => setImmediate(r))
  }
}

async function main(): Promise<void> {
  section(
    `fan-out through Redis: ${TENANTS * PER_TENANT} WebSocket subscribers over ${TENANTS} tenants, ${MESSAGES} messages × ${ROUNDS} paired rounds (Node ${process.version}; ${load()})`,
  )
  const cpu: Record<Variant, number[]> = { bare: [], tenantry: [] }
  const { values, ratios } = await pairedRounds(VARIANTS, 'bare', ROUNDS, async (variant) => {
    const result = await round(variant)
    cpu[variant].push(result.cpuPerDelivery)
    return result.perSecond
  })
  const rate = (v: Variant) => spread(values[v])
  console.log(
    `  bare @fastify/websocket + Redis: ${fmt(rate('bare').median)} deliveries/s (${fmt(rate('bare').min)}–${fmt(rate('bare').max)}), ${fmt(spread(cpu.bare).median)} µs server CPU/delivery`,
  )
  console.log(
    `  tenantry: ${fmt(rate('tenantry').median)} deliveries/s (${fmt(rate('tenantry').min)}–${fmt(rate('tenantry').max)}), ${fmt(spread(cpu.tenantry).median)} µs server CPU/delivery`,
  )
  verdict('tenantry realtime / bare: deliveries/s', ratios.tenantry, { min: 0.7 })
  verdict(
    'tenantry realtime / bare: server CPU per delivery',
    spread(cpu.tenantry.map((x, i) => x / cpu.bare[i]!)),
    { max: 1.5 },
    '×',
    'moves less with load',
  )
  console.log(`after: ${load()}`)
}
