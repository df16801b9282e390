// Reading a little of a message before (and instead of) parsing it: what the rate limiter and the
// saturated overload state need to drop datagrams at almost no cost. Whatever cannot be told for sure
// is reported on the safe side, so in-dialog requests, ACKs and responses are never taken for new work.

const SIP_SLASH = Buffer.from('SIP/', 'latin1');
const INVITE = Buffer.from('INVITE ', 'latin1');
const REGISTER = Buffer.from('REGISTER ', 'latin1');
/** Far enough into a header block to reach To in any real request. */
const HEADER_SCAN_BYTES = 4096;
/** To (or compact t), then its value and any continuation lines. */
const TO_HEADER = /\n(?:to|t)[ \t]*:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/i;
const TAG_PARAM = /;[ \t]*tag[ \t]*=/i;

/** True unless the message is a response (a status line starts with SIP/). */
export function isRequestBytes(data: Buffer): boolean {
  return !startsWith(data, SIP_SLASH);
}

/**
 * True only for an INVITE or REGISTER whose To header has no tag: a new out-of-dialog request. A
 * request without a readable To header counts as not new (the parser will deal with it).
 */
export function isNewInviteOrRegister(data: Buffer): boolean {
  if (!startsWith(data, INVITE) && !startsWith(data, REGISTER)) return false;
  const head = data.toString('latin1', 0, Math.min(data.length, HEADER_SCAN_BYTES));
  const end = head.search(/\r?\n\r?\n/);
  const to = TO_HEADER.exec(end < 0 ? head : head.slice(0, end));
  return to !== null && !TAG_PARAM.test(to[1] ?? '');
}

function startsWith(data: Buffer, prefix: Buffer): boolean {
  return data.length >= prefix.length && data.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}
