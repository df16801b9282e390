// Removing an extension from the YAML file (F-USER): refused while it is still a member of a hunt group,
// queue, pickup group or bulk-forwarding set unless forced, in which case it is taken out of them too. The file is
// edited as a YAML document, so comments and layout elsewhere survive, and the result is validated in full
// before anything is written: a running server then reloads it like any other edit.
import { readFileSync } from 'node:fs';
import { writeReplacing } from './config-editor.js';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap } from 'yaml';
import { lineOf, seqAt, str } from './yaml-nodes.js';
import { formatConfigError } from './errors.js';
import { loadConfigText } from './load.js';

export interface Membership {
  /** e.g. "group 600", "pickup group 1", "bulk-forwarding set disaster". */
  what: string;
  line: number;
}

export type RemoveResult = { ok: true; removedFrom: Membership[] } | { ok: false; reason: string; memberships?: Membership[] };

/** Why a removal was refused: 404 when there is no such extension, 409 when something still uses it. */
export type DocumentRemoval = { ok: true; removedFrom: Membership[] } | { ok: false; status: 404 | 409; reason: string; memberships?: Membership[] };

/**
 * Removes the extension from a parsed document (with `force`, from its groups, queues, pickup groups and
 * bulk-forwarding sets too). `text` is the source the document was parsed from, for line numbers. The
 * result is not validated here: the caller checks the whole file.
 */
export function removeExtensionFromDocument(doc: Document, text: string, fileName: string, number: string, force: boolean): DocumentRemoval {
  const extensions = seqAt(doc, 'extensions');
  const index = extensions?.items.findIndex((item) => isMap(item) && str((item as YAMLMap).get('number', true)) === number) ?? -1;
  if (!extensions || index < 0) return { ok: false, status: 404, reason: `extension ${number} is not in ${fileName}` };

  // Inbound rules route DIDs: a rule left pointing nowhere is a decision for the admin, not for --force.
  for (const rule of seqAt(doc, 'inbound')?.items ?? []) {
    if (isMap(rule) && str(rule.get('destination', true)) === number) {
      return { ok: false, status: 409, reason: `DID ${str(rule.get('did', true))} (line ${lineOf(text, rule.range?.[0])}) rings extension ${number}: change that inbound rule first` };
    }
  }

  const memberships: Membership[] = [];
  const removals: Array<() => void> = [];
  const scan = (key: string, label: string, nameKey: string, matches: (member: unknown) => boolean) => {
    for (const entry of seqAt(doc, key)?.items ?? []) {
      if (!isMap(entry)) continue;
      const members = entry.get('members', true);
      if (!isSeq(members)) continue;
      members.items.forEach((m, i) => {
        if (!matches(m)) return;
        memberships.push({ what: `${label} ${str(entry.get(nameKey, true))}`, line: lineOf(text, (m as { range?: [number] }).range?.[0] ?? entry.range?.[0]) });
        removals.push(() => members.items.splice(i, 1));
      });
    }
  };
  scan('groups', 'group', 'number', (m) => str(m) === number);
  scan('pickupGroups', 'pickup group', 'number', (m) => str(m) === number);
  scan('bulkForwarding', 'bulk-forwarding set', 'name', (m) => isMap(m) && str(m.get('extension', true)) === number);
  // A queue member is an extension number or {extension, level}.
  scan('queues', 'queue', 'number', (m) => (isMap(m) ? str(m.get('extension', true)) : str(m)) === number);

  if (memberships.length > 0 && !force) {
    return {
      ok: false,
      status: 409,
      reason: `extension ${number} is still a member of ${memberships.map((m) => `${m.what} (line ${m.line})`).join(', ')}; remove it there first or use --force`,
      memberships,
    };
  }
  // Splice from the end of each list so earlier indexes stay valid.
  for (const remove of removals.reverse()) remove();
  extensions.items.splice(index, 1);
  return { ok: true, removedFrom: memberships };
}

/** Plans the removal on the YAML text; returns the new text when it is valid. */
export function removeExtensionFromText(text: string, fileName: string, number: string, force: boolean): RemoveResult & { text?: string } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return { ok: false, reason: `${fileName}: ${doc.errors[0]!.message}` };
  const removal = removeExtensionFromDocument(doc, text, fileName, number, force);
  if (!removal.ok) return { ok: false, reason: removal.reason, memberships: removal.memberships };
  const next = doc.toString();
  const check = loadConfigText(next, fileName);
  if (!check.ok) return { ok: false, reason: `the file would be invalid after the removal:\n${check.errors.map(formatConfigError).join('\n')}` };
  return { ok: true, removedFrom: removal.removedFrom, text: next };
}

/** Remove the extension from the file on disk (atomically: a temporary file renamed over it). */
export function removeExtension(file: string, number: string, force: boolean): RemoveResult {
  const text = readFileSync(file, 'utf8');
  const result = removeExtensionFromText(text, file, number, force);
  if (!result.ok || result.text === undefined) return result;
  const problem = writeReplacing(file, result.text);
  if (problem !== undefined) return { ok: false, reason: `${file} could not be written: ${problem}` };
  return { ok: true, removedFrom: result.removedFrom };
}
