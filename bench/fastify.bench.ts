// Hello-world throughput over HTTP: bare Fastify vs Fastify + @tenantry/fastify (subdomain
// tenant, warm) vs Fastify + @fastify/request-context. Each server runs in its own child
// process and autocannon in this one: on a 2-core machine the load generator and the server
// then get a core each instead of sharing one event loop, where autocannon's own parsing
// would be charged to whichever server happens to be running. Variants run in interleaved
// rounds, in a rotated order, and each keeps its best round, so a noisy neighbour on the
// shared cores costs a round, not a variant. Besides req/s, each server reports its own CPU
// time, which moves much less than throughput when other work shares the machine.
import { type ChildProcess, spawn } from 'node:child_process'
import autocannon from 'autocannon'
import { compare, figure, section } from './lib.ts'

const VARIANTS = ['bare', 'tenantry', 'request-context'] as const
type Variant = (typeof VARIANTS)[number]

const DURATION_S = Number(process.env.BENCH_FASTIFY_SECONDS ?? 5)
const ROUNDS = Number(process.env.BENCH_FASTIFY_ROUNDS ?? 3)
const CONNECTIONS = 10
// The servers may run on another Node (e.g. 24, whose AsyncLocalStorage needs no promise hooks):
// TENANTRY_BENCH_NODE=/path/to/node pnpm bench fastify
const SERVER_NODE = process.env.TENANTRY_BENCH_NODE ?? process.execPath

if (process.argv[2] === '--server') {
  await serve(process.argv[3] as Variant)
} else {
  await main()
}

async function serve(variant: Variant): Promise<void> {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ logger: false })
  if (variant === 'tenantry') {
    const { configureTenancy, getResource } = await import('@tenantry/context')
    const { tenantry, fromSubdomain } = await import('@tenantry/fastify')
    const tenants = new Set(['acme', 'globex'])
    configureTenancy({
      tenants: { exists: (t) => tenants.has(t) },
      resources: { greeting: { create: (t) => ({ text: `hello ${t}` }) } },
    })
    await app.register(tenantry, { resolve: fromSubdomain({ root: 'localhost' }) })
    app.get('/', async () => ({ hello: (getResource('greeting') as { text: string }).text }))
  } else if (variant === 'request-context') {
    const { fastifyRequestContext, requestContext } = await import('@fastify/request-context')
    await app.register(fastifyRequestContext)
    // The same work as the tenantry variant: take the subdomain, keep it in the context.
    app.addHook('onRequest', (request, _reply, done) => {
      requestContext.set('tenant' as never, request.hostname.split('.', 1)[0] as never)
      done()
    })
    app.get('/', async () => ({ hello: `hello ${requestContext.get('tenant' as never)}` }))
  } else {
    app.get('/', async () => ({ hello: 'hello acme' }))
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  process.once('SIGINT', () => process.exit(0)) // a clean exit (lets --cpu-prof write)
  const address = app.server.address()
  // The parent asks for this process's CPU time around each measurement.
  process.on('message', () => {
    const { user, system } = process.cpuUsage()
    process.send?.({ cpuUs: user + system })
  })
  process.send?.({ port: typeof address === 'object' && address !== null ? address.port : 0 })
}

async function start(variant: Variant): Promise<Server> {
  const child = spawn(
    SERVER_NODE,
    [...process.execArgv, import.meta.filename, '--server', variant],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
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

interface Server {
  child: ChildProcess
  port: number
  /** The server process's CPU time so far (user + system), in microseconds. */
  cpuUs: () => Promise<number>
}

async function load(port: number, seconds: number): Promise<{ rps: number; total: number }> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/`,
    headers: { host: `acme.localhost:${port}` },
    connections: CONNECTIONS,
    duration: seconds,
  })
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${result.non2xx} non-2xx responses, ${result.errors} errors`)
  return { rps: result.requests.average, total: result.requests.total }
}

async function main(): Promise<void> {
  section(
    `hello world over HTTP (${CONNECTIONS} connections, ${DURATION_S} s × ${ROUNDS} rounds, best round; Node ${process.version})`,
  )
  const rps = new Map<Variant, number>()
  const cpu = new Map<Variant, number>()
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round, so no variant always runs first (or right after another).
    for (const variant of VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!)) {
      const server = await start(variant)
      try {
        await load(server.port, 1) // warm up: JIT, the tenant's cached resources
        const before = await server.cpuUs()
        const r = await load(server.port, DURATION_S)
        const perRequest = ((await server.cpuUs()) - before) / r.total
        rps.set(variant, Math.max(rps.get(variant) ?? 0, r.rps))
        cpu.set(variant, Math.min(cpu.get(variant) ?? Number.POSITIVE_INFINITY, perRequest))
      } finally {
        server.child.kill()
      }
    }
  }
  const get = (m: Map<Variant, number>, v: Variant) => m.get(v)!
  console.log(`servers on Node ${await nodeVersion()}`)
  console.log('throughput (req/s; higher is better):')
  figure('  bare Fastify', get(rps, 'bare'), 'req/s')
  compare('  @tenantry/fastify vs bare', get(rps, 'tenantry'), get(rps, 'bare'), 'req/s', {
    min: 0.9,
  })
  compare(
    '  @fastify/request-context vs bare',
    get(rps, 'request-context'),
    get(rps, 'bare'),
    'req/s',
  )
  compare(
    '  @tenantry/fastify vs @fastify/request-context',
    get(rps, 'tenantry'),
    get(rps, 'request-context'),
    'req/s',
    { min: 1.0 },
  )
  // Throughput on shared cores swings with whatever else runs; the server's own CPU time per
  // request swings less. Requests per server-CPU-second is the throughput a CPU-bound server
  // would reach, so its ratios are the same kind of figure as the ones above.
  const perCpuS = (v: Variant) => 1e6 / get(cpu, v)
  console.log('requests per server CPU-second (higher is better):')
  figure('  bare Fastify', perCpuS('bare'), 'req/CPU-s')
  compare('  @tenantry/fastify vs bare', perCpuS('tenantry'), perCpuS('bare'), 'req/CPU-s', {
    min: 0.9,
  })
  compare(
    '  @fastify/request-context vs bare',
    perCpuS('request-context'),
    perCpuS('bare'),
    'req/CPU-s',
  )
  compare(
    '  @tenantry/fastify vs @fastify/request-context',
    perCpuS('tenantry'),
    perCpuS('request-context'),
    'req/CPU-s',
    { min: 1.0 },
  )
}

async function nodeVersion(): Promise<string> {
  if (SERVER_NODE === process.execPath) return process.version
  const { execFileSync } = await import('node:child_process')
  return execFileSync(SERVER_NODE, ['--version']).toString().trim()
}
