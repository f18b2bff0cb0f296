import { getDb, getMail } from '@tenantry/context'
import { createTestTenants, fakeMailer, useOverrides } from '@tenantry/testing'
import { expect, test } from 'vitest'
import { store } from '../src/store.js'

store.install()
const tt = createTestTenants({ store })
const mocks = useOverrides(() => ({ mail: fakeMailer() })) // docs/testing.md's form
tt.use()

test('a note is written in the worker tenant and a mail is captured', async () => {
  await getDb().insertInto('note').values({ title: 'draft' }).execute()
  expect(await getDb().selectFrom('note').select('title').execute()).toEqual([{ title: 'draft' }])
  await getMail().send({ to: 'ann@example.org', subject: 'Hi', text: 'hello' })
  expect(mocks().mail.last()?.envelope.to).toEqual(['ann@example.org'])
})

test('the next test starts empty (the transaction was rolled back)', async () => {
  expect(await getDb().selectFrom('note').selectAll().execute()).toEqual([])
})
