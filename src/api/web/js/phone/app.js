// The browser phone page (/phone/): log in as an extension with its SIP password, register over hibiki's
// SIP WebSocket, dial from the keypad, answer with ringing, hold, mute, DTMF, transfers (the #8/#9 codes
// typed as digits, or the phone's own REFER), and the extension's recent calls. Japanese and English.
import { clear, h } from '../dom.js';
import { language, setLanguage, t } from '../i18n.js';
import { PhoneLine } from './line.js';
import { RingTone } from './ring-tone.js';
import { loadHistory, historyTable } from './history.js';

const main = document.getElementById('main');
const who = document.getElementById('who');
const title = document.getElementById('title');
const logoutButton = document.getElementById('logout');
const langSelect = document.getElementById('lang');
const audio = document.getElementById('remote');
const ring = new RingTone();

/** {line, extension, password, history, error} once logged in. */
let state;
let tick;

/** hibiki's SIP WebSocket for this page: wss from an https page; the page's host when it listens on all. */
function websocketUrl(config) {
  const secure = location.protocol === 'https:';
  const ws = config.websockets.find((w) => w.transport === 'wss') ?? (secure ? undefined : config.websockets.find((w) => w.transport === 'ws'));
  if (!ws) return undefined;
  const wildcard = ws.host === '0.0.0.0' || ws.host === '::' || ws.host === '';
  const host = wildcard ? location.hostname : ws.host.includes(':') ? `[${ws.host}]` : ws.host;
  return `${ws.transport}://${host}:${ws.port}`;
}

function renderLogin(error) {
  const extension = h('input', { name: 'extension', autocomplete: 'username', required: true, inputmode: 'numeric' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit' }, t('phone.login'));
  const form = h(
    'form',
    { class: 'panel', onsubmit: (e) => (e.preventDefault(), login(extension.value.trim(), password.value, submit)) },
    h('h2', {}, t('phone.loginTitle')),
    h('label', {}, t('phone.extension'), extension),
    h('label', {}, t('phone.password'), password),
    error ? h('p', { class: 'error', role: 'alert' }, error) : null,
    submit,
  );
  clear(main, form);
  extension.focus();
}

async function login(extension, password, button) {
  button.disabled = true;
  let server;
  try {
    const config = await (await fetch('/api/phone/config')).json();
    if (!config.webrtc) throw new Error(t('phone.noWebrtc'));
    server = websocketUrl(config);
    if (!server) throw new Error(t('phone.noWebsocket'));
    const line = new PhoneLine({ extension, password, domain: config.domain, server, audio });
    line.addEventListener('change', render);
    await line.start();
    state = { line, extension, password, history: [], number: '', transfer: '' };
    refreshHistory();
    render();
  } catch (err) {
    const reason = err.message ?? String(err);
    // A WebSocket that never opens over wss is most often a certificate this browser does not trust yet.
    const hint = server?.startsWith('wss://') && /WebSocket|connect/i.test(reason) ? ` ${t('phone.trustCertificate', { url: server.replace(/^wss/, 'https') })}` : '';
    renderLogin(t('phone.loginFailed', { reason }) + hint);
  }
}

async function refreshHistory() {
  if (!state) return;
  try {
    state.history = await loadHistory(state.extension, state.password);
  } catch {
    // The history is a convenience: the phone works without it.
  }
  render();
}

function keypad(onKey) {
  const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];
  return h(
    'div',
    { class: 'keypad' },
    keys.map((k) => h('button', { type: 'button', 'data-key': k, onclick: () => onKey(k) }, k)),
  );
}

function duration(call) {
  if (!call.answeredAt) return '';
  const s = Math.floor((Date.now() - call.answeredAt) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function callPanel(line, call, consult) {
  // The page is drawn again on every change of the call: what was typed is kept in the state.
  const target = h('input', { class: 'number', name: 'transfer', value: state.transfer, placeholder: t('phone.transferTarget'), inputmode: 'tel', oninput: (e) => (state.transfer = e.target.value) });
  const act = (fn) => () => fn().catch((err) => alertLine(err));
  return h(
    'section',
    { class: 'panel', 'data-call-state': call.state },
    h('div', { class: 'peer' }, call.name ? `${call.name} <${call.peer}>` : call.peer),
    h('div', { class: 'state' }, t(`phone.state.${call.held ? 'held' : call.state}`), ' ', h('span', { class: 'timer' }, duration(call))),
    consult ? h('div', { class: 'consult' }, t('phone.consulting', { number: consult.peer }), ' — ', t(`phone.state.${consult.state}`)) : null,
    keypad((k) => line.sendDigits(consult ?? call, k)),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', name: 'hold', 'aria-pressed': String(call.held), onclick: act(() => line.setHeld(call, !call.held)) }, t(call.held ? 'phone.resume' : 'phone.hold')),
      h('button', { type: 'button', name: 'mute', 'aria-pressed': String(call.muted), onclick: () => line.setMuted(call, !call.muted) }, t(call.muted ? 'phone.unmute' : 'phone.mute')),
      h('button', { type: 'button', name: 'code-blind', title: t('phone.codeBlindHelp'), onclick: () => line.sendDigits(call, '#8') }, '#8'),
      h('button', { type: 'button', name: 'code-consult', title: t('phone.codeConsultHelp'), onclick: () => line.sendDigits(call, '#9') }, '#9'),
    ),
    target,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', name: 'refer', onclick: act(() => line.referTo(call, target.value.trim())) }, t('phone.transfer')),
      consult
        ? h('button', { type: 'button', name: 'complete', onclick: act(() => line.completeTransfer()) }, t('phone.completeTransfer'))
        : h('button', { type: 'button', name: 'consult', onclick: act(() => line.consultTo(target.value.trim())) }, t('phone.consult')),
      h('button', { type: 'button', name: 'hangup', class: 'hangup', onclick: () => line.end() }, t('phone.hangup')),
    ),
  );
}

function alertLine(err) {
  if (state) state.error = err.message ?? String(err);
  render();
}

function incomingPanel(line, call) {
  return h(
    'section',
    { class: 'panel ringing', 'data-incoming': call.peer },
    h('div', { class: 'peer' }, call.name ? `${call.name} <${call.peer}>` : call.peer),
    h('div', {}, t('phone.incoming')),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', name: 'answer', class: 'call', onclick: () => line.answer().catch(alertLine) }, t('phone.answer')),
      h('button', { type: 'button', name: 'decline', class: 'hangup', onclick: () => line.decline() }, t('phone.decline')),
    ),
  );
}

