// Removing an extension from the YAML file (F-USER): refused while it is still a member of a hunt group,
// queue, pickup group or bulk-forwarding set unless forced, in which case it is taken out of them too. The file is
// edited as a YAML document, so comments and layout elsewhere survive, and the result is validated in full
// before anything is written: a running server then reloads it like any other edit.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { formatConfigError } from './errors.js';
import { loadConfigText } from './load.js';

export interface Membership {
  /** e.g. "group 600", "pickup group 1", "bulk-forwarding set disaster". */
  what: string;
  line: number;
}

export type RemoveResult = { ok: true; removedFrom: Membership[] } | { ok: false; reason: string; memberships?: Membership[] };

function lineOf(text: string, offset: number | undefined): number {
  if (offset === undefined) return 0;
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function seqAt(doc: Document, key: string): YAMLSeq | undefined {
  const node = doc.get(key, true);
  return isSeq(node) ? node : undefined;
}

function str(node: unknown): string | undefined {
  if (node === null || node === undefined) return undefined;
  const v = typeof node === 'object' && 'value' in (node as object) ? (node as { value: unknown }).value : node;
  return v === null || v === undefined ? undefined : String(v);
}

/** Plans (and with `apply`, performs) the removal on the YAML text; returns the new text when it is valid. */
export function removeExtensionFromText(text: string, fileName: string, number: string, force: boolean): RemoveResult & { text?: string } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return { ok: false, reason: `${fileName}: ${doc.errors[0]!.message}` };
  const extensions = seqAt(doc, 'extensions');
  const index = extensions?.items.findIndex((item) => isMap(item) && str((item as YAMLMap).get('number', true)) === number) ?? -1;
  if (!extensions || index < 0) return { ok: false, reason: `extension ${number} is not in ${fileName}` };

  // Inbound rules route DIDs: a rule left pointing nowhere is a decision for the admin, not for --force.
  for (const rule of seqAt(doc, 'inbound')?.items ?? []) {
    if (isMap(rule) && str(rule.get('destination', true)) === number) {
      return { ok: false, reason: `DID ${str(rule.get('did', true))} (line ${lineOf(text, rule.range?.[0])}) rings extension ${number}: change that inbound rule first` };
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
    return { ok: false, reason: `extension ${number} is still a member of ${memberships.map((m) => `${m.what} (line ${m.line})`).join(', ')}; remove it there first or use --force`, memberships };
  }
  // Splice from the end of each list so earlier indexes stay valid.
  for (const remove of removals.reverse()) remove();
  extensions.items.splice(index, 1);
  const next = doc.toString();
  const check = loadConfigText(next, fileName);
  if (!check.ok) return { ok: false, reason: `the file would be invalid after the removal:\n${check.errors.map(formatConfigError).join('\n')}` };
  return { ok: true, removedFrom: memberships, text: next };
}

/** Remove the extension from the file on disk (atomically: a temporary file renamed over it). */
export function removeExtension(file: string, number: string, force: boolean): RemoveResult {
  const text = readFileSync(file, 'utf8');
  const result = removeExtensionFromText(text, file, number, force);
  if (!result.ok || result.text === undefined) return result;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, result.text);
  renameSync(tmp, file);
  return { ok: true, removedFrom: result.removedFrom };
}
