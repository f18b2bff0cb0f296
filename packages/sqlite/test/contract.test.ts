import { join } from 'node:path'
import { tempDir } from '@tenantry/test-utils'
import { describeTenantStoreContract } from '@tenantry/test-utils/store-contract'
import { createTenantDatabases } from '../src/index.js'

const root = tempDir('tenantry-sqlite-')

describeTenantStoreContract('sqlite', ({ tenancy, migrations, namespace, migrateOnOpen }) =>
  createTenantDatabases({ root: join(root, namespace), migrations, tenancy, migrateOnOpen }),
)
