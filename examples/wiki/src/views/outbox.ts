import type { OutboxMessage } from '@tenantry/mail'
import { html, type SafeHtml } from './html.js'
import { type WikiView, wikiPage } from './layout.js'

/** The mails this wiki sent (newest first), captured by the outbox transport. */
export function outboxView(view: WikiView, messages: OutboxMessage[]): SafeHtml {
  return wikiPage(
    view,
    'Outbox',
    html`<h1>Outbox</h1>
<p class="muted">Mail sent by this wiki's mailer (<code>@tenantry/mail</code>), kept in memory instead of being delivered.</p>
${
  messages.length === 0
    ? html`<p>No mail yet: save a page.</p>`
    : messages.map(
        (m) => html`<section class="mail">
<h3>${m.subject ?? '(no subject)'}</h3>
<p class="muted">${m.date.toISOString().slice(0, 19).replace('T', ' ')} · from ${m.headers.from ?? ''} · to ${m.envelope.to.join(', ')}</p>
<pre>${m.text ?? ''}</pre>
</section>`,
      )
}`,
  )
}
