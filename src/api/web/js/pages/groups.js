// Admin: groups (departments, hunt groups) with their members, and pickup groups.
import { act, clear, field, formError, h, loader, notice, submitter, table } from '../dom.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { groups } from '../resources.js';

const members = (g) => (g.members ?? []).map((m) => (typeof m === 'object' ? (m.number ?? m.extension) : m)).join(', ');

export function render(main) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const list = h('div');
  const pickup = h('div');
  const formSlot = h('div');

  const load = loader(
    error,
    () => Promise.all([groups.list(), groups.pickup().catch(() => [])]),
    ([all, pick]) => {
      clear(
        list,
        table(
          [
            { label: t('grp.number'), cell: (g) => g.number },
            { label: t('grp.name'), cell: (g) => g.name },
            { label: t('grp.strategy'), cell: (g) => g.strategy ?? '' },
            { label: t('grp.members'), cell: members },
            {
              label: '',
              class: 'actions',
              cell: (g) => [
                h('button', { type: 'button', onclick: () => edit(g) }, t('common.edit')),
                ' ',
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    onclick: () =>
                      act(error, async () => {
                        if (!confirm(t('grp.confirmDelete', { number: g.number }))) return;
                        await groups.remove(g.number);
                        await load();
                      }),
                  },
                  t('common.delete'),
                ),
              ],
            },
          ],
          all,
          { key: (g) => g.number },
        ),
      );
      clear(
        pickup,
        table(
          [
            { label: t('grp.number'), cell: (g) => g.number },
            { label: t('grp.name'), cell: (g) => g.name ?? '' },
            { label: t('grp.members'), cell: members },
          ],
          pick,
        ),
      );
    },
  );

  function edit(g) {
    const form = h(
      'form',
      { class: 'grid' },
      field(t('grp.name'), 'name', { value: g.name, required: true }),
      field(t('grp.members'), 'members', { value: members(g) }),
      formError(),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, t('common.save')), h('button', { type: 'button', onclick: () => clear(formSlot) }, t('common.cancel'))),
    );
    submitter(
      form,
      (v) => groups.update(g.number, { name: v.name, members: v.members.split(/[,\s]+/).filter(Boolean) }),
      async () => {
        clear(formSlot, notice(t('common.saved')));
        await load();
      },
    );
    clear(formSlot, h('section', { class: 'card' }, h('h2', {}, t('grp.editTitle', { number: g.number })), form));
  }

  clear(main, h('h1', {}, t('nav.groups')), formSlot, error, list, h('h2', {}, t('grp.pickup')), pickup);
  void load();
  return onLive(['config'], load);
}
