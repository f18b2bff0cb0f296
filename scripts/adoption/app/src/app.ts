// Creates a tenant, writes and reads it through getDb(), then serves it over Fastify.
import { getDb, withTenant } from '@tenantry/context'
import { fromPath, tenantry } from '@tenantry/fastify'
import { withTransaction } from '@tenantry/sqlite'
import Fastify from 'fastify'
import { store } from './store.js'

store.install()
await store.createTenant('acme', { ifNotExists: true })
await withTenant('acme', () =>
  withTransaction(() => getDb().insertInto('note').values({ title: 'hello' }).execute()),
)
const rows = await withTenant('acme', () =>
  getDb().selectFrom('note').select(['id', 'title']).execute(),
)

const app = Fastify()
await app.register(tenantry, { resolve: fromPath('/t/:tenant') })
app.get('/t/:tenant/notes', async (request) => ({
  tenant: request.tenant,
  notes: await getDb().selectFrom('note').select('title').execute(),
}))
const ok = await app.inject('/t/acme/notes')
const unknown = await app.inject('/t/nosuch/notes')
await app.close()
await store.close()
console.log(
  JSON.stringify({ rows, http: ok.json(), unknown: [unknown.statusCode, unknown.json().code] }),
)
