// Building DOM without innerHTML (nothing the server or a user typed is ever parsed as HTML), and the
// form helpers that put an API error next to the field it names.
import { ApiError } from './api.js';
import { t } from './i18n.js';

/** h('button', {class: 'x', onclick: fn}, 'text', child…) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A table: columns [{label, cell(row) → node|string}], an empty-state text when there are no rows. */
export function table(columns, rows, opts = {}) {
  if (rows.length === 0) return h('p', { class: 'empty' }, opts.empty ?? t('common.none'));
  return h(
    'table',
    { class: opts.class },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((c) => h('th', {}, c.label)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          'tr',
          { dataset: opts.key ? { key: opts.key(r) } : undefined },
          columns.map((c) => h('td', { class: c.class }, c.cell(r))),
        ),
      ),
    ),
  );
}

/** A labelled input whose error line sits right below it; `name` is the API field it carries. */
export function field(label, name, props = {}) {
  const input = props.options
    ? h(
        'select',
        { name, id: `f-${name}` },
        props.options.map(([value, text]) => h('option', { value, selected: String(props.value ?? '') === String(value) }, text)),
      )
    : props.multiline
      ? h('textarea', { name, id: `f-${name}`, rows: 3 }, props.value ?? '')
      : h('input', {
          name,
          id: `f-${name}`,
          type: props.type ?? 'text',
          value: props.value ?? '',
          placeholder: props.placeholder,
          required: props.required,
          autocomplete: props.autocomplete ?? 'off',
          min: props.min,
          max: props.max,
        });
  if (props.type === 'checkbox') {
    input.checked = Boolean(props.checked);
    return h('label', { class: 'check' }, input, label, h('span', { class: 'field-error', dataset: { for: name } }));
  }
  return h('label', { for: `f-${name}` }, label, input, h('span', { class: 'field-error', dataset: { for: name } }));
}

export function formError() {
  return h('div', { class: 'form-error', role: 'alert' });
}

/** Clears a form's error lines. */
export function resetErrors(form) {
  for (const el of form.querySelectorAll('.field-error, .form-error')) el.replaceChildren();
}

/**
 * Shows an error on a form: the message in the form's error box, and again next to the field the API named
 * (matched by name, or by the last part of a dotted path). Per-line details (CSV import) become a list.
 */
export function showError(form, err) {
  const box = form.querySelector('.form-error');
  const message = err instanceof ApiError ? err.message : t('common.failed', { message: String(err?.message ?? err) });
  if (err instanceof ApiError && err.field) {
    const name = err.field.split('.').find((part) => form.querySelector(`.field-error[data-for="${CSS.escape(part)}"]`)) ?? err.field;
    const slot = form.querySelector(`.field-error[data-for="${CSS.escape(name)}"]`);
    if (slot) slot.textContent = err.message;
  }
  if (!box) return;
  const lines = err instanceof ApiError && Array.isArray(err.details) ? err.details.filter((d) => d.line !== undefined) : [];
  clear(
    box,
    err instanceof ApiError && err.field ? `${message} (${t('common.field')}: ${err.field})` : message,
    lines.length
      ? h(
          'ul',
          {},
          lines.map((d) => h('li', { class: 'line-error' }, t('csv.line', { line: d.line, message: d.message }))),
        )
      : null,
  );
}

/** The form's named values, strings trimmed; checkboxes as booleans. */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === 'checkbox' ? el.checked : el.value.trim();
  }
  return out;
}

/** Runs an API action from a form: errors go next to the form, `done` runs on success. */
export function submitter(form, action, done) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    resetErrors(form);
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    try {
      const result = await action(values(form));
      await done?.(result);
    } catch (err) {
      showError(form, err);
    } finally {
      if (button) button.disabled = false;
    }
  });
  return form;
}

/** A message line that states what just happened ("saved"). */
export function notice(text) {
  return h('p', { class: 'notice', role: 'status' }, text);
}

export function badge(text, kind) {
  return h('span', { class: `badge ${kind ?? ''}` }, text);
}

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

/** Runs an action from a button; a failure is shown in `errorBox` (or alerted). */
export async function act(errorBox, fn) {
  if (errorBox) errorBox.replaceChildren();
  try {
    await fn();
  } catch (err) {
    const text = err instanceof ApiError ? `${err.message}${err.field ? ` (${t('common.field')}: ${err.field})` : ''}` : String(err?.message ?? err);
    if (errorBox) errorBox.textContent = text;
    else alert(text);
  }
}

/**
 * A page's load: fetch what it shows, then draw it. Only the newest load draws: an earlier, slower answer (a
 * poll, an event's reload) must not overwrite what a newer one, started after a change, has drawn.
 */
export function loader(errorBox, fetch, draw) {
  let loads = 0;
  return () =>
    act(errorBox, async () => {
      const mine = ++loads;
      const data = await fetch();
      if (mine === loads) draw(data);
    });
}
