// The cheapest clone of a pre-migrated PostgreSQL template schema in pure SQL, for
// templates.bench.ts to measure against replaying migrations: the template's DDL read once
// from the catalog (`CREATE TABLE … (LIKE … INCLUDING ALL)` per table, then its foreign keys
// from `pg_get_constraintdef`, then the migration record's rows), sent as ONE multi-statement
// script per create. Any clone has to create the same catalog objects; this one saves only
// the round trips and the Migrator. A prototype for the bench (no serial sequences, no views,
// functions or triggers), not a store feature.
import type pg from 'pg'

const q = (s: string) => `"${s.replaceAll('"', '""')}"`

/** The DDL script of `template`, with `$SCHEMA$` where the new schema's name goes. */
export async function templateScript(client: pg.ClientBase, template: string): Promise<string> {
  const { rows: tables } = await client.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind = 'r' order by c.oid`,
    [template],
  )
  // Unqualified references in the constraint text: read them with the template on the path.
  await client.query(`set search_path to ${q(template)}`)
  const { rows: fks } = await client.query<{ tbl: string; name: string; def: string }>(
    `select c.relname as tbl, k.conname as name, pg_get_constraintdef(k.oid) as def
       from pg_constraint k join pg_class c on c.oid = k.conrelid
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and k.contype = 'f' order by k.oid`,
    [template],
  )
  await client.query('reset search_path')
  const out = ['create schema $SCHEMA$', 'set local search_path to $SCHEMA$']
  for (const t of tables)
    out.push(`create table $SCHEMA$.${q(t.name)} (like ${q(template)}.${q(t.name)} including all)`)
  for (const fk of fks)
    out.push(`alter table $SCHEMA$.${q(fk.tbl)} add constraint ${q(fk.name)} ${fk.def}`)
  out.push(`insert into $SCHEMA$.kysely_migration select * from ${q(template)}.kysely_migration`)
  return `${out.join(';\n')};`
}

/** Creates `schema` from the script in one transaction, with a registry-like row and lock. */
export async function cloneFromScript(
  pool: pg.Pool,
  script: string,
  schema: string,
  registry: string,
): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('begin')
    await client.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [schema])
    await client.query(`insert into ${registry} (schema_name) values ($1)`, [schema])
    await client.query(script.replaceAll('$SCHEMA$', q(schema)))
    await client.query(`update ${registry} set ready = true where schema_name = $1`, [schema])
    await client.query('commit')
  } catch (error) {
    await client.query('rollback').catch(() => {})
    throw error
  } finally {
    client.release()
  }
}
