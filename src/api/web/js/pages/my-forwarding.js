// User: their own forwarding — the five stored destinations, each condition on/off with its destination,
// the no-answer timer — and do-not-disturb.
import { act, badge, clear, field, formError, h, notice, submitter } from '../dom.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { conditions, forwarding } from '../resources.js';

export function render(main, s) {
  const number = s.extension;
  const error = h('p', { class: 'form-error', role: 'alert' });
  const body = h('div');
  const status = h('div');

  // Only the newest load draws: an earlier, slower answer (a poll, an event) must not overwrite a newer one.
  let loads = 0;
  /** `live`: a redraw nobody on this page asked for, skipped while a form is being filled in (see below). */
  async function load(live = false) {
    const mine = ++loads;
    const f = await forwarding.of(number);
    if (mine !== loads || (live && editing)) return;
    const listId = 'fwd-destinations';
    const datalist = h(
      'datalist',
      { id: listId },
      f.destinations.filter(Boolean).map((d) => h('option', { value: d })),
    );

    // The stored destinations are the numbers the conditions were given (up to five, as with the service
    // codes); a condition can take one of them or a new number.
    const stored = h(
      'ol',
      { id: 'destinations' },
      f.destinations.map((d) => h('li', {}, d || h('span', { class: 'muted' }, t('fwd.empty')))),
    );
    const timerForm = h(
      'form',
      { class: 'inline', id: 'timer-form' },
      field(t('fwd.noAnswerTimeout'), 'noAnswerTimeout', { type: 'number', value: f.noAnswerTimeout, min: 1, max: 180 }),
      h('button', { type: 'submit' }, t('common.save')),
      formError(),
    );
    submitter(
      timerForm,
      (v) => forwarding.setSettings(number, { noAnswerTimeout: Number(v.noAnswerTimeout) }),
      async () => {
        clear(status, notice(t('common.saved')));
        await load();
      },
    );
    const now = f.effective;
    const inForce =
      now && now.source !== 'normal'
        ? h(
            'p',
            { class: 'notice' },
            t(`fwd.source.${now.source}`),
            ': ',
            ['cfu', 'cfb', 'cfna', 'cfur']
              .filter((k) => now[k])
              .map((k) => `${t(`fwd.${k}`)} → ${now[k]}`)
              .join(', '),
          )
        : null;

    const rows = conditions.map((k) => {
      const c = f.conditions[k];
      const form = h(
        'form',
        { class: 'inline condition', id: `condition-${k}`, dataset: { condition: k } },
        h('strong', { class: 'condition-name' }, t(`fwd.${k}`)),
        c.on ? badge(t('common.on'), 'warn') : badge(t('common.off')),
        field(t('fwd.on'), 'on', { type: 'checkbox', checked: c.on }),
        field(t('fwd.to'), 'destination', { value: c.destination, placeholder: t('fwd.number') }),
        h('button', { type: 'submit' }, t('common.save')),
        formError(),
      );
      form.elements.destination.setAttribute('list', listId);
      submitter(
        form,
        (v) => forwarding.setCondition(number, k, v.on, v.destination),
        async () => {
          clear(status, notice(t('fwd.conditionSaved', { condition: t(`fwd.${k}`) })));
          await load();
        },
      );
      return h('div', { class: 'card' }, form, h('p', { class: 'muted' }, t(`fwd.${k}.help`)));
    });

    const dndError = h('p', { class: 'form-error', role: 'alert' });
    const dnd = h(
      'section',
      { class: 'card', id: 'dnd' },
      h('h2', {}, t('fwd.dnd')),
      h('p', {}, f.dnd ? badge(t('common.on'), 'bad') : badge(t('common.off')), ' ', t('fwd.dnd.help')),
      h(
        'button',
        {
          type: 'button',
          onclick: () =>
            act(dndError, async () => {
              await forwarding.setDnd(number, !f.dnd);
              await load();
            }),
        },
        f.dnd ? t('fwd.dndOff') : t('fwd.dndOn'),
      ),
      dndError,
    );

    clear(
      body,
      datalist,
      inForce,
      h('section', { class: 'card' }, h('h2', {}, t('fwd.destinations')), stored, h('p', { class: 'muted' }, t('fwd.destinations.help')), timerForm),
      h('h2', {}, t('fwd.conditions')),
      rows,
      dnd,
    );
  }

  // A change made elsewhere (a phone's code, the stream reconnecting) redraws the page, but not while the user
  // is filling in a form: the redraw would replace the form and drop what they typed or ticked (a reconnect's
  // redraw unticked a box just ticked, and the save turned the condition off).
  let editing = false;
  body.addEventListener('input', () => (editing = true));
  body.addEventListener('change', () => (editing = true));
  body.addEventListener('submit', () => (editing = false), true);
  clear(main, h('h1', {}, t('fwd.title', { number })), status, error, body);
  void act(error, load);
  return onLive(['forwarding'], () => act(error, () => load(true)));
}
