// Small pieces every config schema module uses.
import { z } from 'zod';

/** Issue params understood by the loader: the path of the other entry in a clash, so both lines can be named. */
export interface ConflictParams {
  conflictWith: (string | number)[];
}

/** An integer setting with its default, range and description (the generated docs read all four). */
export function int(def: number, min: number, max: number, text: string) {
  return z.number().int().min(min).max(max).default(def).describe(text);
}

/** A zod refinement context, as schema.ts's superRefine gives it to the cross-checks of each section. */
export type IssueSink = { addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string; params?: ConflictParams }): void };

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Text that ends up in a SIP header (display names, prefixes): a line break would end the header and let the
 * value inject others, so control characters are refused.
 */
export function headerText() {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  return z.string().refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain control characters (line breaks, tabs)');
}
