import type pg from 'pg'

/**
 * Catalog reads that stay cheap with 10,000 schemas: a schema's relations are found through
 * `pg_depend`'s index on the referenced object (the namespace), never by filtering all of
 * `pg_class` on `relnamespace` (which has no index).
 */
const IN_SCHEMA = `from pg_catalog.pg_depend d join pg_catalog.pg_class c on c.oid = d.objid
  where d.refclassid = 'pg_catalog.pg_namespace'::regclass and d.refobjid = to_regnamespace($1)
    and d.classid = 'pg_catalog.pg_class'::regclass`

/** Bytes on disk of the tables (with their indexes and TOAST) of `schema`. */
export async function schemaSize(client: pg.ClientBase, schema: string): Promise<number> {
  const { rows } = await client.query<{ size: string }>(
    `select coalesce(sum(pg_total_relation_size(c.oid)), 0)::text as size ${IN_SCHEMA}
        and c.relkind in ('r', 'm', 'p')`,
    [schema],
  )
  return Number(rows[0]?.size ?? 0)
}

/** A relation of a schema: table, partitioned table or sequence. */
export interface Relation {
  oid: number
  name: string
  kind: string
}

/** The tables (not partitions) and sequences of `schema`, by name. */
export async function relations(client: pg.ClientBase, schema: string): Promise<Relation[]> {
  const { rows } = await client.query<Relation>(
    `select c.oid::int as oid, c.relname as name, c.relkind as kind ${IN_SCHEMA}
        and c.relkind in ('r', 'p', 'S') and not c.relispartition
      order by c.relname`,
    [schema],
  )
  return rows
}
