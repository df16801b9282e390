// YAML schema of hot desk (F-HOTDESK): the per-extension `hotDesk` flag (a shared desk phone with no owner)
// and the tenant-wide `hotDesk:` settings. The login and logout codes live with the other service codes
// (serviceCodes.hotDeskLogin / hotDeskLogout) so the prefix-free check covers them.
import { z } from 'zod';
import { int } from './schema-kit.js';

const EXPIRES = 'expires is endOfDay or a number of hours (more than 0, up to 8760)';

/** Fields every extension gets (spread into the extension schema). */
export const hotDeskExtensionFields = {
  hotDesk: z
    .boolean()
    .default(false)
    .describe(
      'A hot-desk device (F-HOTDESK): a shared desk phone with no owner of its own. It registers with its own number and password; 998 + extension + PIN makes it ring for that extension and present it.',
    ),
};

export const hotDeskSettingsSchema = z
  .object({
    anyDevice: z.boolean().default(false).describe('Any registered device may take another extension with 998 + extension + PIN, not only those with hotDesk: true.'),
    expires: z
      .union([z.literal('endOfDay'), z.number().positive(EXPIRES).max(8760, EXPIRES)], { error: EXPIRES })
      .default('endOfDay')
      .describe('When a hot-desk login ends by itself: endOfDay (the next midnight in tenant.timezone) or a number of hours after the login.'),
    pinAttempts: int(3, 1, 10, 'Wrong PINs after which a hot-desk login call is refused; each wrong PIN counts towards blocking the source address (auth.ipFailures).'),
    digitTimeout: int(5, 1, 60, 'Seconds the login waits for the first (and each next) digit of the PIN.'),
  })
  .strict()
  .describe('Hot desk (F-HOTDESK): taking an extension to another phone with 998 + extension and its PIN (the voicemail PIN); 997 gives it back.');

export type HotDeskSettings = z.infer<typeof hotDeskSettingsSchema>;
