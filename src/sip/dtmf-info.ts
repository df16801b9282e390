// DTMF carried in SIP INFO (application/dtmf-relay "Signal=5\r\nDuration=160", or application/dtmf "5"),
// as phones without RFC 4733 send it.
import type { SipRequest } from './message.js';

const DTMF_INFO_TYPES = new Set(['application/dtmf-relay', 'application/dtmf']);

function mediaType(req: SipRequest): string {
  return (req.contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** True when the INFO claims to carry a DTMF digit (whether or not its body is usable). */
export function isDtmfInfo(req: SipRequest): boolean {
  return DTMF_INFO_TYPES.has(mediaType(req));
}

/** The digit an INFO carries, with its duration clamped to 40–5000 ms; undefined when there is none. */
export function dtmfFromInfo(req: SipRequest): { digit: string; durationMs: number } | undefined {
  if (!isDtmfInfo(req)) return undefined;
  const body = req.body.toString('utf8');
  let signal: string | undefined;
  let duration = 100;
  if (mediaType(req) === 'application/dtmf') signal = body.trim();
  else {
    for (const line of body.split(/\r?\n/)) {
      const m = /^\s*(signal|duration)\s*=\s*(\S+)\s*$/i.exec(line);
      if (!m) continue;
      if (m[1]!.toLowerCase() === 'signal') signal = m[2];
      else if (/^\d{1,6}$/.test(m[2]!)) duration = Number(m[2]);
    }
  }
  if (!signal) return undefined;
  const digit = signal === '10' ? '*' : signal === '11' ? '#' : signal.toUpperCase();
  if (!/^[0-9*#A-D]$/.test(digit)) return undefined;
  return { digit, durationMs: Math.min(Math.max(duration, 40), 5000) };
}
