// In-call feature codes (SPEC F-CODES): their defaults and the format / prefix-freeness rules a config must satisfy.
// Dependency-free so the config schema can call validateCodes() from a zod superRefine.

export interface InCallCodes {
  park: string;
  blindTransfer: string;
  attendedTransfer: string;
  /** Ends transfer-target entry at once (otherwise it ends after transferDigitTimeout of silence). */
  dialConfirm: string;
  /** Lifts DTMF suppression for the rest of the call. */
  dtmfSend: string;
  /** Starts / stops recording the call (on-demand recording). */
  record: string;
}

export const DEFAULT_CODES: Readonly<InCallCodes> = Object.freeze({
  park: '#72',
  blindTransfer: '#8',
  attendedTransfer: '#9',
  dialConfirm: '#',
  dtmfSend: '*#',
  record: '*1',
});

export interface CodeIssue {
  key: keyof InCallCodes;
  message: string;
  /** For an overlap: the other code involved (the message names both). */
  conflictsWith?: keyof InCallCodes;
}

export interface CodeValidation {
  errors: CodeIssue[];
  warnings: CodeIssue[];
}

/** Park and transfer codes: 1–4 characters of 0-9, *, # (SPEC F-CODES seed rule). */
const ACTION_CODE = /^[0-9*#]{1,4}$/;
/** Dial-confirm and DTMF-send: 1–3 characters, the first one * or # (SPEC F-CODES seed rule). */
const CONTROL_CODE = /^[*#][0-9*#]{0,2}$/;

const ACTION_KEYS = ['park', 'blindTransfer', 'attendedTransfer', 'record'] as const satisfies ReadonlyArray<keyof InCallCodes>;
const CONTROL_KEYS = ['dialConfirm', 'dtmfSend'] as const satisfies ReadonlyArray<keyof InCallCodes>;

/**
 * The codes matched against the same digit stream during a bridged call, and so the ones that must be prefix-free
 * against each other (SPEC F-CODES, F-DIALPLAN; a prefix would fire first and make the longer code unreachable, as in
 * Asterisk's sorted DTMF hook list — anchors-features §0.1).
 *
 * dialConfirm is deliberately not in this set: it is only listened for while a transfer target is being collected
 * (after #8/#9), a different context from the bridged call where the other codes live. The default `#` is a prefix of
 * `#72`, `#8` and `#9`, and that is intended, so dialConfirm is only checked for its own format.
 */
export const PREFIX_FREE_KEYS = ['park', 'blindTransfer', 'attendedTransfer', 'dtmfSend', 'record'] as const satisfies ReadonlyArray<keyof InCallCodes>;

export function validateCodes(codes: InCallCodes): CodeValidation {
  const errors: CodeIssue[] = [];
  const warnings: CodeIssue[] = [];
  const wellFormed = new Set<keyof InCallCodes>();

  for (const key of ACTION_KEYS) {
    const code = codes[key];
    if (typeof code !== 'string' || code.length === 0) {
      errors.push({ key, message: `${key} code must not be empty` });
    } else if (!ACTION_CODE.test(code)) {
      errors.push({ key, message: `${key} code ${JSON.stringify(code)} must be 1–4 characters of 0-9, * and #` });
    } else {
      wellFormed.add(key);
      if (code.length === 1) {
        warnings.push({
          key,
          message: `${key} code ${JSON.stringify(code)} is a single character: every press of it in a call triggers the feature`,
        });
      }
    }
  }

  for (const key of CONTROL_KEYS) {
    const code = codes[key];
    if (typeof code !== 'string' || code.length === 0) {
      errors.push({ key, message: `${key} code must not be empty` });
    } else if (!CONTROL_CODE.test(code)) {
      errors.push({
        key,
        message: `${key} code ${JSON.stringify(code)} must be 1–3 characters of 0-9, * and #, starting with * or #`,
      });
    } else {
      wellFormed.add(key);
    }
  }

  // Codes that failed their format check are skipped here: an empty code would "overlap" everything and bury the
  // real error under noise.
  for (let i = 0; i < PREFIX_FREE_KEYS.length; i++) {
    for (let j = i + 1; j < PREFIX_FREE_KEYS.length; j++) {
      const a = PREFIX_FREE_KEYS[i] as keyof InCallCodes;
      const b = PREFIX_FREE_KEYS[j] as keyof InCallCodes;
      if (!wellFormed.has(a) || !wellFormed.has(b)) continue;
      const message = overlapMessage(a, codes[a], b, codes[b]);
      if (message !== null) errors.push({ key: b, conflictsWith: a, message });
    }
  }

  return { errors, warnings };
}

function overlapMessage(aKey: string, a: string, bKey: string, b: string): string | null {
  const named = `${aKey} code ${JSON.stringify(a)} and ${bKey} code ${JSON.stringify(b)}`;
  if (a === b) return `${named} are identical: in-call codes must differ`;
  if (b.startsWith(a) || a.startsWith(b)) {
    const [shortKey, longKey] = a.length < b.length ? [aKey, bKey] : [bKey, aKey];
    return `${named} overlap: ${shortKey} is a prefix of ${longKey}, which could never be dialled (in-call codes must be prefix-free)`;
  }
  return null;
}
