// A worker thread of `migrateAllTenants` (see migrate-workers.ts): imports the migrations
// module, opens a store of its own over the same files, then migrates each tenant the parent
// posts, one at a time, on its own connections, and posts every result back.

import { parentPort, workerData } from 'node:worker_threads'
import { createTenancy } from '@tenantry/context'
import type { MigrationsOption } from '@tenantry/kysely'
import { serializeError, type WorkerData } from './migrate-workers.js'
import { createTenantDatabases } from './tenant-databases.js'

const data = workerData as WorkerData
const loaded = (await import(data.module)) as Record<string, unknown>
const migrations = (loaded[data.exportName] ?? loaded.default) as MigrationsOption
// The parent listed the tenants under its own naming rule; this thread takes its word.
const tenancy = createTenancy({ naming: { rule: () => true, maxLength: Number.MAX_SAFE_INTEGER } })
const store = createTenantDatabases({ ...data.store, migrations, tenancy })
const port = parentPort!
port.on('message', async (job: { i: number; tenant: string } | 'close') => {
  if (job === 'close') {
    await store.close()
    port.close()
    return
  }
  try {
    const result = await store.migrateTenant(job.tenant)
    port.postMessage({ i: job.i, applied: result.applied })
  } catch (error) {
    port.postMessage({ i: job.i, applied: [], error: serializeError(error) })
  }
})
port.postMessage('ready')
