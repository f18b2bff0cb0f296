import { PassThrough } from 'node:stream'
import { createTenancy } from '@tenantry/context'
import { createTenantDatabases, type TenantDatabases } from '@tenantry/sqlite'
import type { Kysely, Migration } from 'kysely'
import { type CliIO, run } from '../src/index.js'

/** Version 1 of the schema: table `a`. */
export const v1: Record<string, Migration> = {
  '001_a': {
    async up(db) {
      await db.schema.createTable('a').addColumn('id', 'integer').execute()
    },
  },
}

/** Version 2: adds table `b` (fails on a tenant that already has one). */
export const v2: Record<string, Migration> = {
  ...v1,
  '002_b': {
    async up(db) {
      await db.schema.createTable('b').addColumn('id', 'integer').execute()
    },
  },
}

/** A fresh store on `root` (the CLI closes the one it is given). */
export function storeOn(root: string, migrations = v1): TenantDatabases<any> {
  return createTenantDatabases<any>({ root, migrations, tenancy: createTenancy() })
}

/** Gives `tenant` a table `b`, so that migration 002_b fails there. */
export async function poison(root: string, tenant: string): Promise<void> {
  const tenancy = createTenancy()
  const store = createTenantDatabases<any>({ root, migrations: v1, tenancy }).install(tenancy)
  try {
    await tenancy.withTenant(tenant, () =>
      (tenancy.getResource('db') as Kysely<any>).schema
        .createTable('b')
        .addColumn('x', 'text')
        .execute(),
    )
  } finally {
    await store.close()
  }
}

/** A stream capturing what is written, optionally pretending to be a terminal. */
export function capture(isTTY = false): PassThrough & { isTTY: boolean; text(): string } {
  const s = new PassThrough() as PassThrough & { isTTY: boolean; text(): string }
  const chunks: Buffer[] = []
  s.on('data', (c: Buffer) => chunks.push(c))
  s.isTTY = isTTY
  s.text = () => Buffer.concat(chunks).toString('utf8')
  return s
}

/** Runs the CLI in-process; resolves its exit code and output. */
export async function cli(
  argv: string[],
  io: Partial<CliIO> & { ttyOut?: boolean; ttyErr?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = capture(io.ttyOut)
  const stderr = capture(io.ttyErr)
  const stdin = io.stdin ?? Object.assign(new PassThrough(), { isTTY: false })
  const code = await run(argv, { stdout, stderr, ...io, stdin })
  return { code, stdout: stdout.text(), stderr: stderr.text() }
}
