// Running a config edit for a route (issue #12): the edit goes through the server's ConfigEditor (validated,
// written, applied at once); a refusal becomes the API error, with the loader's path into the file turned
// into the name of the request field it came from where there is one.
import type { DocumentEdit, EditRefusal } from '../config/config-editor.js';
import { configOfText } from '../config/extension-edit.js';
import type { Document } from 'yaml';
import type { HibikiConfig } from '../config/schema.js';
import type { ApiContext } from './context.js';
import { ApiError, refusalError } from './errors.js';

/** Maps a path in the YAML file (extensions[3].callerId) to the request field it concerns (callerId). */
export type FieldMap = (path: string) => string;

export const entryField =
  (section: string, others: Record<string, string> = {}): FieldMap =>
  (path) => {
    const own = new RegExp(`^${section}\\[\\d+\\]\\.([A-Za-z]+)`).exec(path);
    if (own) return own[1]!;
    for (const [prefix, field] of Object.entries(others)) if (path.startsWith(prefix)) return field;
    return path;
  };

export function writeConfig<T>(ctx: ApiContext, change: DocumentEdit<T>, fields: FieldMap): { config: HibikiConfig; value: T } {
  const editor = ctx.configEditor;
  if (!editor) throw new ApiError(409, 'this server was started without a config file the API may edit');
  const r = editor.edit(change);
  if (!r.ok) {
    const refusal = r.refusal.field !== undefined && r.refusal.status === 400 ? { ...r.refusal, field: fields(r.refusal.field) } : r.refusal;
    throw refusalError(refusal);
  }
  if (r.applyError !== undefined) ctx.logger.error({ err: r.applyError }, 'the API wrote the config file but the running server did not take it; the file watcher will retry');
  return { config: r.config, value: r.value };
}

/**
 * The common shape of an entry change: `change` edits the document, seeing the config the file holds now, and
 * answers a refusal or nothing. Returns the config in force after the write.
 */
export function writeChange(ctx: ApiContext, change: (doc: Document, config: HibikiConfig) => EditRefusal | undefined, fields: FieldMap): HibikiConfig {
  return writeConfig(
    ctx,
    (doc, text) => {
      const current = configOfText(text);
      if ('refusal' in current) return current;
      const refusal = change(doc, current.config);
      return refusal ? { refusal } : { value: null };
    },
    fields,
  ).config;
}
