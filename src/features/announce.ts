// A confirmation played in an answered call before hibiki hangs up (service codes): answer, play, BYE.
// The CDR row says the call was answered by hibiki, and who hung up.
import type { CallApi } from '../pbx/application.js';
import { ends } from '../pbx/call.js';
import type { Leg } from '../pbx/leg.js';

export async function answerWithPrompt(session: CallApi, leg: Leg, files: string[], reason: string): Promise<void> {
  const call = session.call;
  let hungUp = false;
  let stop: (() => void) | undefined;
  const mine = leg.take({
    label: 'confirmation',
    ended: (_l, end) => {
      stop?.();
      // A CANCEL before the answer (the stack has answered it 487) ends the attempt; the setting already took effect.
      if (end.cancelled) call.end(ends.cancelled(`${reason} (caller cancelled before the confirmation)`));
      else hungUp = true;
    },
  });
  if (!(await session.answer(mine))) return;
  call.markAnswered('hibiki');
  const h = session.play(mine, files);
  stop = () => h.stop();
  await h.done;
  if (!hungUp) session.drop(mine);
  call.end({ disposition: 'answered', hangupBy: hungUp ? 'caller' : 'system', q850: 16, sipStatus: 200, reason });
}
