// Supervisor: the queue dashboard — callers waiting, today's counters, each agent's state, pause/resume.
import { act, badge, clear, h, table, when } from '../dom.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { queues } from '../resources.js';

const stateKind = { available: 'ok', idle: 'ok', busy: 'warn', inCall: 'warn', ringing: 'warn', talking: 'warn', wrapup: 'warn', paused: 'bad', loggedOut: '', offline: '' };

function counter(label, value) {
  return h('div', { class: 'counter' }, h('b', {}, value ?? 0), label);
}

export function render(main) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const board = h('div', { id: 'queue-board' });
  const agentAction = (fn, extension) =>
    act(error, async () => {
      await fn(extension);
      await load();
    });

  const load = () =>
    act(error, async () => {
      const all = await queues.list();
      if (all.length === 0) {
        clear(board, h('p', { class: 'empty' }, t('queue.none')));
        return;
      }
      clear(
        board,
        all.map((q) => {
          const waiting = q.waiting ?? [];
          const agents = q.agents ?? [];
          const by = (s) => agents.filter((a) => a.state === s).length;
          return h(
            'section',
            { class: 'card queue', dataset: { queue: q.number } },
            h('h2', {}, `${q.number} ${q.name ?? ''}`),
            h(
              'div',
              { class: 'counters' },
              counter(t('queue.waiting'), waiting.length),
              counter(t('queue.available'), by('available') + by('idle')),
              counter(t('queue.busy'), by('busy') + by('inCall') + by('talking') + by('ringing')),
              counter(t('queue.paused'), by('paused')),
              Object.entries(q.today ?? {}).map(([k, v]) => counter(t(`queue.today.${k}`), typeof v === 'number' ? Math.round(v * 10) / 10 : String(v))),
            ),
            waiting.length
              ? [
                  h('h3', {}, t('queue.waitingList')),
                  table(
                    [
                      { label: t('calls.caller'), cell: (w) => (typeof w === 'object' ? `${w.number ?? w.caller?.number ?? ''} ${w.name ?? w.caller?.name ?? ''}` : String(w)) },
                      { label: t('queue.since'), cell: (w) => when(w.since ?? w.joinedAt) },
                    ],
                    waiting,
                  ),
                ]
              : null,
            h('h3', {}, t('queue.agents')),
            table(
              [
                { label: t('ext.number'), cell: (a) => a.extension },
                { label: t('ext.name'), cell: (a) => a.name ?? '' },
                { label: t('queue.state'), cell: (a) => badge(t(`agent.${a.state}`), `${stateKind[a.state] ?? ''} agent-state`) },
                {
                  label: '',
                  class: 'actions',
                  cell: (a) =>
                    a.state === 'paused'
                      ? h('button', { type: 'button', onclick: () => agentAction(queues.resume, a.extension) }, t('queue.resume'))
                      : h('button', { type: 'button', onclick: () => agentAction(queues.pause, a.extension) }, t('queue.pause')),
                },
              ],
              agents,
              { key: (a) => a.extension },
            ),
          );
        }),
      );
    });
  clear(main, h('h1', {}, t('nav.queues')), error, board);
  void load();
  return onLive(['queue', 'agent', 'call'], load);
}
