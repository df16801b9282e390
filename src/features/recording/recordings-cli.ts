// `hibiki recordings list|export`: the recorded calls, from the CDR rows that name a recording, and a copy
// of one call's WAV. cli.ts only parses the arguments.
import { copyFileSync, existsSync } from 'node:fs';
import type { CdrStore } from '../../store/cdr-store.js';

export class RecordingCommandError extends Error {}

/** Tab-separated lines: call id, linked id, started at, caller, callee, billsec, recording path (oldest first). */
export function listRecordings(cdr: CdrStore, range: { from?: Date; to?: Date }): string[] {
  const lines: string[] = [];
  for (const row of cdr.iterateRows(range)) {
    if (row.recording_path === null) continue;
    lines.push([row.call_id, row.linked_id, row.started_at, row.caller_number ?? '', row.callee_number ?? '', String(row.billsec ?? 0), row.recording_path].join('\t'));
  }
  return lines;
}

/** Copies the recording of the call `id` (its CDR call_id or linked_id) to `file`; returns the source path. */
export function exportRecording(cdr: CdrStore, id: string, file: string): string {
  let path: string | undefined;
  for (const row of cdr.iterateRows({})) {
    if (row.recording_path !== null && (row.call_id === id || row.linked_id === id)) path = row.recording_path;
  }
  if (path === undefined) throw new RecordingCommandError(`no recording for call ${id}`);
  if (!existsSync(path)) throw new RecordingCommandError(`the recording of call ${id} is gone (purged?): ${path}`);
  copyFileSync(path, file);
  return path;
}
