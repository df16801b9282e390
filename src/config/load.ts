// Reads a YAML config file, validates it against the schema and maps every problem back to a file line.
// All errors are collected in one pass so an admin fixes a file once, not once per error (F-RELOAD).
import { readFileSync } from 'node:fs';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, YAMLError } from 'yaml';
import type { z } from 'zod';
import type { ConfigError } from './errors.js';
import { configSchema } from './schema.js';
import type { ConflictParams, HibikiConfig } from './schema.js';

export type ConfigLoadResult = { ok: true; config: HibikiConfig; warnings: ConfigError[] } | { ok: false; errors: ConfigError[] };

type PathSegment = string | number;

/** Bounds the work a hostile "billion laughs" file can cause through alias expansion. */
const maxAliasCount = 100;

export function loadConfigFile(path: string): ConfigLoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, errors: [{ file: path, line: 1, message: `cannot read the file: ${errorMessage(err)}` }] };
  }
  return loadConfigText(text, path);
}

export function loadConfigText(text: string, fileName: string): ConfigLoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const locator = new NodeLocator(doc, lineCounter, fileName);

  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map((e) => yamlProblem(e, fileName)) };
  }
  const warnings = doc.warnings.map((w) => yamlProblem(w, fileName));

  keepExtensionNumbersAsWritten(doc);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount });
  } catch (err) {
    return { ok: false, errors: [{ file: fileName, line: 1, message: errorMessage(err) }] };
  }
  if (data === null || data === undefined) {
    return { ok: false, errors: [{ file: fileName, line: 1, message: 'the file is empty; at least tenant and listen are required' }] };
  }

  let parsed: ReturnType<typeof configSchema.safeParse>;
  try {
    parsed = configSchema.safeParse(data);
  } catch (err) {
    // A validator bug must not take the server down on reload; report it like any other problem.
    return { ok: false, errors: [{ file: fileName, line: 1, message: `internal validation error: ${errorMessage(err)}` }] };
  }
  if (!parsed.success) {
    const errors = parsed.error.issues.flatMap((issue) => locator.describeIssue(issue));
    errors.sort((a, b) => a.line - b.line);
    return { ok: false, errors };
  }
  warnings.push(...semanticWarnings(parsed.data, locator));
  return { ok: true, config: parsed.data, warnings };
}

function yamlProblem(e: YAMLError, fileName: string): ConfigError {
  const pos = e.linePos?.[0];
  // prettyErrors appends " at line N, column M:" and a source excerpt; file:line already says where.
  const message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  const out: ConfigError = { file: fileName, line: pos?.line ?? 1, message };
  if (pos) out.column = pos.col;
  return out;
}

/**
 * YAML reads `number: 02001` as the integer 2001, silently dropping the leading zero. Feeding the
 * schema the text as written makes such a number fail the "first digit 2–9" rule instead.
 */
function keepExtensionNumbersAsWritten(doc: Document.Parsed): void {
  const list = doc.get('extensions', true);
  if (!isSeq(list)) return;
  for (const item of list.items) {
    if (!isMap(item)) continue;
    const num = item.get('number', true);
    if (isScalar(num) && typeof num.value === 'number' && typeof num.source === 'string') num.value = num.source;
  }
}

function semanticWarnings(config: HibikiConfig, locator: NodeLocator): ConfigError[] {
  const out: ConfigError[] = [];
  config.extensions.forEach((ext, i) => {
    const pw = ext.password;
    let why: string | undefined;
    if (pw.startsWith('change-me')) why = 'is a placeholder';
    else if (pw === ext.number) why = 'equals the extension number';
    else if (pw.length < 8) why = 'is shorter than 8 characters';
    if (why) out.push(locator.at(['extensions', i, 'password'], `extension ${ext.number}: the password ${why}; set a strong one`));
  });
  config.listen.forEach((l, i) => {
    if (l.transport !== 'tls' && l.transport !== 'wss' && (l.cert !== undefined || l.key !== undefined)) {
      out.push(locator.at(['listen', i], `cert/key are ignored for ${l.transport}`));
    }
  });
  return out;
}

interface Located {
  line: number;
  column: number;
  /** False when the path leads to a key the file does not have. */
  found: boolean;
}

/** Maps schema paths to positions in the parsed YAML document. */
class NodeLocator {
  constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
    private readonly fileName: string,
  ) {}

  at(path: PathSegment[], message: string): ConfigError {
    const loc = this.locate(path);
    return { file: this.fileName, line: loc.line, column: loc.column, message, path: formatPath(path) };
  }

  describeIssue(issue: z.core.$ZodIssue): ConfigError[] {
    const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const where = path.length > 0 ? ` in ${formatPath(path)}` : '';
      return issue.keys.map((key) => this.at([...path, key], `unknown key "${key}"${where}`));
    }
    const loc = this.locate(path);
    const prefix = path.length > 0 ? `${formatPath(path)}: ` : '';
    let message = `${prefix}${issue.message.replace(/^Invalid input: /, '')}`;
    if (!loc.found && issue.code === 'invalid_type') {
      message = `${prefix}required key is missing`;
    } else if (issue.code === 'custom' && isConflictParams(issue.params)) {
      const other = this.locate(issue.params.conflictWith);
      message += ` (also at line ${other.line}, ${formatPath(issue.params.conflictWith)})`;
    }
    return [{ file: this.fileName, line: loc.line, column: loc.column, message, path: formatPath(path) }];
  }

  /**
   * Walks the path through maps and sequences. A map key resolves to the key's own line (what an
   * admin looks for); a missing key resolves to the map that should hold it.
   */
  locate(path: PathSegment[]): Located {
    let node: unknown = this.doc.contents;
    let pos = this.position(node) ?? { line: 1, column: 1 };
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return { ...pos, found: false };
        pos = this.position(pair.key) ?? pos;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        if (node === undefined) return { ...pos, found: false };
        pos = this.position(node) ?? pos;
      } else {
        return { ...pos, found: false };
      }
    }
    return { ...pos, found: true };
  }

  private position(node: unknown): { line: number; column: number } | undefined {
    if (!isNode(node)) return undefined;
    const range = (node as YamlNode).range;
    if (!range) return undefined;
    const { line, col } = this.lines.linePos(range[0]);
    return { line, column: col };
  }
}

function isConflictParams(p: unknown): p is ConflictParams {
  return typeof p === 'object' && p !== null && Array.isArray((p as ConflictParams).conflictWith);
}

function formatPath(path: PathSegment[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
