// User: their voicemail — list, play (the WAV is fetched with the token, then played from memory), delete.
import { act, badge, clear, h, loader, table, when } from '../dom.js';
import { t } from '../i18n.js';
import { voicemail } from '../resources.js';

export function render(main, s) {
  const box = s.extension;
  const error = h('p', { class: 'form-error', role: 'alert' });
  const list = h('div');
  const player = h('audio', { controls: true, id: 'vm-player' });
  let playing;

  const play = (m) =>
    act(error, async () => {
      const blob = await voicemail.audio(box, m.id);
      if (playing) URL.revokeObjectURL(playing);
      playing = URL.createObjectURL(blob);
      player.src = playing;
      await player.play().catch(() => undefined);
      await load();
    });

  const load = loader(
    error,
    () => voicemail.messages(box),
    (rows) => {
      clear(
        list,
        table(
          [
            { label: t('vm.status'), cell: (m) => (m.status === 'new' ? badge(t('vm.new'), 'warn') : badge(t('vm.saved'))) },
            { label: t('vm.received'), cell: (m) => when(m.receivedAt) },
            { label: t('vm.caller'), cell: (m) => `${m.caller ?? ''}${m.callerName ? ` ${m.callerName}` : ''}` },
            { label: t('vm.seconds'), cell: (m) => m.seconds ?? '' },
            {
              label: '',
              class: 'actions',
              cell: (m) => [
                h('button', { type: 'button', onclick: () => play(m) }, t('vm.play')),
                ' ',
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    onclick: () =>
                      act(error, async () => {
                        if (!confirm(t('vm.confirmDelete'))) return;
                        await voicemail.remove(box, m.id);
                        await load();
                      }),
                  },
                  t('common.delete'),
                ),
              ],
            },
          ],
          rows,
          { key: (m) => m.id, empty: t('vm.none') },
        ),
      );
    },
  );
  clear(main, h('h1', {}, t('vm.title', { box })), error, player, list);
  void load();
  return () => {
    if (playing) URL.revokeObjectURL(playing);
  };
}
