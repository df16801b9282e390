// Edits of extensions, hunt groups and pickup groups in the YAML document (issue #12, F-USER): shared by the
// HTTP API, the CSV import and the CLI so all of them write the file the same way. Each function changes a
// parsed document in place (comments and the order of everything else survive) or says why it will not;
// the caller runs it inside ConfigEditor.edit, which validates the whole result before anything is written.
import { isMap, isSeq, type Document, type YAMLMap } from 'yaml';
import type { EditRefusal } from './config-editor.js';
import { loadConfigText } from './load.js';
import { removeExtensionFromDocument, type Membership } from './remove-extension.js';
import type { HibikiConfig } from './schema.js';
import { ensureSeq, entryByNumber, seqAt, str } from './yaml-nodes.js';

/** The fields of an extension the API and the CSV set; null removes an optional one. */
export interface ExtensionFields {
  name?: string;
  password?: string;
  kana?: string | null;
  pin?: string | null;
  /** Groups (departments) the extension is a member of, by number; exactly these after the edit. */
  departments?: string[];
  /** Pickup groups the extension is a member of, by number; exactly these after the edit. */
  pickupGroups?: string[];
  callerId?: string | null;
  ringTimeout?: number | null;
  memo?: string | null;
  language?: 'ja' | 'en';
  suspended?: boolean;
}

export interface NewExtension extends ExtensionFields {
  number: string;
  name: string;
  password: string;
}

/** Order in which the fields are written into a new extension entry (the order an admin would write them). */
const extensionKeys = ['name', 'kana', 'password', 'pin', 'callerId', 'ringTimeout', 'language', 'memo', 'suspended'] as const;

export interface GroupFields {
  name?: string;
  strategy?: string | null;
  members?: string[];
  memberRingTime?: number | null;
  timeout?: number | null;
  noAnswerDestination?: string | null;
  displayPrefix?: string | null;
  record?: string | null;
}
export interface NewGroup extends GroupFields {
  number: string;
  name: string;
  members: string[];
}
const groupKeys = ['name', 'strategy', 'members', 'memberRingTime', 'timeout', 'noAnswerDestination', 'displayPrefix', 'record'] as const;

export interface PickupGroupFields {
  name?: string | null;
  members?: string[];
}
export interface NewPickupGroup extends PickupGroupFields {
  number: string;
  members: string[];
}
const pickupKeys = ['name', 'members'] as const;

/** Every number of the dial plan and what owns it ("extension 2001", "queue 700", …). */
export function takenNumbers(config: HibikiConfig): Map<string, string> {
  const taken = new Map<string, string>();
  const put = (n: string, what: string) => {
    if (!taken.has(n)) taken.set(n, what);
  };
  for (const e of config.extensions) put(e.number, `extension ${e.number}`);
  for (const g of config.groups) put(g.number, `group ${g.number}`);
  for (const q of config.queues) put(q.number, `queue ${q.number}`);
  for (const v of config.ivrs) put(v.number, `IVR ${v.number}`);
  for (const b of config.voicemailBoxes) put(b.number, `voicemail box ${b.number}`);
  for (const r of config.conference.rooms) put(r.number, `conference room ${r.number}`);
  put(config.park.lot, 'the park lot');
  for (let n = config.park.slots[0]; n <= config.park.slots[1] && n - config.park.slots[0] < 1000; n++) put(String(n), `park slot ${n}`);
  return taken;
}

/** The config the document holds before the edit (the file is valid: it was loaded or written by an edit). */
export function configOfText(text: string): { config: HibikiConfig } | { refusal: EditRefusal } {
  const loaded = loadConfigText(text, 'config');
  if (loaded.ok) return { config: loaded.config };
  return { refusal: { status: 409, message: `the config file is invalid now (fix it first): ${loaded.errors[0]!.message}`, errors: loaded.errors } };
}

/** Sets each key present in `fields` on the map: null deletes it, undefined leaves it as it is. */
function applyFields(doc: Document, map: YAMLMap, fields: object, keys: readonly string[]): void {
  const values = fields as Record<string, unknown>;
  for (const key of keys) {
    const v = values[key];
    if (v === undefined) continue;
    if (v === null) map.delete(key);
    else if (Array.isArray(v)) map.set(key, doc.createNode(v));
    else map.set(key, v);
  }
}

/** Makes the extension a member of exactly `wanted` among the entries of `key` (groups or pickupGroups). */
function setMemberships(doc: Document, key: 'groups' | 'pickupGroups', number: string, wanted: readonly string[]): void {
  for (const entry of seqAt(doc, key)?.items ?? []) {
    if (!isMap(entry)) continue;
    const members = entry.get('members', true);
    if (!isSeq(members)) continue;
    const want = wanted.includes(str(entry.get('number', true)) ?? '');
    const at = members.items.findIndex((m) => str(m) === number);
    if (want && at < 0) members.add(doc.createNode(number));
    if (!want && at >= 0) members.items.splice(at, 1);
  }
}

/** Departments and pickup groups that do not exist, as a refusal naming the field. */
function unknownMemberships(config: HibikiConfig, fields: ExtensionFields): EditRefusal | undefined {
  const groups = new Set(config.groups.map((g) => g.number));
  const badGroup = fields.departments?.find((n) => !groups.has(n));
  if (badGroup !== undefined) return { status: 400, field: 'departments', message: `there is no group ${badGroup}` };
  const pickups = new Set(config.pickupGroups.map((g) => g.number));
  const badPickup = fields.pickupGroups?.find((n) => !pickups.has(n));
  if (badPickup !== undefined) return { status: 400, field: 'pickupGroups', message: `there is no pickup group ${badPickup}` };
  return undefined;
}

