import { pipeline } from 'node:stream/promises'
import type pg from 'pg'
import { from as copyFrom, to as copyTo } from 'pg-copy-streams'
import { type Relation, relations } from '../catalog.js'
import { quoteIdent } from '../naming.js'

/** Table names, each after every table it references (so rows can be inserted in order). */
async function parentsFirst(client: pg.ClientBase, tables: Relation[]): Promise<string[]> {
  const { rows } = await client.query<{ child: string; parent: string }>(
    `select c.relname as child, p.relname as parent
       from pg_catalog.pg_constraint k
       join pg_catalog.pg_class c on c.oid = k.conrelid
       join pg_catalog.pg_class p on p.oid = k.confrelid
      where k.contype = 'f' and k.conrelid = any($1::oid[]) and k.conrelid <> k.confrelid`,
    [tables.map((t) => t.oid)],
  )
  const order: string[] = []
  const visiting = new Set<string>()
  const visit = (name: string) => {
    if (order.includes(name) || visiting.has(name)) return
    visiting.add(name)
    for (const r of rows) if (r.child === name) visit(r.parent)
    visiting.delete(name)
    order.push(name)
  }
  for (const t of tables) visit(t.name)
  return order
}

async function count(client: pg.ClientBase, table: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`select count(*)::text as n from ${table}`)
  return Number(rows[0]?.n ?? 0)
}

/**
 * Copies every row of `sourceSchema` (on `source`) into the same, empty tables of `targetSchema`
 * (on `target`, made by the same migrations) with `COPY`, sets the sequences to where they were,
 * and verifies the row counts. The source tables are locked `EXCLUSIVE` first (readers go on,
 * writers wait) for the rest of the caller's transaction. Returns rows per table.
 */
export async function copyTenant(
  source: pg.ClientBase,
  sourceSchema: string,
  target: pg.ClientBase,
  targetSchema: string,
  exempt: readonly string[],
  fail: (reason: string) => Error,
): Promise<Map<string, number>> {
  const all = await relations(source, sourceSchema)
  const tables = all.filter((r) => r.kind !== 'S' && !exempt.includes(r.name))
  const q = (schema: string, name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`
  if (tables.length > 0)
    await source.query(
      `lock table ${tables.map((t) => q(sourceSchema, t.name)).join(', ')} in exclusive mode`,
    )
  const counts = new Map<string, number>()
  for (const name of await parentsFirst(source, tables)) {
    await pipeline(
      source.query(copyTo(`copy (select * from ${q(sourceSchema, name)}) to stdout`)),
      target.query(copyFrom(`copy ${q(targetSchema, name)} from stdin`)),
    )
    const [from, to] = [
      await count(source, q(sourceSchema, name)),
      await count(target, q(targetSchema, name)),
    ]
    if (from !== to)
      throw fail(`copying table "${name}" moved ${to} of ${from} rows; the move was undone`)
    counts.set(name, to)
  }
  for (const seq of all.filter((r) => r.kind === 'S')) {
    const { rows } = await source.query<{ last_value: string; is_called: boolean }>(
      `select last_value::text, is_called from ${q(sourceSchema, seq.name)}`,
    )
    const r = rows[0]
    if (r !== undefined)
      await target.query('select setval($1::regclass, $2::bigint, $3)', [
        q(targetSchema, seq.name),
        r.last_value,
        r.is_called,
      ])
  }
  return counts
}
