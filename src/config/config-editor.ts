// Programmatic edits of the YAML config file (issue #12): the API and the CSV import change extensions and
// groups here, as `hibiki extension remove` does. The file is edited as a YAML document, so comments and the
// order of everything else survive; the result is validated in full and written atomically (temp file +
// rename) before the running server takes it. Every step is synchronous, so two edits in one process
// never interleave and neither is lost.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseDocument, type Document } from 'yaml';
import type { ConfigError } from './errors.js';
import { loadConfigText } from './load.js';
import type { HibikiConfig } from './schema.js';

/** Why an edit was not made: the HTTP status it maps to, the field it concerns, and the reason. */
export interface EditRefusal {
  status: 400 | 404 | 409;
  field?: string;
  message: string;
  /** Every problem, when the edit made the file invalid (the first is in field/message). */
  errors?: ConfigError[];
}

export type EditResult<T> = { ok: true; config: HibikiConfig; value: T } | { ok: false; refusal: EditRefusal };

/**
 * A mutation of the document: returns a value for the caller, or a refusal (nothing is written). `text` is
 * the file as read, which the document's node ranges point into (for line numbers in messages).
 */
export type DocumentEdit<T> = (doc: Document, text: string) => { value: T } | { refusal: EditRefusal };

export class ConfigEditor {
  constructor(
    private readonly file: string,
    /** Called with the new config once it is on disk (the server applies it at once, not at the watcher's next look). */
    private readonly onWritten: (config: HibikiConfig) => void,
  ) {}

  edit<T>(change: DocumentEdit<T>): EditResult<T> {
    // Another process (the CLI, an admin's editor) may write the file while this edit is computed: the edit
    // is made again on what is then on disk rather than overwriting it.
    for (let attempt = 1; ; attempt++) {
      const text = readFileSync(this.file, 'utf8');
      const doc = parseDocument(text);
      if (doc.errors.length > 0) return { ok: false, refusal: { status: 409, message: `${this.file} cannot be parsed: ${doc.errors[0]!.message}` } };
      const changed = change(doc, text);
      if ('refusal' in changed) return { ok: false, refusal: changed.refusal };
      const next = doc.toString();
      const check = loadConfigText(next, this.file);
      if (!check.ok) {
        const first = check.errors[0]!;
        return { ok: false, refusal: { status: 400, field: first.path, message: first.message, errors: check.errors } };
      }
      if (readFileSync(this.file, 'utf8') !== text) {
        if (attempt < 3) continue;
        return { ok: false, refusal: { status: 409, message: `${this.file} keeps changing under this edit; try again` } };
      }
      const tmp = `${this.file}.tmp-${process.pid}`;
      writeFileSync(tmp, next, 'utf8');
      renameSync(tmp, this.file);
      this.onWritten(check.config);
      return { ok: true, config: check.config, value: changed.value };
    }
  }
}
