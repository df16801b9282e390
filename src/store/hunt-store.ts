// Round-robin position of each hunt group (F-HUNT): the member tried first on the group's last call, kept in
// SQLite (hunt_state) so it survives reloads and restarts.
import type { Database, Statement } from 'better-sqlite3';

export class HuntStore {
  private readonly getFirst: Statement<[string], { last_first: string }>;
  private readonly putFirst: Statement<[string, string, number]>;

  constructor(db: Database) {
    this.getFirst = db.prepare('SELECT last_first FROM hunt_state WHERE group_number = ?');
    this.putFirst = db.prepare(
      'INSERT INTO hunt_state (group_number, last_first, updated_at) VALUES (?, ?, ?) ON CONFLICT(group_number) DO UPDATE SET last_first = excluded.last_first, updated_at = excluded.updated_at',
    );
  }

  /** The member tried first on the group's last call, if any. */
  lastFirst(group: string): string | undefined {
    return this.getFirst.get(group)?.last_first;
  }

  setLastFirst(group: string, member: string, at: number): void {
    this.putFirst.run(group, member, at);
  }
}
