// Types getDb() and getMail() once, as the READMEs tell an app to.
import type { TenantMailer } from '@tenantry/mail'
import type { Kysely } from 'kysely'
import type { DB } from './schema.js'

declare module '@tenantry/context' {
  interface Resources {
    db: Kysely<DB>
    mail: TenantMailer
  }
}
