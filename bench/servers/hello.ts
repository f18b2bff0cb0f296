// The hello-world servers of fastify.bench.ts, one variant per process:
//   bare             Fastify alone
//   als-hook         the floor: a hand-written onRequest hook doing the same subdomain parse and
//                    one als.run(store, done); the handler reads the store
//   request-context  @fastify/request-context, the same parse, requestContext.set
//   tenantry         @tenantry/fastify with fromSubdomain, the handler reads a tenant resource
//   tenantry-tenant  the same, the handler reads only the tenant's name (no resource held)
// A second argument `on-response` adds one onResponse hook that reads the context (als-hook,
// tenantry): what a hook there costs, and what keeping the tenant in it costs.
// Each serves GET / (hello) and POST /echo (a small JSON body, which Fastify parses from socket
// events: the case where a context is lost and must be restored).
import { AsyncLocalStorage } from 'node:async_hooks'
import Fastify from 'fastify'
import { serveOverIpc } from '../lib.ts'

const variant = process.argv[2]
const withOnResponse = process.argv[3] === 'on-response'
const app = Fastify({ logger: false })
const subdomain = (host: string) => host.slice(0, host.indexOf('.'))
let seen: unknown // what the onResponse hook read, kept so the read is not optimised away

if (variant === 'tenantry' || variant === 'tenantry-tenant') {
  const { configureTenancy, currentTenant, getResource } = await import('@tenantry/context')
  const { tenantry, fromSubdomain } = await import('@tenantry/fastify')
  const tenants = new Set(['acme', 'globex'])
  configureTenancy({
    tenants: { exists: (t) => tenants.has(t) },
    resources: { greeting: { create: (t) => ({ text: `hello ${t}` }) } },
  })
  await app.register(tenantry, { resolve: fromSubdomain({ root: 'localhost' }) })
  if (withOnResponse)
    app.addHook('onResponse', (_request, _reply, done) => {
      seen = currentTenant()
      done()
    })
  const hello =
    variant === 'tenantry'
      ? () => ({ hello: (getResource('greeting') as { text: string }).text })
      : () => ({ hello: `hello ${currentTenant()}` })
  app.get('/', async () => hello())
  app.post('/echo', async (request) => ({ ...hello(), body: request.body }))
} else if (variant === 'request-context') {
  const { fastifyRequestContext, requestContext } = await import('@fastify/request-context')
  await app.register(fastifyRequestContext)
  app.addHook('onRequest', (request, _reply, done) => {
    requestContext.set('tenant' as never, subdomain(request.host) as never)
    done()
  })
  const hello = () => ({ hello: `hello ${requestContext.get('tenant' as never)}` })
  app.get('/', async () => hello())
  app.post('/echo', async (request) => ({ ...hello(), body: request.body }))
} else if (variant === 'als-hook') {
  const als = new AsyncLocalStorage<{ tenant: string }>()
  app.addHook('onRequest', (request, _reply, done) => {
    als.run({ tenant: subdomain(request.host) }, done)
  })
  // Read where the hook runs: from the response's 'finish', where this floor may have lost the
  // context (a guarantee it lacks), as it does after body parsing.
  if (withOnResponse)
    app.addHook('onResponse', (_request, _reply, done) => {
      seen = als.getStore()?.tenant
      done()
    })
  const hello = () => ({ hello: `hello ${als.getStore()?.tenant}` })
  app.get('/', async () => hello())
  // No re-entry after body parsing: this floor loses the context there (a guarantee it lacks).
  app.post('/echo', async (request) => ({ ...hello(), body: request.body }))
} else {
  app.get('/', async () => ({ hello: 'hello acme' }))
  app.post('/echo', async (request) => ({ hello: 'hello acme', body: request.body }))
}

await app.listen({ host: '127.0.0.1', port: 0 })
serveOverIpc((app.server.address() as { port: number }).port, () => {
  void seen
  return app.close()
})
