// The same application code on PostgreSQL (schema per tenant); names are unique per run.
import { randomBytes } from 'node:crypto'
import { getDb, withTenant } from '@tenantry/context'
import { createPostgresTenantDatabases, withTransaction } from '@tenantry/postgres'
import pg from 'pg'
import './resources.js'
import { type DB, migrations } from './schema.js'

const id = randomBytes(4).toString('hex')
const store = createPostgresTenantDatabases<DB>({
  connectionString: process.env.DATABASE_URL,
  migrations,
  schemaPrefix: `adopt_${id}_`,
  registrySchema: `adopt_${id}_registry`,
}).install()
try {
  await store.createTenant('acme')
  await withTenant('acme', () =>
    withTransaction(() => getDb().insertInto('note').values({ id: 1, title: 'hello' }).execute()),
  )
  const rows = await withTenant('acme', () => getDb().selectFrom('note').select('title').execute())
  await store.destroyTenant('acme')
  console.log(JSON.stringify({ rows }))
} finally {
  await store.close()
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS "adopt_${id}_registry" CASCADE`)
  await client.end()
}
