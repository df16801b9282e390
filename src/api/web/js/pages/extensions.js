// Admin: extensions with their live registration status; search, add, edit, suspend/resume, delete, and
// CSV import (every bad line listed) and export.
import { download } from '../api.js';
import { act, badge, clear, field, formError, h, loader, notice, showError, submitter, table, when } from '../dom.js';
import { t } from '../i18n.js';
import { onLive } from '../live.js';
import { extensions } from '../resources.js';

const multi = (s) =>
  s
    .split(/[,#\s]+/)
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * The form's values as the API body. On create, empty optional fields are left out; on edit, an emptied
 * field is null (the API removes it) and an empty password or PIN means unchanged.
 */
function body(v, editing) {
  const out = { name: v.name };
  if (!editing) out.number = v.number;
  if (v.password) out.password = v.password;
  if (v.pin) out.pin = v.pin;
  for (const k of ['kana', 'callerId', 'memo']) {
    if (v[k]) out[k] = v[k];
    else if (editing) out[k] = null;
  }
  if (v.ringTimeout) out.ringTimeout = Number(v.ringTimeout);
  else if (editing) out.ringTimeout = null;
  out.departments = multi(v.departments);
  out.pickupGroups = multi(v.pickupGroups);
  return out;
}

/** The import answer lists the numbers created and updated. */
const count = (v) => (Array.isArray(v) ? v.length : (v ?? 0));

export function render(main) {
  const list = h('div', { id: 'extension-list' });
  const rowError = h('p', { class: 'form-error', role: 'alert' });
  const formSlot = h('div');
  const search = h('input', { type: 'search', name: 'q', placeholder: t('ext.search'), 'aria-label': t('ext.search') });
  let editing;

  const load = loader(
    rowError,
    () => extensions.list(search.value.trim() || undefined),
    (rows) => {
      clear(list, table(columns(), rows, { key: (r) => r.number, empty: t('ext.none') }));
    },
  );

  function columns() {
    return [
      { label: t('ext.number'), cell: (e) => e.number },
      { label: t('ext.name'), cell: (e) => [e.name, e.kana ? h('div', { class: 'muted' }, e.kana) : null] },
      { label: t('ext.departments'), cell: (e) => (e.departments ?? []).join(', ') },
      {
        label: t('ext.status'),
        cell: (e) => [
          e.registered ? badge(t('ext.registered'), 'ok registered') : badge(t('ext.unregistered'), 'unregistered'),
          e.suspended ? [' ', badge(t('ext.suspended'), 'bad')] : null,
          (e.contacts ?? []).map((c) => h('div', { class: 'muted' }, `${c.address}:${c.port} ${c.transport}${c.userAgent ? ` · ${c.userAgent}` : ''} · ${t('ext.until', { at: when(c.expiresAt) })}`)),
        ],
      },
      {
        label: '',
        class: 'actions',
        cell: (e) => [
          h('button', { type: 'button', onclick: () => openForm(e) }, t('common.edit')),
          ' ',
          h(
            'button',
            {
              type: 'button',
              onclick: () =>
                act(rowError, async () => {
                  await extensions.update(e.number, { suspended: !e.suspended });
                  await load();
                }),
            },
            e.suspended ? t('ext.resume') : t('ext.suspend'),
          ),
          ' ',
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              onclick: () =>
                act(rowError, async () => {
                  if (!confirm(t('ext.confirmDelete', { number: e.number }))) return;
                  try {
                    await extensions.remove(e.number, false);
                  } catch (err) {
                    // 409: the number is still named elsewhere (groups, forwarding); removing it there too is a second, explicit choice.
                    if (err.status !== 409 || !confirm(`${err.message}\n${t('ext.confirmForce')}`)) throw err;
                    await extensions.remove(e.number, true);
                  }
                  await load();
                }),
            },
            t('common.delete'),
          ),
        ],
      },
    ];
  }

  function openForm(e) {
    editing = e;
    const form = h(
      'form',
      { class: 'grid', id: 'extension-form' },
      field(t('ext.number'), 'number', { value: e?.number, required: true }),
      field(t('ext.name'), 'name', { value: e?.name, required: true }),
      field(t('ext.kana'), 'kana', { value: e?.kana }),
      field(e ? t('ext.newPassword') : t('ext.password'), 'password', { type: 'password', required: !e, autocomplete: 'new-password' }),
      field(t('ext.pin'), 'pin', { type: 'password', autocomplete: 'new-password', placeholder: e?.hasPin ? t('ext.pinSet') : '' }),
      field(t('ext.departments'), 'departments', { value: (e?.departments ?? []).join(', '), placeholder: '300, 301' }),
      field(t('ext.pickupGroups'), 'pickupGroups', { value: (e?.pickupGroups ?? []).join(', ') }),
      field(t('ext.callerId'), 'callerId', { value: e?.callerId }),
      field(t('ext.ringTimeout'), 'ringTimeout', { type: 'number', value: e?.ringTimeout, min: 1 }),
      field(t('ext.memo'), 'memo', { value: e?.memo }),
      formError(),
      h(
        'div',
        { class: 'form-actions' },
        h('button', { type: 'submit', class: 'primary' }, e ? t('common.save') : t('ext.add')),
        h('button', { type: 'button', onclick: closeForm }, t('common.cancel')),
      ),
    );
    if (e) form.elements.number.readOnly = true;
    submitter(
      form,
      (v) => (editing ? extensions.update(editing.number, body(v, true)) : extensions.create(body(v, false))),
      async () => {
        const number = form.elements.number.value.trim();
        closeForm();
        clear(formSlot, notice(t(editing ? 'ext.saved' : 'ext.created', { number })));
        await load();
      },
    );
    clear(formSlot, h('section', { class: 'card' }, h('h2', {}, e ? t('ext.editTitle', { number: e.number }) : t('ext.addTitle')), form));
    form.elements[e ? 'name' : 'number'].focus();
  }

  function closeForm() {
    editing = undefined;
    clear(formSlot);
  }

  const importForm = h(
    'form',
    { class: 'inline', id: 'import-form' },
    field(t('csv.file'), 'file', { type: 'file' }),
    field(t('csv.encoding'), 'encoding', {
      options: [
        ['auto', t('csv.auto')],
        ['utf8', 'UTF-8'],
        ['shift_jis', 'Shift_JIS'],
      ],
    }),
    h('button', { type: 'submit' }, t('csv.import')),
    formError(),
  );
  importForm.elements.file.accept = '.csv,text/csv';
  const importResult = h('div');
  importForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(importResult);
    for (const el of importForm.querySelectorAll('.form-error, .field-error')) el.replaceChildren();
    const file = importForm.elements.file.files[0];
    if (!file) {
      importForm.querySelector('.form-error').textContent = t('csv.pickFile');
      return;
    }
    try {
      // The bytes go as they are: Shift_JIS is decoded by the server.
      const r = await extensions.import(new Uint8Array(await file.arrayBuffer()), importForm.elements.encoding.value);
      clear(importResult, notice(t('csv.done', { created: count(r?.created), updated: count(r?.updated) })));
      await load();
    } catch (err) {
      showError(importForm, err);
    }
  });

  const exportButtons = ['utf8', 'shift_jis'].map((encoding) =>
    h(
      'button',
      { type: 'button', onclick: () => act(rowError, () => download(extensions.exportPath(encoding), `extensions-${encoding}.csv`)) },
      t('csv.export', { encoding: encoding === 'utf8' ? 'UTF-8' : 'Shift_JIS' }),
    ),
  );

  let searchTimer;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(load, 200);
  });

  clear(
    main,
    h('h1', {}, t('nav.extensions')),
    h('div', { class: 'toolbar' }, search, h('button', { type: 'button', class: 'primary', id: 'add-extension', onclick: () => openForm(undefined) }, t('ext.add')), exportButtons),
    formSlot,
    rowError,
    list,
    h('section', { class: 'card' }, h('h2', {}, t('csv.title')), h('p', { class: 'muted' }, t('csv.help')), importForm, importResult),
  );
  void load();
  return onLive(['registration', 'config'], load);
}
