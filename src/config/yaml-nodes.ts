// Small helpers for editing the YAML config as a document (remove-extension, extension-edit): finding the
// top-level lists and the entry with a given number, reading a scalar as text whether YAML typed it as a
// number or a string, and turning a node's offset into a file line for messages.
import { isMap, isSeq, type Document, type YAMLMap, type YAMLSeq } from 'yaml';

export function lineOf(text: string, offset: number | undefined): number {
  if (offset === undefined) return 0;
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

export function seqAt(doc: Document, key: string): YAMLSeq | undefined {
  const node = doc.get(key, true);
  return isSeq(node) ? node : undefined;
}

/** A scalar's value as text: `number: 2001` and `number: "2001"` both read "2001". */
export function str(node: unknown): string | undefined {
  if (node === null || node === undefined) return undefined;
  const v = typeof node === 'object' && 'value' in (node as object) ? (node as { value: unknown }).value : node;
  return v === null || v === undefined ? undefined : String(v);
}

/** The top-level list `key`, created (as an empty block list) when the file has none. */
export function ensureSeq(doc: Document, key: string): YAMLSeq {
  const found = seqAt(doc, key);
  if (found) return found;
  const created = doc.createNode([]) as YAMLSeq;
  doc.set(key, created);
  return created;
}

/** The entry of a top-level list whose `number` is this number, with its index. */
export function entryByNumber(doc: Document, key: string, number: string): { map: YAMLMap; index: number; seq: YAMLSeq } | undefined {
  const seq = seqAt(doc, key);
  if (!seq) return undefined;
  const index = seq.items.findIndex((item) => isMap(item) && str(item.get('number', true)) === number);
  return index < 0 ? undefined : { map: seq.items[index] as YAMLMap, index, seq };
}
