// Hunt order of a group (F-HUNT): which available member is tried first, by strategy. Round-robin
// position is kept in SQLite (hunt_state) so it survives reloads and restarts; least-recent keeps the
// end time of each member's last group call in memory (a restart starts everyone equal).
import type { GroupConfig } from '../pbx/router.js';
import type { HuntStore } from '../store/hunt-store.js';

export class HuntGroups {
  /** group number → member → epoch ms when its last call through the group ended. */
  private lastEnded = new Map<string, Map<string, number>>();

  constructor(
    private readonly store: HuntStore,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * The members to try, in order. `available` is the subset of group.members that may ring now; the
   * result keeps only those. Round-robin starts after the member tried first on the previous call.
   */
  order(group: GroupConfig, available: ReadonlySet<string>): string[] {
    const members = group.members;
    switch (group.strategy) {
      case 'ringall':
      case 'sequential':
        return members.filter((m) => available.has(m));
      case 'roundrobin': {
        const last = this.store.lastFirst(group.number);
        const at = last === undefined ? -1 : members.indexOf(last);
        const rotated = [...members.slice(at + 1), ...members.slice(0, at + 1)];
        return rotated.filter((m) => available.has(m));
      }
      case 'random': {
        const list = members.filter((m) => available.has(m));
        for (let i = list.length - 1; i > 0; i--) {
          const j = Math.floor(this.random() * (i + 1));
          [list[i], list[j]] = [list[j]!, list[i]!];
        }
        return list;
      }
      case 'leastrecent': {
        const ended = this.lastEnded.get(group.number);
        const list = members.filter((m) => available.has(m));
        // Stable sort: members never called keep their list order, ahead of everyone who was.
        return list.sort((a, b) => (ended?.get(a) ?? 0) - (ended?.get(b) ?? 0));
      }
    }
  }

  /** The member tried first on this call (round-robin continues after it next time). */
  triedFirst(group: GroupConfig, member: string, now: number): void {
    if (group.strategy === 'roundrobin') this.store.setLastFirst(group.number, member, now);
  }

  /** A call the member answered through the group has ended (least-recent order). */
  callEnded(group: GroupConfig, member: string, at: number): void {
    let m = this.lastEnded.get(group.number);
    if (!m) this.lastEnded.set(group.number, (m = new Map()));
    m.set(member, at);
  }
}
