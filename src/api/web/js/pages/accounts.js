// Admin: console and API accounts (role, the extension a user belongs to), create, unlock, delete.
import { act, badge, clear, field, formError, h, loader, notice, submitter, table, when } from '../dom.js';
import { t } from '../i18n.js';
import { accounts } from '../resources.js';

const roles = ['admin', 'supervisor', 'agent', 'user'];

export function render(main) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const list = h('div');
  const done = h('div');
  const load = loader(
    error,
    () => accounts.list(),
    (rows) => {
      clear(
        list,
        table(
          [
            { label: t('acct.username'), cell: (a) => a.username },
            { label: t('acct.role'), cell: (a) => t(`role.${a.role}`) },
            { label: t('acct.extension'), cell: (a) => a.extension ?? '' },
            { label: t('acct.state'), cell: (a) => (a.locked ? badge(t('acct.locked'), 'bad') : badge(t('acct.active'), 'ok')) },
            { label: t('acct.created'), cell: (a) => when(a.createdAt) },
            {
              label: '',
              class: 'actions',
              cell: (a) => [
                a.locked
                  ? h(
                      'button',
                      {
                        type: 'button',
                        onclick: () =>
                          act(error, async () => {
                            await accounts.unlock(a.username);
                            await load();
                          }),
                      },
                      t('locks.unlock'),
                    )
                  : null,
                ' ',
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    onclick: () =>
                      act(error, async () => {
                        if (!confirm(t('acct.confirmDelete', { username: a.username }))) return;
                        await accounts.remove(a.username);
                        await load();
                      }),
                  },
                  t('common.delete'),
                ),
              ],
            },
          ],
          rows,
        ),
      );
    },
  );
  const form = h(
    'form',
    { class: 'grid', id: 'account-form' },
    field(t('acct.username'), 'username', { required: true }),
    field(t('login.password'), 'password', { type: 'password', required: true, autocomplete: 'new-password' }),
    field(t('acct.role'), 'role', { options: roles.map((r) => [r, t(`role.${r}`)]), value: 'user' }),
    field(t('acct.extension'), 'extension'),
    formError(),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('acct.create'))),
  );
  submitter(
    form,
    (v) => accounts.create({ username: v.username, password: v.password, role: v.role, ...(v.extension ? { extension: v.extension } : {}) }),
    async () => {
      clear(done, notice(t('acct.created.done', { username: form.elements.username.value })));
      form.reset();
      await load();
    },
  );
  clear(main, h('h1', {}, t('nav.accounts')), error, list, h('section', { class: 'card' }, h('h2', {}, t('acct.new')), form, done));
  void load();
}
