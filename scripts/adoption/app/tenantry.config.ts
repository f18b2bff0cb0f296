import { defineConfig } from '@tenantry/cli'
import { store } from './src/store.js'

export default defineConfig({ store })
