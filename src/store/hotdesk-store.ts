// Hot-desk logins (F-HOTDESK) as rows: written by the server's login and logout codes, read on every ring
// and call from a device, and listed or ended by the CLI (another process), so no row is cached. The
// statements are prepared once: compiling the SQL cost more than running it, on every ring.
import type { Database, Statement } from 'better-sqlite3';

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

const COLUMNS = 'device, extension, since, expires';

export class HotDeskStore {
  private readonly previousStmt: Statement<[string, string], { device: string }>;
  private readonly clearStmt: Statement<[string, string]>;
  private readonly insertStmt: Statement<[string, string, number, number]>;
  private readonly logoutDeviceStmt: Statement<[string], Row>;
  private readonly logoutNumberStmt: Statement<[string, string], Row>;
  private readonly byDeviceStmt: Statement<[string], Row>;
  private readonly byExtensionStmt: Statement<[string], Row>;
  private readonly listStmt: Statement<[], Row>;
  private readonly purgeStmt: Statement<[number], Row>;

  constructor(private readonly db: Database) {
    this.previousStmt = db.prepare('SELECT device FROM hotdesk_logins WHERE extension = ? AND device <> ?');
    this.clearStmt = db.prepare('DELETE FROM hotdesk_logins WHERE extension = ? OR device = ?');
    this.insertStmt = db.prepare('INSERT INTO hotdesk_logins (device, extension, since, expires) VALUES (?, ?, ?, ?)');
    this.logoutDeviceStmt = db.prepare(`DELETE FROM hotdesk_logins WHERE device = ? RETURNING ${COLUMNS}`);
    this.logoutNumberStmt = db.prepare(`DELETE FROM hotdesk_logins WHERE extension = ? OR device = ? RETURNING ${COLUMNS}`);
    this.byDeviceStmt = db.prepare(`SELECT ${COLUMNS} FROM hotdesk_logins WHERE device = ?`);
    this.byExtensionStmt = db.prepare(`SELECT ${COLUMNS} FROM hotdesk_logins WHERE extension = ?`);
    this.listStmt = db.prepare(`SELECT ${COLUMNS} FROM hotdesk_logins ORDER BY extension`);
    this.purgeStmt = db.prepare(`DELETE FROM hotdesk_logins WHERE expires <= ? RETURNING ${COLUMNS}`);
  }

  /**
   * `device` takes `extension`: a login of that extension on another device, and the device's own earlier
   * login, end in the same transaction (one device per extension, one extension per device). Returns the
   * device the extension was moved from, if any.
   */
  login(l: HotDeskLogin): string | undefined {
    return this.db.transaction(() => {
      const previous = this.previousStmt.get(l.extension, l.device);
      this.clearStmt.run(l.extension, l.device);
      this.insertStmt.run(l.device, l.extension, l.since, l.expires);
      return previous?.device;
    })();
  }

  /** End the login of a device; the login ended, or undefined when there was none. */
  logoutDevice(device: string): HotDeskLogin | undefined {
    return this.logoutDeviceStmt.get(device);
  }

  /** End whatever login holds `number`, as the extension taken or as the device (the CLI's logout). */
  logoutNumber(number: string): HotDeskLogin[] {
    return this.logoutNumberStmt.all(number, number);
  }

  byDevice(device: string): HotDeskLogin | undefined {
    return this.byDeviceStmt.get(device);
  }

  byExtension(extension: string): HotDeskLogin | undefined {
    return this.byExtensionStmt.get(extension);
  }

  list(): HotDeskLogin[] {
    return this.listStmt.all();
  }

  /** Delete the logins expired at `now`; the ones deleted. */
  purge(now: number): HotDeskLogin[] {
    return this.purgeStmt.all(now);
  }
}
