import type { Tenancy } from '@tenantry/context'
import { makeTenancy as memoryTenancy } from '@tenantry/test-utils'
import type { JobEnvelope, Worker } from '../src/index.js'

/** A tenancy with an in-memory tenant source and a `marker` resource naming its tenant. */
export interface TestTenancy {
  tenancy: Tenancy
  tenants: Set<string>
  /** The `marker` resource: the tenant it was built for, `'none'` outside a tenant. */
  marker(): string
}

export function makeTenancy(tenants: Iterable<string> = ['acme', 'globex']): TestTenancy {
  const { tenancy, tenants: set } = memoryTenancy(tenants, {
    resources: {
      marker: { create: (tenant) => ({ tenant }), fallback: () => ({ tenant: 'none' }) },
    },
  })
  return {
    tenancy,
    tenants: set,
    marker: () => (tenancy.getResource('marker') as { tenant: string }).tenant,
  }
}

/** Polls `condition` every 5 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Records a worker's events. */
export function record(worker: Worker) {
  const completed: JobEnvelope[] = []
  const failed: { job: JobEnvelope; error: unknown; willRetry: boolean; permanent: boolean }[] = []
  const errors: unknown[] = []
  worker.on('completed', (job) => completed.push(job))
  worker.on('failed', (job, error, info) => failed.push({ job, error, ...info }))
  worker.on('error', (error) => errors.push(error))
  return { completed, failed, errors }
}

/** A process-unique suffix for names of queues, files and jobs. */
export function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
}
