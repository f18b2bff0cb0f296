import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'

/** The PostgreSQL under test, or undefined (the suites then skip, with the reason in the name). */
export const DATABASE_URL = process.env.DATABASE_URL || undefined

if (DATABASE_URL === undefined && process.env.TENANTRY_REQUIRE_SERVICES === '1')
  throw new Error(
    'DATABASE_URL is not set, but TENANTRY_REQUIRE_SERVICES=1: the PostgreSQL tests must run.',
  )

/** Why the suites skip, or undefined when they run. */
export const SKIP = DATABASE_URL === undefined ? 'DATABASE_URL is not set' : undefined

/** A name for a suite, with the skip reason when there is one. */
export function suiteName(name: string): string {
  return SKIP === undefined ? name : `${name} (skipped: ${SKIP})`
}

/**
 * A prefix unique to this test file's run (other helpers and CI share the database); every
 * schema made here starts with it and is dropped after the file's tests.
 */
export function runPrefix(): string {
  const run = `tt${randomBytes(4).toString('hex')}_`
  afterAll(async () => {
    if (DATABASE_URL !== undefined) await dropSchemas(run)
  })
  return run
}

/** Drops every schema whose name starts with `prefix`. */
export async function dropSchemas(prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    const { rows } = await client.query<{ nspname: string }>(
      'select nspname from pg_namespace where starts_with(nspname, $1)',
      [prefix],
    )
    for (const { nspname } of rows)
      await client.query(`drop schema if exists "${nspname.replaceAll('"', '""')}" cascade`)
  } finally {
    await client.end()
  }
}

/** Schemas whose name starts with `prefix`, sorted. */
export async function schemasLike(prefix: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    const { rows } = await client.query<{ nspname: string }>(
      'select nspname from pg_namespace where starts_with(nspname, $1) order by nspname collate "C"',
      [prefix],
    )
    return rows.map((r) => r.nspname)
  } finally {
    await client.end()
  }
}

/**
 * A login role of this run that is no superuser (superusers bypass row-level security), made
 * before the file's tests and dropped after; returns DATABASE_URL as that role.
 */
export function appRoleUrl(run: string): string {
  const role = `${run}app`
  const admin = async (fn: (c: pg.Client) => Promise<unknown>) => {
    const client = new pg.Client({ connectionString: DATABASE_URL })
    await client.connect()
    try {
      // GRANT/REVOKE on the database rewrite one catalog row: two test files doing it at once
      // fail with "tuple concurrently updated", so role changes take turns.
      await client.query('begin')
      await client.query(`select pg_advisory_xact_lock(hashtext('tenantry-test-roles'))`)
      await fn(client)
      await client.query('commit')
    } finally {
      await client.end()
    }
  }
  beforeAll(() =>
    admin(async (c) => {
      await c.query(`create role "${role}" login nosuperuser nobypassrls`)
      await c.query(
        `grant create on database "${new URL(DATABASE_URL!).pathname.slice(1)}" to "${role}"`,
      )
    }),
  )
  afterAll(() =>
    admin(async (c) => {
      await c.query(`drop owned by "${role}" cascade`)
      await c.query(
        `revoke create on database "${new URL(DATABASE_URL!).pathname.slice(1)}" from "${role}"`,
      )
      await c.query(`drop role if exists "${role}"`)
    }),
  )
  const url = new URL(DATABASE_URL ?? 'postgres://localhost/test')
  url.username = role
  return url.toString()
}
