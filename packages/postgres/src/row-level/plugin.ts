import {
  AddConstraintNode,
  AlterTableNode,
  ColumnDefinitionNode,
  ColumnNode,
  type ConstraintNode,
  CreateIndexNode,
  CreateTableNode,
  DataTypeNode,
  DefaultValueNode,
  ForeignKeyConstraintNode,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  PrimaryKeyConstraintNode,
  type QueryResult,
  RawNode,
  type RootOperationNode,
  UniqueConstraintNode,
  type UnknownRow,
} from 'kysely'
import { RowLevelRefusedError } from '../errors.js'

/** The setting that carries the current tenant inside a row-level transaction. */
export const TENANT_SETTING = 'app.tenant'

/** The tenant as the policies and defaults read it: null when unset or reset (''). */
export const CURRENT_TENANT_SQL = `nullif(current_setting('${TENANT_SETTING}', true), '')`

/**
 * Makes a schema-per-tenant migration a row-level one, so the same migrations serve both stores:
 * every `createTable` gets a `tenant_id text not null` column defaulting to the current tenant,
 * and every primary key, unique constraint, unique index and foreign key is prefixed with it
 * (tenant A's `note 1` and tenant B's `note 1` are two rows; a tag can only reference a note of
 * its own tenant). The row-level security policies are added after the migrations run.
 */
export class TenantColumnPlugin implements KyselyPlugin {
  constructor(private readonly column = 'tenant_id') {}

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (CreateTableNode.is(node)) return this.createTable(node)
    if (AlterTableNode.is(node)) return this.alterTable(node)
    if (CreateIndexNode.is(node) && node.unique && node.columns !== undefined)
      return { ...node, columns: this.prefix(node.columns) }
    return node
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result
  }

  private createTable(node: CreateTableNode): CreateTableNode {
    const declared = node.columns.some((c) => c.column.column.name === this.column)
    const columns: ColumnDefinitionNode[] = []
    const moved: ConstraintNode[] = []
    const primary: ColumnNode[] = []
    for (const def of node.columns) {
      const split = this.split(def)
      columns.push(split.plain)
      moved.push(...split.moved)
      if (def.primaryKey === true) primary.push(def.column)
    }
    const constraints: ConstraintNode[] = [
      ...(primary.length > 0
        ? [PrimaryKeyConstraintNode.create([this.column, ...names(primary)])]
        : []),
      ...moved,
      ...(node.constraints ?? []).map((c) => this.constraint(c)),
    ]
    const tenant = ColumnDefinitionNode.cloneWith(
      ColumnDefinitionNode.create(this.column, DataTypeNode.create('text')),
      {
        notNull: true,
        defaultTo: DefaultValueNode.create(RawNode.createWithSql(CURRENT_TENANT_SQL)),
      },
    )
    return { ...node, columns: declared ? columns : [tenant, ...columns], constraints }
  }

  private alterTable(node: AlterTableNode): AlterTableNode {
    if (node.addConstraint !== undefined)
      return AlterTableNode.cloneWithTableProps(node, {
        addConstraint: AddConstraintNode.create(this.constraint(node.addConstraint.constraint)),
      })
    // An inline key on an added column cannot carry the tenant column, and one ALTER TABLE
    // node cannot hold both the column and a table constraint: ask for two statements.
    for (const a of node.columnAlterations ?? [])
      if (a.kind === 'AddColumnNode' && (a.column.unique || a.column.references !== undefined))
        throw new RowLevelRefusedError(
          `add column "${a.column.column.column.name}" without unique()/references(), then add the key with a second alterTable(): addUniqueConstraint / addForeignKeyConstraint (the store puts ${this.column} first in it)`,
        )
    return node
  }

  /** A column definition without its inline key constraints, and those as table constraints. */
  private split(def: ColumnDefinitionNode): {
    plain: ColumnDefinitionNode
    moved: ConstraintNode[]
  } {
    const moved: ConstraintNode[] = []
    if (def.unique) moved.push(UniqueConstraintNode.create([this.column, def.column.column.name]))
    const ref = def.references
    if (ref !== undefined)
      moved.push(
        ForeignKeyConstraintNode.cloneWith(
          ForeignKeyConstraintNode.create(
            this.prefixColumns([def.column]),
            ref.table,
            this.prefixColumns(ref.columns),
          ),
          {
            ...(ref.onDelete === undefined ? {} : { onDelete: ref.onDelete }),
            ...(ref.onUpdate === undefined ? {} : { onUpdate: ref.onUpdate }),
          },
        ),
      )
    const { primaryKey: _key, unique: _unique, references: _references, ...rest } = def
    const plain: ColumnDefinitionNode = Object.freeze(rest)
    return { plain, moved }
  }

  private constraint(c: ConstraintNode): ConstraintNode {
    if (PrimaryKeyConstraintNode.is(c))
      return PrimaryKeyConstraintNode.cloneWith(c, { columns: this.prefixColumns(c.columns) })
    if (UniqueConstraintNode.is(c))
      return UniqueConstraintNode.cloneWith(c, { columns: this.prefixColumns(c.columns) })
    if (ForeignKeyConstraintNode.is(c))
      return {
        ...c,
        columns: this.prefixColumns(c.columns),
        references: { ...c.references, columns: this.prefixColumns(c.references.columns) },
      }
    return c
  }

  private prefixColumns(columns: readonly ColumnNode[]): ColumnNode[] {
    return columns.some((c) => c.column.name === this.column)
      ? [...columns]
      : [ColumnNode.create(this.column), ...columns]
  }

  private prefix(columns: readonly OperationNode[]): OperationNode[] {
    return columns.some((c) => ColumnNode.is(c) && c.column.name === this.column)
      ? [...columns]
      : [ColumnNode.create(this.column), ...columns]
  }
}

function names(columns: readonly ColumnNode[]): string[] {
  return columns.map((c) => c.column.name)
}
