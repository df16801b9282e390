// One pino logger for the process; call handling code derives children carrying callId.
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger };

export function createLogger(level: LevelWithSilent = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: 'hibiki' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A logger that discards everything, for library use without a configured logger. */
export const silentLogger: Logger = pino({ level: 'silent' });
