// Counts, dates and times spoken by concatenating prompts (F-VM, F-AUDIO): "you have 2 new messages and 1
// saved message", "message from 2-0-0-1, received December 2 at 14 35". English and Japanese order the parts
// differently and Japanese reads days and hours irregularly (ついたち, よじ), so each language has its own
// sentence builder over its own prompt names.
import type { PromptCatalogue, PromptLanguage, PromptName } from '../../media/prompts.js';

type Say = (name: PromptName) => string;

function sayer(prompts: PromptCatalogue, lang: PromptLanguage): Say {
  return (name) => prompts.file(name, lang);
}

/** A number as words: 0–99 from number prompts, larger ones digit by digit. */
export function numberFiles(prompts: PromptCatalogue, lang: PromptLanguage, n: number): string[] {
  const say = sayer(prompts, lang);
  if (!Number.isInteger(n) || n < 0 || n >= 100) return prompts.digits(String(Math.max(0, Math.trunc(n))), lang);
  if (n < 10) return [say(String(n) as PromptName)];
  if (n < 20) return [say(`vm-n-${n}` as PromptName)];
  const tens = say(`vm-n-${n - (n % 10)}` as PromptName);
  return n % 10 === 0 ? [tens] : [tens, say(String(n % 10) as PromptName)];
}

/** "You have N new message(s) and M saved message(s)" / "あたらしい メッセージが N けん、ほぞんされた メッセージが M けん あります". */
export function countFiles(prompts: PromptCatalogue, lang: PromptLanguage, counts: { new: number; saved: number }): string[] {
  const say = sayer(prompts, lang);
  const num = (n: number) => numberFiles(prompts, lang, n);
  if (lang === 'ja') {
    return [say('vm-new-count'), ...num(counts.new), say('vm-ken'), say('vm-saved-count'), ...num(counts.saved), say('vm-ken'), say('vm-arimasu')];
  }
  return [
    say('vm-you-have'),
    ...num(counts.new),
    say(counts.new === 1 ? 'vm-new-message' : 'vm-new-messages'),
    say('vm-and'),
    ...num(counts.saved),
    say(counts.saved === 1 ? 'vm-saved-message' : 'vm-saved-messages'),
  ];
}

/** The wall-clock parts of a time in the tenant's time zone. */
function parts(at: number, timeZone: string): { month: number; day: number; hour: number; minute: number } {
  const f = new Intl.DateTimeFormat('en-US', { timeZone, month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' });
  const get = (type: string) => Number(f.formatToParts(at).find((p) => p.type === type)?.value ?? 0);
  return { month: get('month'), day: get('day'), hour: get('hour') % 24, minute: get('minute') };
}

/** Who left a message and when, said before it plays. */
export function envelopeFiles(prompts: PromptCatalogue, lang: PromptLanguage, m: { receivedAt: number; callerNumber: string }, timeZone: string): string[] {
  const say = sayer(prompts, lang);
  const num = (n: number) => numberFiles(prompts, lang, n);
  const t = parts(m.receivedAt, timeZone);
  const caller = /^[0-9]+$/.test(m.callerNumber) ? prompts.digits(m.callerNumber, lang) : [say('vm-unknown-caller')];
  if (lang === 'ja') {
    const minutes = t.minute === 0 ? [] : [...num(t.minute), say('vm-minute')];
    return [say(`vm-month-${t.month}` as PromptName), say(`vm-day-${t.day}` as PromptName), say(`vm-hour-${t.hour}` as PromptName), ...minutes, ...caller, say('vm-from-after')];
  }
  const minutes = t.minute === 0 ? [say('vm-oclock')] : t.minute < 10 ? [say('vm-oh'), ...num(t.minute)] : num(t.minute);
  return [say('vm-message-from'), ...caller, say('vm-received'), say(`vm-month-${t.month}` as PromptName), ...num(t.day), say('vm-at'), ...num(t.hour), ...minutes];
}
