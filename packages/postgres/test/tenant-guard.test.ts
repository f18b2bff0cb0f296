import { describeTenantGuardContract } from '@tenantry/test-utils/guard-contract'
import { createPostgresTenantDatabases } from '../src/index.js'
import { DATABASE_URL, runPrefix, SKIP } from './helpers.js'

const run = runPrefix()

describeTenantGuardContract(
  'postgres',
  ({ tenancy, migrations, namespace, tenantGuard }) =>
    createPostgresTenantDatabases({
      connectionString: DATABASE_URL,
      migrations,
      tenancy,
      tenantGuard,
      schemaPrefix: `${run}${namespace}_`,
      registrySchema: `${run}registry`,
      poolMax: 5,
    }),
  { skip: SKIP },
)
