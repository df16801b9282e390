// Hot-desk logins (F-HOTDESK) as rows: written by the server's login and logout codes, read on every ring
// and call from a device, and listed or ended by the CLI (another process), so nothing is cached.
import type { Database } from 'better-sqlite3';

export interface HotDeskLogin {
  /** The hot-desk device's own extension (its SIP username). */
  device: string;
  /** The extension it has taken. */
  extension: string;
  /** Epoch ms. */
  since: number;
  expires: number;
}

interface Row {
  device: string;
  extension: string;
  since: number;
  expires: number;
}

export class HotDeskStore {
  constructor(private readonly db: Database) {}

  /**
   * `device` takes `extension`: a login of that extension on another device, and the device's own earlier
   * login, end in the same transaction (one device per extension, one extension per device). Returns the
   * device the extension was moved from, if any.
   */
  login(l: HotDeskLogin): string | undefined {
    return this.db.transaction(() => {
      const previous = this.db.prepare('SELECT device FROM hotdesk_logins WHERE extension = ? AND device <> ?').get(l.extension, l.device) as { device: string } | undefined;
      this.db.prepare('DELETE FROM hotdesk_logins WHERE extension = ? OR device = ?').run(l.extension, l.device);
      this.db.prepare('INSERT INTO hotdesk_logins (device, extension, since, expires) VALUES (?, ?, ?, ?)').run(l.device, l.extension, l.since, l.expires);
      return previous?.device;
    })();
  }

  /** End the login of a device; the login ended, or undefined when there was none. */
  logoutDevice(device: string): HotDeskLogin | undefined {
    const row = this.db.prepare('DELETE FROM hotdesk_logins WHERE device = ? RETURNING device, extension, since, expires').get(device) as Row | undefined;
    return row;
  }

  /** End whatever login holds `number`, as the extension taken or as the device (the CLI's logout). */
  logoutNumber(number: string): HotDeskLogin[] {
    return this.db.prepare('DELETE FROM hotdesk_logins WHERE extension = ? OR device = ? RETURNING device, extension, since, expires').all(number, number) as Row[];
  }

  byDevice(device: string): HotDeskLogin | undefined {
    return this.db.prepare('SELECT device, extension, since, expires FROM hotdesk_logins WHERE device = ?').get(device) as Row | undefined;
  }

  byExtension(extension: string): HotDeskLogin | undefined {
    return this.db.prepare('SELECT device, extension, since, expires FROM hotdesk_logins WHERE extension = ?').get(extension) as Row | undefined;
  }

  list(): HotDeskLogin[] {
    return this.db.prepare('SELECT device, extension, since, expires FROM hotdesk_logins ORDER BY extension').all() as Row[];
  }

  /** Delete the logins expired at `now`; the ones deleted. */
  purge(now: number): HotDeskLogin[] {
    return this.db.prepare('DELETE FROM hotdesk_logins WHERE expires <= ? RETURNING device, extension, since, expires').all(now) as Row[];
  }
}
