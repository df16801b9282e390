// Strings that outlive the message they were read from.

/**
 * A copy of `s` in its own storage. Values taken from a parsed message are slices of the whole
 * message text, and V8 keeps that text alive for as long as any slice of it is referenced; state
 * kept for seconds or longer (transactions, nonce records) must not pin kilobyte-sized messages.
 */
export function ownString(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}
