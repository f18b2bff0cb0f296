import { join } from 'node:path'
import { tempDir } from '@tenantry/test-utils'
import { describeArchiveContract } from '@tenantry/test-utils/archive-contract'
import { describeTenantStoreContract } from '@tenantry/test-utils/store-contract'
import { createTenantDatabases } from '../src/index.js'

const root = tempDir('tenantry-sqlite-')

describeTenantStoreContract('sqlite', ({ tenancy, migrations, namespace, migrateOnOpen }) =>
  createTenantDatabases({ root: join(root, namespace), migrations, tenancy, migrateOnOpen }),
)

describeArchiveContract('sqlite', ({ tenancy, migrations, namespace }) =>
  createTenantDatabases({ root: join(root, `archive-${namespace}`), migrations, tenancy }),
)
