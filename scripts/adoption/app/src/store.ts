import { createTenantDatabases } from '@tenantry/sqlite'
import './resources.js'
import { type DB, migrations } from './schema.js'

export const store = createTenantDatabases<DB>({
  root: process.env.DATA_ROOT ?? './data',
  migrations,
})
