// Creators racing from worker threads and from separate processes, and a creator killed in
// the middle of its migration. Synchronisation is by messages and stdout lines, never sleeps.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { createTenancy } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import type { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'
import { createTenantDatabases } from '../src/index.js'
import type { CreatorConfig } from './fixtures/creator.js'
import { countedMigrations } from './fixtures/migrations.js'
import { filesUnder } from './helpers.js'

const root = tempDir('tenantry-sqlite-')
const fixtures = join(import.meta.dirname, 'fixtures')

function counts(counterFile: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of readFileSync(counterFile, 'utf8').split('\n').filter(Boolean))
    out[line] = (out[line] ?? 0) + 1
  return out
}

function spawnChild(config: CreatorConfig): ChildProcess {
  return spawn(
    process.execPath,
    ['--conditions=tenantry-source', '--import', 'tsx', join(fixtures, 'child.ts')],
    {
      env: { ...process.env, TENANTRY_CREATOR: JSON.stringify(config) },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
}

/** Resolves with the first stdout line starting with `prefix` (rejects if the child exits). */
function lineFrom(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const onData = (chunk: Buffer) => {
      buf += chunk.toString()
      for (const line of buf.split('\n'))
        if (line.startsWith(prefix)) {
          child.stdout!.off('data', onData)
          resolve(line)
          return
        }
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before "${prefix}"`)))
  })
}

describe('concurrent creation across threads and processes', () => {
  it('worker threads: exactly one migrates, all others see TenantExistsError', async () => {
    const config: CreatorConfig = {
      root: join(root, 'threads'),
      tenant: 'shared',
      counterFile: join(root, 'threads-counter'),
    }
    const workers = Array.from(
      { length: 4 },
      () =>
        new Worker(join(fixtures, 'boot.mjs'), {
          workerData: { entry: join(fixtures, 'worker.ts'), config },
          execArgv: ['--conditions=tenantry-source'],
        }),
    )
    const messages = workers.map((w) => {
      const queue: unknown[] = []
      const waiters: ((m: unknown) => void)[] = []
      w.on('message', (m) => (waiters.length > 0 ? waiters.shift()!(m) : queue.push(m)))
      w.on('error', (e) => waiters.shift()?.(`error: ${e}`))
      return () =>
        new Promise<unknown>((r) => (queue.length > 0 ? r(queue.shift()) : waiters.push(r)))
    })
    try {
      expect(await Promise.all(messages.map((next) => next()))).toEqual(Array(4).fill('ready'))
      for (const w of workers) w.postMessage('go')
      const outcomes = (await Promise.all(messages.map((next) => next()))) as string[]
      expect(outcomes.sort()).toEqual(['created', 'exists', 'exists', 'exists'])
      expect(counts(config.counterFile)).toEqual({ '001_note': 1, '002_tag': 1 })
    } finally {
      await Promise.all(workers.map((w) => w.terminate()))
    }
  })

  it('child processes: exactly one migrates, all others see TenantExistsError', async () => {
    const config: CreatorConfig = {
      root: join(root, 'procs'),
      tenant: 'shared',
      counterFile: join(root, 'procs-counter'),
    }
    const children = Array.from({ length: 4 }, () => spawnChild(config))
    try {
      await Promise.all(children.map((c) => lineFrom(c, 'ready')))
      const outcomes = children.map((c) => lineFrom(c, 'outcome '))
      for (const c of children) c.stdin!.write('go\n')
      const lines = (await Promise.all(outcomes)).map((l) => l.slice('outcome '.length))
      expect(lines.sort()).toEqual(['created', 'exists', 'exists', 'exists'])
      expect(counts(config.counterFile)).toEqual({ '001_note': 1, '002_tag': 1 })
    } finally {
      for (const c of children) c.kill()
    }
  })

  it('a creator killed mid-migration leaves an invisible tenant that can be created later', async () => {
    const dir = join(root, 'killed')
    const counterFile = join(root, 'killed-counter')
    const child = spawnChild({ root: dir, tenant: 'victim', counterFile, hang: true })
    await lineFrom(child, 'ready')
    const migrating = lineFrom(child, 'migrating')
    child.stdin!.write('go\n')
    await migrating
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited

    const tenancy = createTenancy()
    const store = createTenantDatabases({
      root: dir,
      migrations: countedMigrations(counterFile),
      tenancy,
    }).install(tenancy)
    // The half-made file is there, but nobody can see or open the tenant.
    expect(filesUnder(dir)).toContain('tenants/victim/db.sqlite3.creating')
    expect(store.exists('victim')).toBe(false)
    expect(await store.list()).toEqual([])
    await expect(tenancy.withTenant('victim', () => 1)).rejects.toMatchObject({
      code: 'TENANTRY_UNKNOWN_TENANT',
    })
    // The dead creator's lock went with its process: creating again works at once.
    await store.createTenant('victim')
    const tags = await tenancy.withTenant('victim', () =>
      (tenancy.getResource('db') as Kysely<any>).selectFrom('tag').selectAll().execute(),
    )
    expect(tags).toEqual([])
    expect(filesUnder(dir).filter((f) => !/-(wal|shm)$/.test(f))).toEqual([
      'tenants/victim/db.sqlite3',
    ])
    expect(existsSync(join(dir, 'tenants/victim/db.sqlite3.creating'))).toBe(false)
    expect(counts(counterFile)).toEqual({ '001_note': 2, '002_tag': 2 })
    await store.close()
  })
})
