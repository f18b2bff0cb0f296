import { SEEDS_TABLE } from '@tenantry/kysely'
import type pg from 'pg'
import { RowLevelRefusedError } from '../errors.js'
import { quoteIdent } from '../naming.js'
import { CURRENT_TENANT_SQL } from './plugin.js'

/**
 * Creates the seed records (`tenantry_seeds`) as a tenant table of `schema`, before the policies
 * are applied: made lazily inside a tenant, as the other stores do, it would lack the tenant
 * column, so one tenant's seed record would mark the seed done for all of them.
 */
export async function ensureTenantSeedsTable(
  client: pg.ClientBase,
  schema: string,
  column: string,
): Promise<void> {
  await client.query(
    `create table if not exists ${quoteIdent(schema)}.${quoteIdent(SEEDS_TABLE)} (
       ${quoteIdent(column)} text not null default ${CURRENT_TENANT_SQL},
       name varchar(255) not null,
       run_at varchar(32) not null,
       primary key (${quoteIdent(column)}, name))`,
  )
}

/** The name of the policy tenantry creates on each tenant table. */
export const POLICY = 'tenantry_tenant'

interface TableRow {
  name: string
  rls: boolean
  has_column: boolean
}

/**
 * The tables of `schema` (one schema: the row-level catalog stays small, so reading it is cheap
 * whatever the number of tenants).
 */
async function tables(client: pg.ClientBase, schema: string, column: string): Promise<TableRow[]> {
  const { rows } = await client.query<TableRow>(
    `select c.relname as name, c.relrowsecurity as rls,
            exists (select 1 from pg_catalog.pg_attribute a
                     where a.attrelid = c.oid and a.attname = $2 and not a.attisdropped) as has_column
       from pg_catalog.pg_class c
      where c.relnamespace = to_regnamespace($1) and c.relkind in ('r', 'p')
      order by c.relname`,
    [schema, column],
  )
  return rows
}

/**
 * Turns on row-level security for every table of `schema` that has not got it yet: `ENABLE`
 * and `FORCE` (so the owner is bound too; superusers and `BYPASSRLS` roles never are) and one
 * policy letting a statement see and write only rows of the tenant its transaction names. A
 * table without the tenant column (made by raw SQL) fails the migration rather than stay open.
 */
export async function applyTenantPolicies(
  client: pg.ClientBase,
  schema: string,
  column: string,
  exempt: readonly string[],
): Promise<void> {
  for (const t of await tables(client, schema, column)) {
    if (exempt.includes(t.name) || t.rls) continue
    if (!t.has_column)
      throw new RowLevelRefusedError(
        `table "${t.name}" in the row-level schema "${schema}" has no "${column}" column: create tables with db.schema.createTable in a migration (the store adds the column), or add "${column} text not null default ${CURRENT_TENANT_SQL}" and key constraints that start with it`,
      )
    const table = `${quoteIdent(schema)}.${quoteIdent(t.name)}`
    const mine = `${quoteIdent(column)} = ${CURRENT_TENANT_SQL}`
    await client.query(`alter table ${table} enable row level security`)
    await client.query(`alter table ${table} force row level security`)
    await client.query(`create policy ${POLICY} on ${table} using (${mine}) with check (${mine})`)
  }
}

/**
 * The tenant tables of `schema`, ordered so that deleting in this order never trips a foreign
 * key: a table comes before every table it references.
 */
export async function deletionOrder(
  client: pg.ClientBase,
  schema: string,
  column: string,
  exempt: readonly string[],
): Promise<string[]> {
  const names = (await tables(client, schema, column))
    .filter((t) => t.has_column && !exempt.includes(t.name))
    .map((t) => t.name)
  const { rows } = await client.query<{ child: string; parent: string }>(
    `select c.relname as child, p.relname as parent
       from pg_catalog.pg_constraint k
       join pg_catalog.pg_class c on c.oid = k.conrelid
       join pg_catalog.pg_class p on p.oid = k.confrelid
      where k.contype = 'f' and k.connamespace = to_regnamespace($1) and k.conrelid <> k.confrelid`,
    [schema],
  )
  const order: string[] = []
  const visiting = new Set<string>()
  const visit = (table: string) => {
    if (order.includes(table) || visiting.has(table)) return
    visiting.add(table)
    // Children (tables referencing this one) go first.
    for (const r of rows) if (r.parent === table) visit(r.child)
    visiting.delete(table)
    order.push(table)
  }
  for (const n of names) visit(n)
  return order.filter((t) => names.includes(t))
}
