// Renders docs/configuration.md from the zod schema, so the reference can never drift from the code
// (one table per section, Kamailio-module style: key, type, default, range, meaning).
import { z } from 'zod';
import { configObjectSchema } from './schema.js';

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  minLength?: number;
  anyOf?: JsonSchema[];
  pattern?: string;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' | ');
  if (s.anyOf) return [...new Set(s.anyOf.map(typeOf))].join(' | ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}`;
  if (Array.isArray(s.type)) return s.type.join(' | ');
  return s.type ?? 'any';
}

function range(s: JsonSchema): string {
  if (s.minimum !== undefined || s.maximum !== undefined) return `${s.minimum ?? ''}–${s.maximum ?? ''}`;
  if (s.minItems) return `≥ ${s.minItems} item${s.minItems > 1 ? 's' : ''}`;
  return '';
}

function fmtDefault(s: JsonSchema, required: boolean): string {
  if (s.default !== undefined) {
    if (typeof s.default === 'object' && s.default !== null && Object.keys(s.default).length === 0) return '';
    return `\`${JSON.stringify(s.default)}\``;
  }
  return required ? '**required**' : '';
}

function cell(text: string | undefined): string {
  return (text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rows(prefix: string, schema: JsonSchema, out: string[]): void {
  const props = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  for (const [key, child] of Object.entries(props)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const nested = child.type === 'object' && child.properties;
    const listOfObjects = child.type === 'array' && child.items?.type === 'object' && child.items.properties;
    if (nested) {
      rows(path, child, out);
      continue;
    }
    if (listOfObjects && child.items) {
      rows(`${path}[]`, child.items, out);
      continue;
    }
    out.push(`| \`${path}\` | ${cell(typeOf(child))} | ${cell(fmtDefault(child, required.has(key)))} | ${cell(range(child))} | ${cell(child.description)} |`);
  }
}

export function renderConfigDocs(): string {
  const root = z.toJSONSchema(configObjectSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const lines: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'hibiki reads one YAML file (`hibiki --config FILE`; `npm start` uses `config/hibiki.yaml`).',
    'Unknown keys are errors. Every key below that has a default may be left out.',
    'Validate a file with `hibiki config check FILE`; errors are printed as `file:line: message`.',
    '',
  ];
  for (const [section, schema] of Object.entries(root.properties ?? {})) {
    const isList = schema.type === 'array';
    const body = isList ? (schema.items ?? {}) : schema;
    lines.push(`## \`${section}\``, '');
    if (schema.description) lines.push(schema.description, '');
    lines.push('| key | type | default | range | meaning |', '|---|---|---|---|---|');
    const out: string[] = [];
    if (body.properties) rows(isList ? `${section}[]` : section, body, out);
    else out.push(`| \`${section}\` | ${cell(typeOf(schema))} | ${cell(fmtDefault(schema, (root.required ?? []).includes(section)))} | ${cell(range(schema))} | ${cell(schema.description)} |`);
    lines.push(...out, '');
  }
  return lines.join('\n');
}
