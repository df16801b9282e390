// Reloads of the configuration, for whoever watches them (issue #12, F-EVENTS): the server tells of every
// configuration it applied and of every file it refused (the running configuration then stays in force).
import { EventEmitter } from 'node:events';
import type { ConfigError } from './errors.js';

export type ConfigEvent =
  /** A new configuration is in force. reason: 'file changed', 'SIGHUP', 'api' (an edit made through the API)… */
  | { type: 'reloaded'; reason: string; extensions: number }
  /** The file did not validate; nothing changed. */
  | { type: 'rejected'; reason: string; errors: ConfigError[] };

export class ConfigEvents extends EventEmitter<{ event: [ConfigEvent] }> {
  tell(e: ConfigEvent): void {
    this.emit('event', e);
  }
}
