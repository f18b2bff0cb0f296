// The shared TenantStore contract (@tenantry/test-utils), run against PostgreSQL. It also runs
// the kit's withTransaction on this backend: that helper works on any Kysely.

import { describeArchiveContract } from '@tenantry/test-utils/archive-contract'
import { describeTenantStoreContract } from '@tenantry/test-utils/store-contract'
import { createPostgresTenantDatabases } from '../src/index.js'
import { DATABASE_URL, runPrefix, SKIP } from './helpers.js'

const run = runPrefix()

describeTenantStoreContract(
  'postgres',
  ({ tenancy, migrations, namespace, migrateOnOpen }) =>
    createPostgresTenantDatabases({
      connectionString: DATABASE_URL,
      migrations,
      tenancy,
      migrateOnOpen,
      schemaPrefix: `${run}${namespace}_`,
      registrySchema: `${run}registry`,
      poolMax: 10,
    }),
  { skip: SKIP },
)

describeArchiveContract(
  'postgres',
  ({ tenancy, migrations, namespace }) =>
    createPostgresTenantDatabases({
      connectionString: DATABASE_URL,
      migrations,
      tenancy,
      schemaPrefix: `${run}${namespace}_`,
      registrySchema: `${run}registry`,
      poolMax: 10,
    }),
  { skip: SKIP },
)
