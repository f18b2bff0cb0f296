// The wiki's config for the `tenantry` command (`pnpm exec tenantry list` in this folder): the
// same store and footprint as the app, so `tenantry destroy`, `backup` and `clone` cover a
// wiki's attachments too. WIKI_DATA and DATABASE_URL as for `pnpm demo`.
import { fileURLToPath } from 'node:url'
import { attachWikiFootprint, createWikiStore } from './src/tenancy.js'

export default () => {
  const dataDir = process.env.WIKI_DATA ?? fileURLToPath(new URL('./data', import.meta.url))
  const store = createWikiStore({ dataDir, databaseUrl: process.env.DATABASE_URL || undefined })
  attachWikiFootprint(store, { dataDir })
  return { store }
}
