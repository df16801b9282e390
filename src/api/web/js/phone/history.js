// The browser phone's call history: the extension's latest call records (POST /api/phone/history with the
// extension and SIP password the phone logged in with), shown newest first.
import { h, table } from '../dom.js';
import { t } from '../i18n.js';

export async function loadHistory(extension, password) {
  const res = await fetch('/api/phone/history', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ extension, password, limit: 20 }) });
  if (!res.ok) throw new Error(`history: ${res.status}`);
  return (await res.json()).rows;
}

export function historyTable(rows, extension) {
  return table(
    [
      { label: t('phone.when'), cell: (r) => new Date(r.startedAt).toLocaleString() },
      { label: t('phone.direction'), cell: (r) => t(r.callerNumber === extension ? 'phone.outgoing' : 'phone.incomingShort') },
      { label: t('phone.with'), cell: (r) => (r.callerNumber === extension ? (r.calleeNumber ?? r.dialedNumber) : r.callerNumber) },
      { label: t('phone.result'), cell: (r) => h('span', { class: r.disposition === 'answered' ? 'ok' : 'bad' }, t(`phone.disposition.${r.disposition}`)) },
      { label: t('phone.duration'), cell: (r) => `${Math.floor(r.billsec / 60)}:${String(r.billsec % 60).padStart(2, '0')}` },
    ],
    rows,
    { empty: t('phone.noHistory'), class: 'history' },
  );
}
