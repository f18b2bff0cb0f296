import {
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type DatabaseMetadataOptions,
  type Kysely,
  PostgresDialect,
  type PostgresPool,
  type SchemaMetadata,
  sql,
  type TableMetadata,
} from 'kysely'

/**
 * Kysely's PostgreSQL introspector reads every table of every schema (kysely #1313, #1707): with
 * thousands of tenant schemas that costs hundreds of milliseconds a call. The store itself never
 * introspects; this one serves a migration that calls `db.introspection` and sees only the
 * schema being migrated.
 */
class SchemaIntrospector implements DatabaseIntrospector {
  constructor(
    private readonly db: Kysely<any>,
    private readonly schema: string,
  ) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{
      nspname: string
    }>`select nspname from pg_catalog.pg_namespace where nspname = ${this.schema}`.execute(this.db)
    return rows.map((r) => ({ name: r.nspname }))
  }

  async getTables(_options?: DatabaseMetadataOptions): Promise<TableMetadata[]> {
    // pg_depend's reference index finds the schema's relations without scanning pg_class.
    const { rows } = await sql<{
      table: string
      kind: string
      column: string
      type: string
      type_schema: string
      not_null: boolean
      has_default: boolean
    }>`select c.relname as table, c.relkind as kind, a.attname as column, t.typname as type,
        tn.nspname as type_schema, a.attnotnull as not_null, a.atthasdef as has_default
      from pg_catalog.pg_depend d
      join pg_catalog.pg_class c on c.oid = d.objid
      join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      join pg_catalog.pg_type t on t.oid = a.atttypid
      join pg_catalog.pg_namespace tn on tn.oid = t.typnamespace
      where d.refclassid = 'pg_catalog.pg_namespace'::regclass
        and d.refobjid = (select oid from pg_catalog.pg_namespace where nspname = ${this.schema})
        and d.classid = 'pg_catalog.pg_class'::regclass
        and c.relkind in ('r', 'v', 'p')
      order by c.relname, a.attnum`.execute(this.db)
    const tables = new Map<
      string,
      TableMetadata & { columns: TableMetadata['columns'][number][] }
    >()
    for (const r of rows) {
      let t = tables.get(r.table)
      if (t === undefined) {
        t = { name: r.table, schema: this.schema, isView: r.kind === 'v', columns: [] }
        tables.set(r.table, t)
      }
      t.columns.push({
        name: r.column,
        dataType: r.type,
        dataTypeSchema: r.type_schema,
        isNullable: !r.not_null,
        hasDefaultValue: r.has_default,
        isAutoIncrementing: false,
      })
    }
    return [...tables.values()]
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) }
  }
}

/** PostgreSQL's dialect with the schema-scoped introspector. */
export class SchemaDialect extends PostgresDialect {
  constructor(
    pool: PostgresPool,
    private readonly schema: string,
  ) {
    super({ pool })
  }
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SchemaIntrospector(db, this.schema)
  }
}
