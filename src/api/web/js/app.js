// The console shell: login state, the pages each role may open (the menu shows only those), and the
// #fragment router. Each page is a module with render(main, session) that may return a cleanup.
import { session, setSession, whenUnauthorized } from './api.js';
import { clear, h } from './dom.js';
import { language, setLanguage, t } from './i18n.js';
import { stopLive } from './live.js';
import { me } from './resources.js';
import * as login from './pages/login.js';
import * as extensionsPage from './pages/extensions.js';
import * as groupsPage from './pages/groups.js';
import * as forwardingOverview from './pages/forwarding-overview.js';
import * as bulkPage from './pages/bulk.js';
import * as parkPage from './pages/park.js';
import * as callsPage from './pages/calls.js';
import * as cdrPage from './pages/cdr.js';
import * as locksPage from './pages/locks.js';
import * as auditPage from './pages/audit.js';
import * as accountsPage from './pages/accounts.js';
import * as queuesPage from './pages/queues.js';
import * as myForwarding from './pages/my-forwarding.js';
import * as voicemailPage from './pages/voicemail.js';
import * as settingsPage from './pages/settings.js';

const admin = (s) => s.role === 'admin';
const supervisor = (s) => s.role === 'admin' || s.role === 'supervisor';
const own = (s) => s.extension !== undefined && s.extension !== null;

/** Pages in menu order, with who may open each. */
const pages = [
  { path: 'extensions', label: 'nav.extensions', page: extensionsPage, may: admin },
  { path: 'groups', label: 'nav.groups', page: groupsPage, may: admin },
  { path: 'forwarding', label: 'nav.forwarding', page: forwardingOverview, may: admin },
  { path: 'bulk', label: 'nav.bulk', page: bulkPage, may: admin },
  { path: 'calls', label: 'nav.calls', page: callsPage, may: admin },
  { path: 'park', label: 'nav.park', page: parkPage, may: supervisor },
  { path: 'queues', label: 'nav.queues', page: queuesPage, may: supervisor },
  { path: 'cdr', label: 'nav.cdr', page: cdrPage, may: supervisor },
  { path: 'locks', label: 'nav.locks', page: locksPage, may: admin },
  { path: 'accounts', label: 'nav.accounts', page: accountsPage, may: admin },
  { path: 'audit', label: 'nav.audit', page: auditPage, may: admin },
  { path: 'me/forwarding', label: 'nav.myForwarding', page: myForwarding, may: own },
  { path: 'me/voicemail', label: 'nav.voicemail', page: voicemailPage, may: own },
  { path: 'me/settings', label: 'nav.settings', page: settingsPage, may: () => true },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const logoutButton = document.getElementById('logout');
const langSelect = document.getElementById('lang');
let cleanup;

function allowed(s) {
  return pages.filter((p) => p.may(s));
}

function current() {
  return location.hash.replace(/^#\/?/, '');
}

function render() {
  cleanup?.();
  cleanup = undefined;
  document.documentElement.lang = language();
  langSelect.value = language();
  logoutButton.textContent = t('nav.logout');
  const s = session();
  if (!s) {
    stopLive();
    clear(nav);
    who.textContent = '';
    logoutButton.hidden = true;
    document.title = `hibiki — ${t('login.title')}`;
    cleanup = login.render(main, { onLogin: loggedIn });
    return;
  }
  const mine = allowed(s);
  const target = mine.find((p) => p.path === current()) ?? mine[0];
  if (target.path !== current()) {
    history.replaceState(null, '', `#/${target.path}`);
  }
  clear(
    nav,
    mine.map((p) => h('a', { href: `#/${p.path}`, class: p === target ? 'active' : undefined }, t(p.label))),
  );
  who.textContent = `${s.username} (${t(`role.${s.role}`)}${s.extension ? ` · ${s.extension}` : ''})`;
  logoutButton.hidden = false;
  document.title = `hibiki — ${t(target.label)}`;
  clear(main);
  cleanup = target.page.render(main, s) ?? undefined;
}

function loggedIn(answer) {
  setSession({ token: answer.token, username: answer.username, role: answer.role, extension: answer.extension });
  location.hash = '';
  render();
}

async function logout() {
  try {
    await me.logout();
  } catch {
    // The session may already be gone; the console forgets it either way.
  }
  setSession(null);
  render();
}

whenUnauthorized(() => {
  setSession(null);
  render();
});
window.addEventListener('hashchange', render);
logoutButton.addEventListener('click', logout);
langSelect.addEventListener('change', () => {
  setLanguage(langSelect.value);
  render();
});
render();
