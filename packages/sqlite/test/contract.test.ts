import { join } from 'node:path'
import { createTenantDatabases } from '../src/index.js'
import { tempRoot } from './helpers.js'
import { describeTenantStoreContract } from './store-contract.js'

const root = tempRoot()

describeTenantStoreContract('sqlite', ({ tenancy, migrations, namespace, migrateOnOpen }) =>
  createTenantDatabases({ root: join(root, namespace), migrations, tenancy, migrateOnOpen }),
)
