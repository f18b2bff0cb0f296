// The hello-world servers of fastify.bench.ts, one variant per process:
//   bare             Fastify alone
//   als-hook         the floor: a hand-written onRequest hook doing the same subdomain parse and
//                    one als.run(store, done); the handler reads the store
//   request-context  @fastify/request-context, the same parse, requestContext.set
//   tenantry         @tenantry/fastify with fromSubdomain, the handler reads a tenant resource
// Each serves GET / (hello) and POST /echo (a small JSON body, which Fastify parses from socket
// events: the case where a context is lost and must be restored).
import { AsyncLocalStorage } from 'node:async_hooks'
import Fastify from 'fastify'
import { serveOverIpc } from '../lib.ts'

const variant = process.argv[2]
const app = Fastify({ logger: false })
const subdomain = (host: string) => host.slice(0, host.indexOf('.'))

if (variant === 'tenantry') {
  const { configureTenancy, getResource } = await import('@tenantry/context')
  const { tenantry, fromSubdomain } = await import('@tenantry/fastify')
  const tenants = new Set(['acme', 'globex'])
  configureTenancy({
    tenants: { exists: (t) => tenants.has(t) },
    resources: { greeting: { create: (t) => ({ text: `hello ${t}` }) } },
  })
  await app.register(tenantry, { resolve: fromSubdomain({ root: 'localhost' }) })
  const hello = () => ({ hello: (getResource('greeting') as { text: string }).text })
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
  const hello = () => ({ hello: `hello ${als.getStore()?.tenant}` })
  app.get('/', async () => hello())
  // No re-entry after body parsing: this floor loses the context there (a guarantee it lacks).
  app.post('/echo', async (request) => ({ ...hello(), body: request.body }))
} else {
  app.get('/', async () => ({ hello: 'hello acme' }))
  app.post('/echo', async (request) => ({ hello: 'hello acme', body: request.body }))
}

await app.listen({ host: '127.0.0.1', port: 0 })
serveOverIpc((app.server.address() as { port: number }).port, () => app.close())
