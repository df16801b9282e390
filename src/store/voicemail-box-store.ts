// Per-box settings a box owner changes by phone (F-VM): the PIN and the recorded greeting. The YAML holds
// what the admin set; a row here overrides the PIN only while the YAML PIN is still the one it replaced
// ("last edit wins", as forwarding does), so an admin can always reset a forgotten PIN in the YAML.
import type { Database } from 'better-sqlite3';

interface Row {
  pin: string | null;
  admin_pin: string | null;
  greeting: number;
}

export class VoicemailBoxStore {
  constructor(private readonly db: Database) {}

  /** The PIN in force: the one set by phone while the YAML still has the PIN it replaced, else the YAML's. */
  pin(box: string, configured: string | undefined): string | undefined {
    const r = this.row(box);
    if (r?.pin != null && (r.admin_pin ?? '') === (configured ?? '')) return r.pin;
    return configured;
  }

  setPin(box: string, pin: string, configured: string | undefined, now: number): void {
    this.db
      .prepare(
        `INSERT INTO voicemail_boxes (box, pin, admin_pin, greeting, updated_at) VALUES (?, ?, ?, 0, ?)
         ON CONFLICT (box) DO UPDATE SET pin = excluded.pin, admin_pin = excluded.admin_pin, updated_at = excluded.updated_at`,
      )
      .run(box, pin, configured ?? '', now);
  }

  hasGreeting(box: string): boolean {
    return this.row(box)?.greeting === 1;
  }

  setGreeting(box: string, on: boolean, now: number): void {
    this.db
      .prepare(
        `INSERT INTO voicemail_boxes (box, pin, admin_pin, greeting, updated_at) VALUES (?, NULL, NULL, ?, ?)
         ON CONFLICT (box) DO UPDATE SET greeting = excluded.greeting, updated_at = excluded.updated_at`,
      )
      .run(box, on ? 1 : 0, now);
  }

  private row(box: string): Row | undefined {
    return this.db.prepare('SELECT pin, admin_pin, greeting FROM voicemail_boxes WHERE box = ?').get(box) as Row | undefined;
  }
}
