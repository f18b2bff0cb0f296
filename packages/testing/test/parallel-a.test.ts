import { parallelSuite } from './parallel.js'

parallelSuite('file a')
