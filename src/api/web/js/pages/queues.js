// Supervisor: the queue dashboard — callers waiting, today's counters, each agent's state, pause/resume.
import { act, badge, clear, h, loader, table } from '../dom.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { queues } from '../resources.js';

const stateKind = { available: 'ok', ringing: 'warn', in_call: 'warn', on_hold: 'warn', wrapup: 'warn', paused: 'bad', offline: '' };
/** Today's counters shown, in this order (answerRate is 0–1). */
const todayKeys = ['offered', 'answered', 'abandoned', 'overflow', 'timeout', 'answerRate', 'avgWaitSeconds', 'longestWaitSeconds'];

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

  const load = loader(
    error,
    () => queues.list(),
    (all) => {
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
              counter(t('queue.available'), by('available')),
              counter(t('queue.busy'), by('ringing') + by('in_call') + by('on_hold') + by('wrapup')),
              counter(t('queue.paused'), by('paused')),
              todayKeys
                .filter((k) => typeof q.today?.[k] === 'number')
                .map((k) => counter(t(`queue.today.${k}`), k === 'answerRate' ? `${Math.round(q.today[k] * 100)}%` : Math.round(q.today[k] * 10) / 10)),
            ),
            waiting.length
              ? [
                  h('h3', {}, t('queue.waitingList')),
                  table(
                    [
                      { label: t('queue.position'), cell: (w) => w.position },
                      { label: t('calls.caller'), cell: (w) => w.caller },
                      { label: t('queue.waitSeconds'), cell: (w) => w.waitingSeconds },
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
                { label: t('queue.state'), cell: (a) => [badge(t(`agent.${a.state}`), `${stateKind[a.state] ?? ''} agent-state`), a.pausedReason ? ` ${a.pausedReason}` : ''] },
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
    },
  );
  clear(main, h('h1', {}, t('nav.queues')), error, board);
  void load();
  return onLive(['queue', 'agent', 'call'], load);
}
