import type { TenantInfo } from '@tenantry/kysely'
import type { Command } from 'commander'
import { EXIT } from '../errors.js'
import {
  type CommandContext,
  eachTenant,
  op,
  plural,
  positiveInt,
  reportFailures,
  type Selection,
  selectTenants,
  tenantList,
} from './shared.js'

/**
 * `tenantry migrate --status`: a table of tenant, applied and pending migrations, for the
 * tenants selected; exit code 7 when any tenant has pending migrations (scripts gate deploys).
 */
export async function printMigrationStatus(
  ctx: CommandContext,
  tenants: readonly string[],
  json: boolean,
): Promise<void> {
  const store = await ctx.store()
  const infos: TenantInfo[] = []
  for (const t of tenants) infos.push(await store.tenantInfo(t))
  const { stdout } = ctx.io
  if (json)
    stdout.write(
      `${JSON.stringify(infos.map((i) => ({ tenant: i.tenant, applied: i.migrations, pending: i.pending })))}\n`,
    )
  else {
    const rows = [
      ['TENANT', 'APPLIED', 'PENDING'],
      ...infos.map((i) => [
        i.tenant,
        String(i.migrations.length),
        i.pending.length === 0 ? '0' : `${i.pending.length} (${i.pending.join(', ')})`,
      ]),
    ]
    const width = [0, 1].map((c) => Math.max(...rows.map((r) => r[c]!.length)))
    for (const r of rows)
      stdout.write(`${r[0]!.padEnd(width[0]!)}  ${r[1]!.padStart(width[1]!)}  ${r[2]}\n`)
  }
  if (infos.some((i) => i.pending.length > 0)) ctx.exit(EXIT.MIGRATION_FAILED)
}

/** `tenantry rollback` and `tenantry seed`. */
export function registerMigrationCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx
  program
    .command('rollback')
    .description("undo the last migrations of tenants (runs the migrations' down steps)")
    .argument('[name]', 'tenant name')
    .option('-a, --all', 'every tenant')
    .option('--tenants <names>', 'these tenants (comma-separated)', tenantList)
    .option('--steps <n>', 'how many migrations to undo', positiveInt, 1)
    .option('--concurrency <n>', 'tenants at once', positiveInt, 4)
    .action(
      async (
        name: string | undefined,
        opts: Selection & { steps: number; concurrency: number },
      ) => {
        const store = await ctx.store()
        const tenants = await selectTenants(store, name, opts, 'rollback')
        const rollback = op(store, 'rollbackTenant', 'roll back migrations')
        const results = await eachTenant(
          io,
          tenants,
          {
            concurrency: opts.concurrency,
            label: 'Rolling back',
            describe: (r: { rolledBack: string[] }) =>
              r.rolledBack.length === 0 ? 'nothing to undo' : `undid ${r.rolledBack.join(', ')}`,
          },
          (t) => rollback(t, { steps: opts.steps }),
        )
        if (reportFailures(io, results)) ctx.exit(EXIT.MIGRATION_FAILED)
      },
    )

  program
    .command('seed')
    .description("run the config's seeds that a tenant has not run yet (each once per tenant)")
    .argument('[name]', 'tenant name')
    .option('-a, --all', 'every tenant')
    .option('--tenants <names>', 'these tenants (comma-separated)', tenantList)
    .option('--concurrency <n>', 'tenants at once', positiveInt, 4)
    .action(async (name: string | undefined, opts: Selection & { concurrency: number }) => {
      const store = await ctx.store()
      const tenants = await selectTenants(store, name, opts, 'seed')
      const seeds = await ctx.seeds()
      const seed = op(store, 'seedTenant', 'run seeds')
      store.install?.() // seeds use getDb(): the store serves the tenancy they run in
      const results = await eachTenant(
        io,
        tenants,
        {
          concurrency: opts.concurrency,
          label: 'Seeding',
          describe: (ran: string[]) =>
            ran.length === 0
              ? 'already seeded'
              : `ran ${plural(ran.length, 'seed')}: ${ran.join(', ')}`,
        },
        (t) => seed(t, seeds),
      )
      if (reportFailures(io, results)) ctx.exit(EXIT.FAILURE)
    })
}
