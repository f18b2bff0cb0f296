// The row-level rewrite of migrations, checked on the SQL Kysely compiles (no database).

import { isTenantryError } from '@tenantry/context'
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
} from 'kysely'
import { describe, expect, it } from 'vitest'
import { TenantColumnPlugin } from '../src/index.js'

const db = new Kysely<any>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
}).withPlugin(new TenantColumnPlugin())

describe('TenantColumnPlugin', () => {
  it('adds tenant_id and puts it first in every key of a new table', () => {
    const { sql } = db.schema
      .createTable('tag')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('slug', 'text', (c) => c.unique())
      .addColumn('note_id', 'integer', (c) => c.notNull().references('note.id').onDelete('cascade'))
      .addUniqueConstraint('tag_name', ['slug', 'note_id'])
      .compile()
    expect(sql).toBe(
      `create table "tag" ("tenant_id" text default nullif(current_setting('app.tenant', true), '') not null, "id" integer, "slug" text, "note_id" integer not null, primary key ("tenant_id", "id"), unique ("tenant_id", "slug"), foreign key ("tenant_id", "note_id") references "note" ("tenant_id", "id") on delete cascade, constraint "tag_name" unique ("tenant_id", "slug", "note_id"))`,
    )
  })

  it('keeps a tenant_id the migration declares itself, and prefixes unique indexes and added keys', () => {
    expect(
      db.schema
        .createTable('x')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('id', 'integer')
        .addPrimaryKeyConstraint('x_pk', ['tenant_id', 'id'])
        .compile().sql,
    ).toBe(
      'create table "x" ("tenant_id" text not null, "id" integer, constraint "x_pk" primary key ("tenant_id", "id"))',
    )
    expect(db.schema.createIndex('u').unique().on('x').column('email').compile().sql).toBe(
      'create unique index "u" on "x" ("tenant_id", "email")',
    )
    expect(db.schema.createIndex('i').on('x').column('email').compile().sql).toBe(
      'create index "i" on "x" ("email")',
    )
    expect(db.schema.alterTable('x').addUniqueConstraint('x_code', ['code']).compile().sql).toBe(
      'alter table "x" add constraint "x_code" unique ("tenant_id", "code")',
    )
    const refused = (() => {
      try {
        db.schema
          .alterTable('x')
          .addColumn('code', 'text', (c) => c.unique())
          .compile()
      } catch (error) {
        return error
      }
    })()
    expect(isTenantryError(refused, 'TENANTRY_ROW_LEVEL_REFUSED')).toBe(true)
    expect((refused as Error).message).toMatch(/second alterTable/)
  })
})
