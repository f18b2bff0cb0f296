import { join } from 'node:path'
import { tempDir } from '@tenantry/test-utils'
import { describeTenantGuardContract } from '@tenantry/test-utils/guard-contract'
import { createTenantDatabases } from '../src/index.js'

const root = tempDir('tenantry-sqlite-guard-')

describeTenantGuardContract('sqlite', ({ tenancy, migrations, namespace, tenantGuard }) =>
  createTenantDatabases({ root: join(root, namespace), migrations, tenancy, tenantGuard }),
)
