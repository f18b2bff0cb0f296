import { TenantryError, type TenantryErrorCode } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_CLI_CONFIG: true
    TENANTRY_CLI_USAGE: true
    TENANTRY_CLI_ABORTED: true
    TENANTRY_CLI_COMMAND_FAILED: true
  }
}

/**
 * Exit codes of the `tenantry` command. Stable: scripts may branch on them.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | success |
 * | 1 | unexpected failure (I/O, a bug) |
 * | 2 | usage error (unknown command or option, bad value, `destroy` without `--yes` off a TTY) |
 * | 3 | configuration error (no config file, or its default export is not a store) |
 * | 4 | invalid tenant name |
 * | 5 | unknown tenant |
 * | 6 | tenant already exists |
 * | 7 | a migration failed (for `--all`: at least one tenant) |
 * | 8 | aborted at the confirmation prompt |
 */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  CONFIG: 3,
  BAD_NAME: 4,
  UNKNOWN_TENANT: 5,
  TENANT_EXISTS: 6,
  MIGRATION_FAILED: 7,
  ABORTED: 8,
} as const

/** One of the {@link EXIT} codes. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** An error the CLI reports as one line and turns into an exit code. */
export class CliError extends TenantryError {
  /** The process exit code this error leads to. */
  readonly exitCode: ExitCode

  constructor(
    code: TenantryErrorCode,
    exitCode: ExitCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(code, message, options)
    this.exitCode = exitCode
  }
}

const BY_CODE: Record<string, ExitCode> = {
  TENANTRY_INVALID_TENANT_NAME: EXIT.BAD_NAME,
  TENANTRY_TENANT_PATH: EXIT.BAD_NAME,
  TENANTRY_UNKNOWN_TENANT: EXIT.UNKNOWN_TENANT,
  TENANTRY_TENANT_EXISTS: EXIT.TENANT_EXISTS,
  TENANTRY_TENANT_DELETED: EXIT.TENANT_EXISTS,
  TENANTRY_MIGRATION_FAILED: EXIT.MIGRATION_FAILED,
  TENANTRY_PENDING_MIGRATIONS: EXIT.MIGRATION_FAILED,
}

/** The exit code for any error: a {@link CliError}'s own, else by tenantry error code. */
export function exitCodeOf(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode
  const code = (error as { code?: unknown } | null)?.code
  return (typeof code === 'string' && BY_CODE[code]) || EXIT.FAILURE
}

/** The one-line message of an error, with its cause when that adds something. */
export function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause instanceof Error ? error.cause.message : undefined
  return cause !== undefined && !error.message.includes(cause)
    ? `${error.message} (${cause})`
    : error.message
}