function dialPanel(line) {
  const number = h('input', { class: 'number', name: 'number', value: state.number, inputmode: 'tel', placeholder: t('phone.number'), oninput: (e) => (state.number = e.target.value) });
  const dial = () => {
    const n = number.value.trim();
    if (!n) return;
    state.number = '';
    try {
      line.dial(n);
    } catch (err) {
      alertLine(err);
    }
  };
  number.addEventListener('keydown', (e) => e.key === 'Enter' && dial());
  return h(
    'section',
    { class: 'panel' },
    number,
    keypad((k) => {
      state.number = number.value + k;
      number.value = state.number;
    }),
    h('div', { class: 'actions' }, h('button', { type: 'button', name: 'dial', class: 'call', onclick: dial }, t('phone.call'))),
  );
}

let lastCallCount = 0;

function render() {
  document.documentElement.lang = language();
  langSelect.value = language();
  title.textContent = t('phone.title');
  logoutButton.textContent = t('nav.logout');
  if (!state) {
    who.textContent = '';
    logoutButton.hidden = true;
    return;
  }
  const { line } = state;
  logoutButton.hidden = false;
  who.textContent = state.extension;
  if (line.incoming) ring.start();
  else ring.stop();
  const calls = [line.call, line.consult, line.incoming].filter(Boolean).length;
  // A call just ended: its record is in the history now.
  if (calls < lastCallCount) setTimeout(refreshHistory, 500);
  lastCallCount = calls;
  clear(
    main,
    h('div', { class: `status ${line.registered ? 'ok' : 'bad'}`, role: 'status', 'data-registered': String(line.registered) }, t(line.registered ? 'phone.registered' : 'phone.unregistered')),
    state.error ? h('p', { class: 'error', role: 'alert' }, state.error) : null,
    line.lastError ? h('p', { class: 'error', role: 'alert', 'data-failed': line.lastError.number }, t('phone.callFailed', line.lastError)) : null,
    line.incoming ? incomingPanel(line, line.incoming) : null,
    line.call ? callPanel(line, line.call, line.consult) : dialPanel(line),
    h('section', { class: 'panel' }, h('h3', {}, t('phone.history')), historyTable(state.history, state.extension)),
  );
  state.error = undefined;
  if (line.lastError && line.call) line.lastError = undefined;
  if (!line.call) state.transfer = '';
  clearInterval(tick);
  if (line.call?.answeredAt) tick = setInterval(() => document.querySelectorAll('.timer').forEach((el) => (el.textContent = duration(line.call ?? {}))), 1000);
}

async function logout() {
  const line = state?.line;
  state = undefined;
  ring.stop();
  clearInterval(tick);
  await line?.stop().catch(() => undefined);
  render();
  renderLogin();
}

langSelect.addEventListener('change', () => {
  setLanguage(langSelect.value);
  if (state) render();
  else {
    render();
    renderLogin();
  }
});
logoutButton.addEventListener('click', logout);
window.addEventListener('beforeunload', () => state?.line.stop());
render();
renderLogin();
