// CDR search with filters, paging and the CSV download of the same filters.
import { act, clear, field, formError, h, submitter, table, values, when } from '../dom.js';
import { download } from '../api.js';
import { t } from '../i18n.js';
import { cdr } from '../resources.js';

const pageSize = 50;
const party = (v) => (v && typeof v === 'object' ? `${v.number ?? ''}${v.name ? ` ${v.name}` : ''}` : (v ?? ''));

/** One CDR row as the table shows it, whichever field names the API uses. */
function read(r) {
  return {
    at: r.startedAt ?? r.start ?? r.at,
    from: party(r.caller ?? r.from ?? r.src),
    to: party(r.dialed ?? r.callee ?? r.to ?? r.dst),
    answeredBy: party(r.answeredBy ?? r.connected),
    direction: r.direction ?? '',
    disposition: r.disposition ?? '',
    seconds: r.billableSeconds ?? r.billsec ?? r.talkSeconds ?? r.duration ?? r.seconds ?? '',
  };
}

/** A datetime-local value as an ISO time with the browser's offset. */
const iso = (local) => (local ? new Date(local).toISOString() : undefined);

export function render(main) {
  const result = h('div', { id: 'cdr-result' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  let offset = 0;
  const form = h(
    'form',
    { class: 'grid', id: 'cdr-form' },
    field(t('cdr.from'), 'from', { type: 'datetime-local' }),
    field(t('cdr.to'), 'to', { type: 'datetime-local' }),
    field(t('cdr.number'), 'number'),
    field(t('cdr.direction'), 'direction', {
      options: [
        ['', t('common.any')],
        ['internal', t('cdr.internal')],
        ['inbound', t('cdr.inbound')],
        ['outbound', t('cdr.outbound')],
      ],
    }),
    field(t('cdr.disposition'), 'disposition', {
      options: [
        ['', t('common.any')],
        ['answered', t('cdr.answered')],
        ['no-answer', t('cdr.noAnswer')],
        ['busy', t('cdr.busy')],
        ['failed', t('cdr.failed')],
      ],
    }),
    formError(),
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'submit', class: 'primary' }, t('cdr.search')),
      h('button', { type: 'button', onclick: () => act(error, () => download(cdr.exportPath({ ...filters(), encoding: 'utf8' }), 'cdr.csv')) }, t('cdr.csv', { encoding: 'UTF-8' })),
      h('button', { type: 'button', onclick: () => act(error, () => download(cdr.exportPath({ ...filters(), encoding: 'shift_jis' }), 'cdr-sjis.csv')) }, t('cdr.csv', { encoding: 'Shift_JIS' })),
    ),
  );

  function filters() {
    const v = values(form);
    return { from: iso(v.from), to: iso(v.to), number: v.number, direction: v.direction, disposition: v.disposition };
  }

  async function search() {
    const r = await cdr.search({ ...filters(), limit: pageSize, offset });
    const rows = r.rows.map(read);
    clear(
      result,
      h('p', { class: 'muted' }, t('cdr.count', { total: r.total, first: r.total ? offset + 1 : 0, last: offset + rows.length })),
      table(
        [
          { label: t('cdr.time'), cell: (x) => when(x.at) },
          { label: t('cdr.caller'), cell: (x) => x.from },
          { label: t('cdr.dialed'), cell: (x) => x.to },
          { label: t('cdr.answeredBy'), cell: (x) => x.answeredBy },
          { label: t('cdr.direction'), cell: (x) => x.direction },
          { label: t('cdr.disposition'), cell: (x) => x.disposition },
          { label: t('cdr.seconds'), cell: (x) => x.seconds },
        ],
        rows,
        { class: 'cdr-rows', empty: t('cdr.none') },
      ),
      h(
        'div',
        { class: 'toolbar' },
        h('button', { type: 'button', disabled: offset === 0, onclick: () => page(-pageSize) }, t('common.previous')),
        h('button', { type: 'button', disabled: offset + rows.length >= r.total, onclick: () => page(pageSize) }, t('common.next')),
      ),
    );
  }

  const page = (delta) =>
    act(error, async () => {
      offset = Math.max(0, offset + delta);
      await search();
    });

  submitter(form, async () => {
    offset = 0;
    await search();
  });
  clear(main, h('h1', {}, t('nav.cdr')), h('section', { class: 'card' }, form), error, result);
  void act(error, search);
}