export function addExtension(doc: Document, config: HibikiConfig, ext: NewExtension, taken = takenNumbers(config)): EditRefusal | undefined {
  const owner = taken.get(ext.number);
  if (owner !== undefined) return { status: 409, field: 'number', message: `${ext.number} is already used by ${owner}` };
  const unknown = unknownMemberships(config, ext);
  if (unknown) return unknown;
  const map = doc.createNode({ number: ext.number }) as YAMLMap;
  applyFields(doc, map, ext, extensionKeys);
  ensureSeq(doc, 'extensions').add(map);
  if (ext.departments) setMemberships(doc, 'groups', ext.number, ext.departments);
  if (ext.pickupGroups) setMemberships(doc, 'pickupGroups', ext.number, ext.pickupGroups);
  return undefined;
}

export function updateExtension(doc: Document, config: HibikiConfig, number: string, fields: ExtensionFields): EditRefusal | undefined {
  const entry = entryByNumber(doc, 'extensions', number);
  if (!entry) return { status: 404, message: `extension ${number} not found` };
  const unknown = unknownMemberships(config, fields);
  if (unknown) return unknown;
  applyFields(doc, entry.map, fields, extensionKeys);
  if (fields.departments) setMemberships(doc, 'groups', number, fields.departments);
  if (fields.pickupGroups) setMemberships(doc, 'pickupGroups', number, fields.pickupGroups);
  return undefined;
}

/**
 * Whether the document is still valid after a removal; when not, the removed thing was still named somewhere
 * (a DID, a forwarding destination, an IVR key, a group's no-answer destination…): a 409 listing each place.
 */
export function stillReferenced(doc: Document, what: string): EditRefusal | undefined {
  const check = loadConfigText(doc.toString(), 'config');
  if (check.ok) return undefined;
  const where = check.errors.map((e) => `${describePath(doc, e.path) ?? `line ${e.line}`}: ${e.message}`);
  return { status: 409, message: `${what} is still used: ${where.join('; ')}`, field: check.errors[0]!.path, errors: check.errors };
}

/** `groups[0].noAnswerDestination` → `group 610 (groups[0].noAnswerDestination)`: the index alone means little to a reader. */
function describePath(doc: Document, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const m = /^([A-Za-z]+)\[(\d+)\]/.exec(path);
  if (!m) return path;
  const entry = seqAt(doc, m[1]!)?.items[Number(m[2])];
  if (!isMap(entry)) return path;
  for (const key of ['number', 'name', 'did']) {
    const v = str(entry.get(key, true));
    if (v !== undefined) return `${m[1]} entry ${key} ${v} (${path})`;
  }
  return path;
}

export function removeExtensionEntry(doc: Document, text: string, number: string, force: boolean): { removedFrom: Membership[] } | { refusal: EditRefusal } {
  const removal = removeExtensionFromDocument(doc, text, 'the config file', number, force);
  if (!removal.ok) return { refusal: { status: removal.status, message: removal.reason } };
  const refusal = stillReferenced(doc, `extension ${number}`);
  return refusal ? { refusal } : { removedFrom: removal.removedFrom };
}

export function addGroup(doc: Document, config: HibikiConfig, group: NewGroup): EditRefusal | undefined {
  const owner = takenNumbers(config).get(group.number);
  if (owner !== undefined) return { status: 409, field: 'number', message: `${group.number} is already used by ${owner}` };
  const map = doc.createNode({ number: group.number }) as YAMLMap;
  applyFields(doc, map, group, groupKeys);
  ensureSeq(doc, 'groups').add(map);
  return undefined;
}

export function updateGroup(doc: Document, number: string, fields: GroupFields): EditRefusal | undefined {
  const entry = entryByNumber(doc, 'groups', number);
  if (!entry) return { status: 404, message: `group ${number} not found` };
  applyFields(doc, entry.map, fields, groupKeys);
  return undefined;
}

export function removeGroup(doc: Document, number: string): EditRefusal | undefined {
  const entry = entryByNumber(doc, 'groups', number);
  if (!entry) return { status: 404, message: `group ${number} not found` };
  entry.seq.items.splice(entry.index, 1);
  return stillReferenced(doc, `group ${number}`);
}

export function addPickupGroup(doc: Document, config: HibikiConfig, group: NewPickupGroup): EditRefusal | undefined {
  if (config.pickupGroups.some((g) => g.number === group.number)) return { status: 409, field: 'number', message: `pickup group ${group.number} exists` };
  const map = doc.createNode({ number: group.number }) as YAMLMap;
  applyFields(doc, map, group, pickupKeys);
  ensureSeq(doc, 'pickupGroups').add(map);
  return undefined;
}

export function updatePickupGroup(doc: Document, number: string, fields: PickupGroupFields): EditRefusal | undefined {
  const entry = entryByNumber(doc, 'pickupGroups', number);
  if (!entry) return { status: 404, message: `pickup group ${number} not found` };
  applyFields(doc, entry.map, fields, pickupKeys);
  return undefined;
}

export function removePickupGroup(doc: Document, number: string): EditRefusal | undefined {
  const entry = entryByNumber(doc, 'pickupGroups', number);
  if (!entry) return { status: 404, message: `pickup group ${number} not found` };
  entry.seq.items.splice(entry.index, 1);
  return stillReferenced(doc, `pickup group ${number}`);
}
