import { Recoverable, start } from 'node:repl'
import { runInContext } from 'node:vm'
import { getDb, getResource } from '@tenantry/context'
import type { Command } from 'commander'
import { CliError, EXIT, messageOf } from '../errors.js'
import { type CommandContext, op, unknownTenant } from './shared.js'

/** `tenantry console [name]`: a REPL inside a tenant. */
export function registerConsoleCommand(program: Command, ctx: CommandContext): void {
  const { io } = ctx
  program
    .command('console')
    .description(
      'an interactive JavaScript prompt inside a tenant: getDb(), getResource(name), store and tenant are defined; a promise result is awaited (default tenant: $TENANTRY_TENANT)',
    )
    .argument('[name]', 'tenant name (default: $TENANTRY_TENANT)')
    .action(async (name: string | undefined) => {
      const tenant = name ?? process.env.TENANTRY_TENANT
      if (tenant === undefined || tenant === '')
        throw new CliError(
          'TENANTRY_CLI_USAGE',
          EXIT.USAGE,
          'console needs a tenant name (or TENANTRY_TENANT in the environment).',
        )
      const store = await ctx.store()
      if (!(await store.exists(tenant)))
        throw new CliError('TENANTRY_UNKNOWN_TENANT', EXIT.UNKNOWN_TENANT, unknownTenant(tenant))
      store.install?.()
      const inTenant = op(store, 'inTenant', 'open a console')
      await inTenant(tenant, () => {}) // fails here, once, if the tenant cannot be opened
      const server = start({
        prompt: `${tenant}> `,
        input: io.stdin,
        output: io.stdout,
        terminal: io.stdin.isTTY === true && io.stdout.isTTY === true,
        ignoreUndefined: true,
        // Every line is evaluated inside the tenant: a REPL reads its input in callbacks that
        // carry no tenant context of their own.
        eval: (code, context, _file, done) => {
          inTenant(tenant, async () => {
            const value: unknown = runInContext(code, context)
            return isThenable(value) ? await value : value
          }).then(
            (value) => done(null, value),
            (error: unknown) => {
              // Incomplete input (an open bracket): let the REPL ask for the next line.
              if (error instanceof SyntaxError && /Unexpected end of input/.test(error.message))
                done(new Recoverable(error), undefined)
              else {
                io.stderr.write(`tenantry: ${messageOf(error)}\n`)
                done(null, undefined)
              }
            },
          )
        },
      })
      Object.assign(server.context, { getDb, getResource, store, tenant })
      await new Promise<void>((resolve) => server.on('exit', resolve))
    })
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function'
}
