// Programmatic edits of the YAML config file (issue #12): the API and the CSV import change extensions and
// groups here, as `hibiki extension remove` does. The file is edited as a YAML document, so comments and the
// order of everything else survive; the result is validated in full and written atomically (temp file +
// rename) before the running server takes it. Every step is synchronous, so two edits in one process
// never interleave and neither is lost.
import { chownSync, closeSync, fsyncSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { parseDocument, type Document } from 'yaml';
import type { ConfigError } from './errors.js';
import { loadConfigText } from './load.js';
import type { HibikiConfig } from './schema.js';

/** Why an edit was not made: the HTTP status it maps to, the field it concerns, and the reason. */
export interface EditRefusal {
  status: 400 | 404 | 409 | 503;
  field?: string;
  message: string;
  /** Every problem, when the edit made the file invalid (the first is in field/message). */
  errors?: ConfigError[];
}

export type EditResult<T> = { ok: true; config: HibikiConfig; value: T; /** Set when the running server failed to take the new file. */ applyError?: string } | { ok: false; refusal: EditRefusal };

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
      const written = writeReplacing(this.file, next);
      if (written !== undefined) return { ok: false, refusal: { status: 503, message: `${this.file} could not be written: ${written}` } };
      try {
        this.onWritten(check.config);
      } catch (err) {
        // The file is valid and on disk; the watcher's reload of it is the second chance.
        return { ok: true, config: check.config, value: changed.value, applyError: err instanceof Error ? err.message : String(err) };
      }
      return { ok: true, config: check.config, value: changed.value };
    }
  }
}

/**
 * Replaces `file` atomically with `text`: a temp file beside the real file (a symlinked config keeps its link),
 * with the original's mode and owner (the file holds SIP passwords: an edit must not make it world-readable),
 * flushed before the rename. Returns the reason when it cannot, leaving the original untouched.
 */
export function writeReplacing(file: string, text: string): string | undefined {
  let target: string;
  let mode: number;
  let owner: { uid: number; gid: number } | undefined;
  try {
    target = realpathSync(file);
    const st = statSync(target);
    mode = st.mode & 0o7777;
    owner = { uid: st.uid, gid: st.gid };
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      chownSync(tmp, owner.uid, owner.gid);
    } catch {
      // Only root may give a file away; anyone else's temp file already has their own owner.
    }
    renameSync(tmp, target);
    return undefined;
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // Nothing was created.
    }
    return err instanceof Error ? err.message : String(err);
  }
}
