// Calls in progress, live, with hang-up.
import { act, badge, clear, h, loader, table, when } from '../dom.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { calls } from '../resources.js';

const party = (p) => (p ? `${p.number ?? ''}${p.name ? ` ${p.name}` : ''}` : '');

export function render(main) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const list = h('div');
  const load = loader(
    error,
    () => calls.list(),
    (rows) => {
      clear(
        list,
        table(
          [
            { label: t('calls.state'), cell: (c) => badge(c.state, c.state === 'answered' ? 'ok' : 'warn') },
            { label: t('calls.started'), cell: (c) => when(c.startedAt) },
            { label: t('calls.caller'), cell: (c) => party(c.caller) },
            { label: t('calls.dialed'), cell: (c) => c.dialed ?? '' },
            {
              label: t('calls.legs'),
              cell: (c) =>
                (c.legs ?? []).map((l) => h('div', { class: 'muted' }, `${t(`calls.role.${l.role}`)} ${l.extension ?? l.number ?? ''} · ${l.state}${l.held ? ` · ${t('calls.held')}` : ''}`)),
            },
            { label: t('calls.answeredBy'), cell: (c) => c.answeredBy ?? '' },
            {
              label: '',
              class: 'actions',
              cell: (c) =>
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    onclick: () =>
                      act(error, async () => {
                        await calls.hangup(c.id);
                        await load();
                      }),
                  },
                  t('calls.hangup'),
                ),
            },
          ],
          rows,
          { key: (c) => c.id, empty: t('calls.none') },
        ),
      );
    },
  );
  clear(main, h('h1', {}, t('nav.calls')), error, list);
  void load();
  return onLive(['call'], load);
}
