// CDR search with filters, paging and the CSV download of the same filters.
import { ApiError, download } from '../api.js';
import { act, clear, field, formError, h, showError, submitter, table, values, when } from '../dom.js';
import { t } from '../i18n.js';
import { cdr } from '../resources.js';

const pageSize = 50;

/** One CDR row as the table shows it. */
function read(r) {
  return {
    at: r.startedAt,
    from: `${r.callerNumber}${r.callerName ? ` ${r.callerName}` : ''}`,
    to: r.calleeNumber && r.calleeNumber !== r.dialedNumber ? `${r.dialedNumber} → ${r.calleeNumber}` : r.dialedNumber,
    answeredBy: r.answeredBy ?? '',
    direction: t(`cdr.${r.direction}`),
    disposition: t(`cdr.${r.disposition}`),
    seconds: r.billsec,
    reason: r.hangupReason ?? '',
  };
}

export function render(main) {
  const result = h('div', { id: 'cdr-result' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  let offset = 0;
  const form = h(
    'form',
    { class: 'grid', id: 'cdr-form' },
    field(t('cdr.from'), 'from', { type: 'date' }),
    field(t('cdr.to'), 'to', { type: 'date' }),
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
        ['no_answer', t('cdr.no_answer')],
        ['busy', t('cdr.busy')],
        ['failed', t('cdr.failed')],
        ['cancelled', t('cdr.cancelled')],
      ],
    }),
    formError(),
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'submit', class: 'primary' }, t('cdr.search')),
      h('button', { type: 'button', onclick: () => exportCsv('utf8') }, t('cdr.csv', { encoding: 'UTF-8' })),
      h('button', { type: 'button', onclick: () => exportCsv('shift_jis') }, t('cdr.csv', { encoding: 'Shift_JIS' })),
    ),
  );

  function filters() {
    const v = values(form);
    return { from: v.from, to: v.to, number: v.number, direction: v.direction, disposition: v.disposition };
  }

  /** The export is of whole days (from and to), in files of http.csvRowsPerFile rows: every part is saved. */
  async function exportCsv(encoding) {
    const { from, to } = filters();
    for (const el of form.querySelectorAll('.form-error, .field-error')) el.replaceChildren();
    try {
      if (!from || !to) throw new ApiError(400, { message: t('cdr.exportDays'), field: from ? 'to' : 'from' });
      const first = await download(cdr.exportPath({ from, to, encoding, part: 1 }), `cdr-${from}-${to}.csv`);
      const parts = Number(first.headers.get('x-hibiki-parts') ?? 1);
      for (let part = 2; part <= parts; part++) await download(cdr.exportPath({ from, to, encoding, part }), `cdr-${from}-${to}-${part}.csv`);
    } catch (err) {
      showError(form, err);
    }
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
          { label: t('cdr.reason'), cell: (x) => x.reason },
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
