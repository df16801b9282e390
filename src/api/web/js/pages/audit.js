// Admin: the audit trail (who changed what, when, from where), newest first, with filters.
import { act, clear, field, formError, h, submitter, table, when } from '../dom.js';
import { t } from '../i18n.js';
import { audit } from '../resources.js';

const pageSize = 100;

export function render(main) {
  const result = h('div', { id: 'audit-result' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'inline' }, field(t('audit.actor'), 'actor'), field(t('audit.action'), 'action'), h('button', { type: 'submit', class: 'primary' }, t('common.filter')), formError());
  let offset = 0;

  // Only the newest load draws: an earlier, slower answer (a poll, an event) must not overwrite a newer one.
  let loads = 0;
  async function load() {
    const mine = ++loads;
    const r = await audit.search({ actor: form.elements.actor.value.trim(), action: form.elements.action.value.trim(), limit: pageSize, offset });
    if (mine !== loads) return;
    clear(
      result,
      h('p', { class: 'muted' }, t('audit.count', { total: r.total })),
      table(
        [
          { label: t('audit.at'), cell: (e) => when(e.at) },
          { label: t('audit.actor'), cell: (e) => e.actor },
          { label: t('audit.action'), cell: (e) => e.action },
          { label: t('audit.target'), cell: (e) => e.target ?? '' },
          { label: t('audit.address'), cell: (e) => e.address ?? '' },
          { label: t('audit.detail'), cell: (e) => (e.detail === undefined ? '' : h('code', {}, JSON.stringify(e.detail))) },
        ],
        r.entries,
        { class: 'audit-rows' },
      ),
      h(
        'div',
        { class: 'toolbar' },
        h('button', { type: 'button', disabled: offset === 0, onclick: () => page(-pageSize) }, t('common.previous')),
        h('button', { type: 'button', disabled: offset + r.entries.length >= r.total, onclick: () => page(pageSize) }, t('common.next')),
      ),
    );
  }
  const page = (delta) =>
    act(error, async () => {
      offset = Math.max(0, offset + delta);
      await load();
    });
  submitter(form, async () => {
    offset = 0;
    await load();
  });
  clear(main, h('h1', {}, t('nav.audit')), form, error, result);
  void act(error, load);
}
