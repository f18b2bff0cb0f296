// injectAs: naming the tenant by host, path or header, and the test's context in requests.
import { currentTenant, getMail, withTenant } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import Fastify, { type FastifyRequest } from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createTestTenants,
  type FakeMailer,
  fakeMailer,
  injectAs,
  useOverrides,
} from '../src/index.js'
import { db, makeStore, notes } from './helpers.js'

const store = makeStore(tempDir('tenantry-testing-'))
const tt = createTestTenants({ store })
await store.createTenant('acme')
await withTenant('acme', () => db().insertInto('note').values({ body: 'acme note' }).execute())

// A small app resolving the tenant like @tenantry/fastify's resolvers do.
function tenantOf(req: FastifyRequest): string | undefined {
  const header = req.headers['x-tenant']
  if (typeof header === 'string') return header
  const path = /^\/t\/([^/]+)/.exec(req.url)
  if (path) return path[1]
  const host = /^([a-z0-9-]+)\.localhost$/.exec(req.hostname)
  return host?.[1]
}
const app = Fastify()
app.get('/*', async (req, reply) => {
  const tenant = tenantOf(req)
  if (tenant === undefined) return reply.code(404).send({ error: 'no tenant' })
  return await withTenant(tenant, async () => {
    if (req.url.endsWith('/mail'))
      await (getMail() as unknown as FakeMailer).send({ to: 'x@y.test' })
    return { tenant: currentTenant(), url: req.url, host: req.hostname, notes: await notes() }
  })
})
afterAll(() => app.close())

describe('injectAs outside a tenant', () => {
  it('names the tenant by host (default), path or header', async () => {
    const byHost = await injectAs(app, 'acme', { method: 'GET', url: '/pages?x=1' })
    expect(byHost.json()).toMatchObject({
      tenant: 'acme',
      host: 'acme.localhost',
      url: '/pages?x=1',
    })
    const byPath = await injectAs(app, 'acme', '/pages', { via: 'path' })
    expect(byPath.json()).toMatchObject({
      tenant: 'acme',
      url: '/t/acme/pages',
      notes: ['acme note'],
    })
    const byHeader = await injectAs(app, 'acme', '/h', { via: 'header' })
    expect(byHeader.json()).toMatchObject({ tenant: 'acme', url: '/h' })
    const custom = await injectAs(app, 'acme', 'rel', { via: 'path', pathPrefix: '/t/' })
    expect(custom.json()).toMatchObject({ url: '/t/acme/rel' })
  })

  it('refuses an invalid tenant name before sending anything', () => {
    expect(() => injectAs(app, '../etc', '/')).toThrow(
      expect.objectContaining({ code: 'TENANTRY_INVALID_TENANT_NAME' }),
    )
  })
})

describe('injectAs from inside the worker tenant', () => {
  const mocks = useOverrides(() => ({ mail: fakeMailer() }))
  tt.use()

  it("a request for the worker tenant sees the test's uncommitted rows and mocks", async () => {
    await db().insertInto('note').values({ body: 'uncommitted' }).execute()
    const res = await injectAs(app, tt.tenant, '/mail')
    expect(res.json()).toMatchObject({ tenant: tt.tenant, notes: ['uncommitted'] })
    expect(
      mocks()
        .mail.messages()
        .map((m) => m.tenant),
    ).toEqual([tt.tenant])
  })

  it('a request for another tenant is not refused as a switch, and keeps untenanted mocks', async () => {
    const res = await injectAs(app, 'acme', '/mail')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ tenant: 'acme', notes: ['acme note'] })
    expect(
      mocks()
        .mail.messages()
        .map((m) => m.tenant),
    ).toEqual(['acme'])
    expect(currentTenant()).toBe(tt.tenant)
  })
})
