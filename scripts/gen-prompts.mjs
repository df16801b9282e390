#!/usr/bin/env node
// Generates the shipped prompt sets and the default music on hold (F-AUDIO) as 8000 Hz mono 16-bit PCM WAV:
//   prompts/ja/*.wav, prompts/en/*.wav  spoken prompts, from Debian espeak-ng (GPL-3 program; its output is ours)
//   prompts/tones/*.wav                 call-progress tones, synthesised here
//   moh/default/*.wav                   a short melody, synthesised here
// Deterministic: the same espeak-ng version gives byte-identical files, so re-running it changes nothing.
// The WAVs are committed; only whoever changes a prompt needs espeak-ng (apt-get install espeak-ng).
// Usage: node scripts/gen-prompts.mjs [--only-synth]   (--only-synth: tones and MOH only, no espeak-ng needed)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RATE = 8000;

// Japanese is written in kana: espeak-ng's ja voice reads kana but not kanji. The topic particle は is written
// わ because espeak-ng reads it literally as "ha". English and Japanese both put `parked-at` before the slot
// digits, so a feature plays [parked-at, ...digits] whatever the caller's language.
const SPOKEN = {
  ja: {
    voice: 'ja',
    speed: 150,
    text: {
      0: 'ぜろ',
      1: 'いち',
      2: 'に',
      3: 'さん',
      4: 'よん',
      5: 'ご',
      6: 'ろく',
      7: 'なな',
      8: 'はち',
      9: 'きゅう',
      'parked-at': 'つうわを、ちゅうしゃしました。ばんごうわ',
      'not-available': 'おかけになった ばんごうわ、げんざい つかわれておりません',
      'transfer-failed': 'てんそう できませんでした',
      'invalid-code': 'むこうな ばんごうです',
      'park-empty': 'その ばんごうに、ちゅうしゃちゅうの つうわわ ありません',
      'park-full': 'ちゅうしゃばしょが、すべて しようちゅうです',
      'setting-done': 'せってい しました',
      'please-try-again': 'もういちど、おためしください',
      'setting-cancelled': 'かいじょ しました',
      'forward-invalid': 'その ばんごうにわ、てんそう できません',
      'pickup-none': 'おうとう できる ちゃくしんわ ありません',
      'anonymous-rejected': 'でんわばんごうを つうちして おかけなおし ください',
      'call-barred': 'この ばんごうにわ、おかけ に なれません',
    },
  },
  en: {
    voice: 'en-us',
    speed: 150,
    text: {
      0: 'zero',
      1: 'one',
      2: 'two',
      3: 'three',
      4: 'four',
      5: 'five',
      6: 'six',
      7: 'seven',
      8: 'eight',
      9: 'nine',
      'parked-at': 'Call parked at',
      'not-available': 'The number is not available.',
      'transfer-failed': 'The transfer failed.',
      'invalid-code': 'Invalid code.',
      'park-empty': 'There is no call parked there.',
      'park-full': 'All park slots are in use.',
      'setting-done': 'Your setting has been saved.',
      'please-try-again': 'Please try again.',
      'setting-cancelled': 'Your setting has been cancelled.',
      'forward-invalid': 'Calls cannot be forwarded to that number.',
      'pickup-none': 'There is no call to pick up.',
      'anonymous-rejected': 'Please call again with your number displayed.',
      'call-barred': 'Calls to this number are not allowed.',
    },
  },
};

// ---------- IVR prompts (F-IVR, issue #10) ----------
// Kept in a block of their own, merged into SPOKEN below. ivr-welcome is a sample menu greeting for the
// default configuration; sites record their own greeting under another name or as a WAV file.
const IVR_SPOKEN = {
  ja: {
    'ivr-welcome': 'おでんわ ありがとうございます。ひびきです。えいぎょうわ いちを、サポートわ にを、おしください',
    'ivr-invalid': 'にゅうりょく された ばんごうわ、むこうです',
    'ivr-no-input': 'にゅうりょくが、かくにん できませんでした',
    'ivr-goodbye': 'おでんわ ありがとう ございました。しつれい いたします',
    'ivr-closed': 'ただいまの じかんわ、えいぎょう じかんがいです。えいぎょう じかんないに、おかけなおし ください',
  },
  en: {
    'ivr-welcome': 'Thank you for calling hibiki. For sales, press 1. For support, press 2.',
    'ivr-invalid': 'That is not a valid choice.',
    'ivr-no-input': 'We did not receive your choice.',
    'ivr-goodbye': 'Thank you for calling. Goodbye.',
    'ivr-closed': 'Our office is closed now. Please call again during business hours.',
  },
};
for (const [language, prompts] of Object.entries(IVR_SPOKEN)) Object.assign(SPOKEN[language].text, prompts);
// ---------- voicemail prompts (F-VM; keep IVR and other features' prompts in blocks of their own) ----------
// Counts, dates and times are spoken by concatenation (features/voicemail/speech.ts): number words up to 99,
// month names; Japanese also the day (ついたち…) and hour (れいじ…) readings, which are irregular. Some names
// exist in one language only because the two build the sentences differently.
const VOICEMAIL = {
  ja: {
    'vm-greeting-before': 'こちらわ',
    'vm-greeting-after': 'ばんの るすばんでんわです。ただいま でんわに でることが できません',
    'vm-leave-message': 'はっしんおんの あとに メッセージを おはなしください。おわりましたら でんわを きるか、シャープを おしてください',
    'vm-thank-you': 'ありがとうございます',
    'vm-box-full': 'ただいま メッセージを おあずかり できません',
    'vm-enter-box': 'メールボックスの ばんごうを おして、さいごに シャープを おしてください',
    'vm-enter-pin': 'あんしょうばんごうを おして、さいごに シャープを おしてください',
    'vm-wrong-pin': 'あんしょうばんごうが ちがいます',
    'vm-goodbye': 'しつれいします',
    'vm-no-messages': 'メッセージわ ありません',
    'vm-unknown-caller': 'ばんごう ひつうちの',
    'vm-message-menu': 'もういちど きくにわ ご、けすにわ なな、ほぞんするにわ きゅう、つぎわ ろく、まえわ よん、しゅうりょうわ シャープを おしてください',
    'vm-main-menu': 'メッセージを きくにわ いち、おうとうメッセージの ろくおんわ はち、あんしょうばんごうの へんこうわ ぜろ、しゅうりょうわ シャープを おしてください',
    'vm-deleted': 'メッセージを さくじょ しました',
    'vm-saved': 'メッセージを ほぞん しました',
    'vm-no-more': 'メッセージわ いじょうです',
    'vm-record-greeting': 'はっしんおんの あとに おうとうメッセージを おはなしください。おわりましたら シャープを おしてください',
    'vm-greeting-saved': 'おうとうメッセージを ほぞん しました',
    'vm-new-pin': 'あたらしい あんしょうばんごうを おして、さいごに シャープを おしてください',
    'vm-reenter-pin': 'もういちど おなじ あんしょうばんごうを おして、シャープを おしてください',
    'vm-pin-invalid': 'その あんしょうばんごうわ つかえません。よんけたから はちけたで、れんぞくした すうじや おなじ すうじが よっつ いじょう ならばない ばんごうに してください',
    'vm-pin-mismatch': 'あんしょうばんごうが いっち しません',
    'vm-pin-changed': 'あんしょうばんごうを へんこう しました',
    'vm-invalid-box': 'その メールボックスわ ありません',
    'vm-new-count': 'あたらしい メッセージが',
    'vm-saved-count': 'ほぞんされた メッセージが',
    'vm-ken': 'けん',
    'vm-arimasu': 'あります',
    'vm-from-after': 'からの メッセージです',
    'vm-minute': 'ふん',
    'vm-n-10': 'じゅう',
    'vm-n-11': 'じゅういち',
    'vm-n-12': 'じゅうに',
    'vm-n-13': 'じゅうさん',
    'vm-n-14': 'じゅうよん',
    'vm-n-15': 'じゅうご',
    'vm-n-16': 'じゅうろく',
    'vm-n-17': 'じゅうなな',
    'vm-n-18': 'じゅうはち',
    'vm-n-19': 'じゅうきゅう',
    'vm-n-20': 'にじゅう',
    'vm-n-30': 'さんじゅう',
    'vm-n-40': 'よんじゅう',
    'vm-n-50': 'ごじゅう',
    'vm-n-60': 'ろくじゅう',
    'vm-n-70': 'ななじゅう',
    'vm-n-80': 'はちじゅう',
    'vm-n-90': 'きゅうじゅう',
    'vm-month-1': 'いちがつ',
    'vm-month-2': 'にがつ',
    'vm-month-3': 'さんがつ',
    'vm-month-4': 'しがつ',
    'vm-month-5': 'ごがつ',
    'vm-month-6': 'ろくがつ',
    'vm-month-7': 'しちがつ',
    'vm-month-8': 'はちがつ',
    'vm-month-9': 'くがつ',
    'vm-month-10': 'じゅうがつ',
    'vm-month-11': 'じゅういちがつ',
    'vm-month-12': 'じゅうにがつ',
    'vm-day-1': 'ついたち',
    'vm-day-2': 'ふつか',
    'vm-day-3': 'みっか',
    'vm-day-4': 'よっか',
    'vm-day-5': 'いつか',
    'vm-day-6': 'むいか',
    'vm-day-7': 'なのか',
    'vm-day-8': 'ようか',
    'vm-day-9': 'ここのか',
    'vm-day-10': 'とおか',
    'vm-day-11': 'じゅういちにち',
    'vm-day-12': 'じゅうににち',
    'vm-day-13': 'じゅうさんにち',
    'vm-day-14': 'じゅうよっか',
    'vm-day-15': 'じゅうごにち',
    'vm-day-16': 'じゅうろくにち',
    'vm-day-17': 'じゅうしちにち',
    'vm-day-18': 'じゅうはちにち',
    'vm-day-19': 'じゅうくにち',
    'vm-day-20': 'はつか',
    'vm-day-21': 'にじゅういちにち',
    'vm-day-22': 'にじゅうににち',
    'vm-day-23': 'にじゅうさんにち',
    'vm-day-24': 'にじゅうよっか',
    'vm-day-25': 'にじゅうごにち',
    'vm-day-26': 'にじゅうろくにち',
    'vm-day-27': 'にじゅうしちにち',
    'vm-day-28': 'にじゅうはちにち',
    'vm-day-29': 'にじゅうくにち',
    'vm-day-30': 'さんじゅうにち',
    'vm-day-31': 'さんじゅういちにち',
    'vm-hour-0': 'れいじ',
    'vm-hour-1': 'いちじ',
    'vm-hour-2': 'にじ',
    'vm-hour-3': 'さんじ',
    'vm-hour-4': 'よじ',
    'vm-hour-5': 'ごじ',
    'vm-hour-6': 'ろくじ',
    'vm-hour-7': 'しちじ',
    'vm-hour-8': 'はちじ',
    'vm-hour-9': 'くじ',
    'vm-hour-10': 'じゅうじ',
    'vm-hour-11': 'じゅういちじ',
    'vm-hour-12': 'じゅうにじ',
    'vm-hour-13': 'じゅうさんじ',
    'vm-hour-14': 'じゅうよじ',
    'vm-hour-15': 'じゅうごじ',
    'vm-hour-16': 'じゅうろくじ',
    'vm-hour-17': 'じゅうしちじ',
    'vm-hour-18': 'じゅうはちじ',
    'vm-hour-19': 'じゅうくじ',
    'vm-hour-20': 'にじゅうじ',
    'vm-hour-21': 'にじゅういちじ',
    'vm-hour-22': 'にじゅうにじ',
    'vm-hour-23': 'にじゅうさんじ',
  },
  en: {
    'vm-greeting-before': 'You have reached the voice mailbox of',
    'vm-greeting-after': 'The person you are calling is not available.',
    'vm-leave-message': 'Please leave a message after the tone. When you are done, hang up or press the pound key.',
    'vm-thank-you': 'Thank you.',
    'vm-box-full': 'This mailbox is full. No message can be taken now.',
    'vm-enter-box': 'Please enter the mailbox number, followed by the pound key.',
    'vm-enter-pin': 'Please enter your PIN, followed by the pound key.',
    'vm-wrong-pin': 'That PIN is not correct.',
    'vm-goodbye': 'Goodbye.',
    'vm-no-messages': 'You have no messages.',
    'vm-unknown-caller': 'an unknown caller',
    'vm-message-menu': 'To replay, press 5. To delete, press 7. To save, press 9. For the next message, press 6; for the previous one, press 4. To exit, press pound.',
    'vm-main-menu': 'To listen to your messages, press 1. To record your greeting, press 8. To change your PIN, press 0. To exit, press pound.',
    'vm-deleted': 'Message deleted.',
    'vm-saved': 'Message saved.',
    'vm-no-more': 'No more messages.',
    'vm-record-greeting': 'Record your greeting after the tone, then press pound.',
    'vm-greeting-saved': 'Your greeting has been saved.',
    'vm-new-pin': 'Enter your new PIN, followed by the pound key.',
    'vm-reenter-pin': 'Enter the new PIN again, followed by the pound key.',
    'vm-pin-invalid': 'That PIN cannot be used. Use four to eight digits, with no four or more sequential or repeated digits.',
    'vm-pin-mismatch': 'The PINs do not match.',
    'vm-pin-changed': 'Your PIN has been changed.',
    'vm-invalid-box': 'There is no such mailbox.',
    'vm-you-have': 'You have',
    'vm-new-message': 'new message',
    'vm-new-messages': 'new messages',
    'vm-and': 'and',
    'vm-saved-message': 'saved message',
    'vm-saved-messages': 'saved messages',
    'vm-message-from': 'Message from',
    'vm-received': 'received',
    'vm-at': 'at',
    'vm-oclock': "o'clock",
    'vm-oh': 'oh',
    'vm-n-10': 'ten',
    'vm-n-11': 'eleven',
    'vm-n-12': 'twelve',
    'vm-n-13': 'thirteen',
    'vm-n-14': 'fourteen',
    'vm-n-15': 'fifteen',
    'vm-n-16': 'sixteen',
    'vm-n-17': 'seventeen',
    'vm-n-18': 'eighteen',
    'vm-n-19': 'nineteen',
    'vm-n-20': 'twenty',
    'vm-n-30': 'thirty',
    'vm-n-40': 'forty',
    'vm-n-50': 'fifty',
    'vm-n-60': 'sixty',
    'vm-n-70': 'seventy',
    'vm-n-80': 'eighty',
    'vm-n-90': 'ninety',
    'vm-month-1': 'January',
    'vm-month-2': 'February',
    'vm-month-3': 'March',
    'vm-month-4': 'April',
    'vm-month-5': 'May',
    'vm-month-6': 'June',
    'vm-month-7': 'July',
    'vm-month-8': 'August',
    'vm-month-9': 'September',
    'vm-month-10': 'October',
    'vm-month-11': 'November',
    'vm-month-12': 'December',
  },
};
for (const [language, text] of Object.entries(VOICEMAIL)) Object.assign(SPOKEN[language].text, text);
// ---------- queue prompts (F-QUEUE, F-AGENT, issue #11) ----------
// What a waiting caller hears (the periodic announcement, position and estimated wait) and the confirmations an
// agent hears after the pause/resume service codes. Position and wait are spoken by concatenation with the number
// prompts above (0–9, vm-n-10…): English "You are caller number" 3; Japanese あなたの じゅんばんわ 3 ばんめです,
// hence queue-position-after (ja) exists in one language only; a wait of a minute or less is queue-wait-short.
// queue-welcome (a greeting) and queue-call (a whisper) are samples for the README; sites record their own.
const QUEUE = {
  ja: {
    'queue-welcome': 'おでんわ ありがとうございます。たんとうしゃに おつなぎします。しばらく おまちください',
    'queue-periodic': 'ただいま でんわが こみあっております。このまま しばらく おまちください',
    'queue-position': 'あなたの じゅんばんわ',
    'queue-position-after': 'ばんめです',
    'queue-wait': 'およその おまちじかんわ',
    'queue-minutes': 'ふんです',
    'queue-wait-short': 'まもなく おつなぎします',
    'queue-call': 'キューからの ちゃくしんです',
    'agent-paused': 'ていしちゅうに しました',
    'agent-resumed': 'たいきちゅうに しました',
    'agent-not-member': 'この キューの メンバーでわ ありません',
  },
  en: {
    'queue-welcome': 'Thank you for calling. Please hold, and the next available agent will take your call.',
    'queue-periodic': 'All of our agents are busy. Please stay on the line.',
    'queue-position': 'You are caller number',
    'queue-wait': 'Your estimated wait is about',
    'queue-minutes': 'minutes',
    'queue-wait-short': 'Your estimated wait is less than a minute',
    'queue-call': 'Queue call',
    'agent-paused': 'You are now paused',
    'agent-resumed': 'You are now available',
    'agent-not-member': 'You are not an agent of this queue',
  },
};
for (const [language, text] of Object.entries(QUEUE)) Object.assign(SPOKEN[language].text, text);
// ---------- conference prompts (F-CONF, issue #15) ----------
// The participant count is spoken by concatenation with the number prompts: English "The number of participants
// is" 3; Japanese さんかしゃわ 3 にんです, hence conf-count-after (ja) in one language only.
const CONFERENCE = {
  ja: {
    'conf-full': 'この かいぎしつわ まんいんです',
    'conf-alone': 'ほかの さんかしゃわ まだ いません',
    'conf-count': 'さんかしゃわ',
    'conf-count-after': 'にんです',
    'conf-muted': 'ミュートに しました',
    'conf-unmuted': 'ミュートを かいじょ しました',
    'conf-wait-moderator': 'しかいしゃの さんかを おまちください',
  },
  en: {
    'conf-full': 'This conference is full',
    'conf-alone': 'You are the only participant',
    'conf-count': 'The number of participants is',
    'conf-muted': 'You are muted',
    'conf-unmuted': 'You are unmuted',
    'conf-wait-moderator': 'Please wait for the moderator',
  },
};
for (const [language, text] of Object.entries(CONFERENCE)) Object.assign(SPOKEN[language].text, text);

// ---------- WAV in and out ----------

function readWav16Mono(buf, file) {
  const tag = (at) => buf.toString('ascii', at, at + 4);
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error(`${file}: not a RIFF/WAVE file`);
  let rate = 0;
  for (let at = 12; at + 8 <= buf.length;) {
    const id = tag(at);
    const size = buf.readUInt32LE(at + 4);
    if (id === 'fmt ') {
      const channels = buf.readUInt16LE(at + 10);
      const bits = buf.readUInt16LE(at + 22);
      if (buf.readUInt16LE(at + 8) !== 1 || channels !== 1 || bits !== 16) throw new Error(`${file}: espeak-ng output is not mono 16-bit PCM`);
      rate = buf.readUInt32LE(at + 12);
    } else if (id === 'data') {
      const end = Math.min(at + 8 + size, buf.length);
      const out = new Float64Array(Math.floor((end - at - 8) / 2));
      for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(at + 8 + i * 2) / 32768;
      return { rate, samples: out };
    }
    at += 8 + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

/** Float samples in [-1, 1] → canonical 44-byte-header 8 kHz mono 16-bit PCM WAV. */
function wav(samples) {
  const buf = Buffer.alloc(44 + samples.length * 2);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + samples.length * 2, 4);
  buf.write('WAVEfmt ', 8, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(RATE, 24);
  buf.writeUInt32LE(RATE * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(samples.length * 2, 40);
  for (let i = 0; i < samples.length; i++) {
    buf.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), 44 + i * 2);
  }
  return buf;
}

// ---------- signal processing ----------

/**
 * Band-limited resampling with a Blackman-windowed sinc. The cut-off sits below 4 kHz so nothing aliases into
 * the telephone band; the kernel is renormalised per output sample so the level does not ripple.
 */
function resample(input, inRate, outRate, cutoffHz = 3600, halfWidth = 48) {
  if (inRate === outRate) return Float64Array.from(input);
  const fc = cutoffHz / inRate; // cycles per input sample
  const out = new Float64Array(Math.floor((input.length * outRate) / inRate));
  for (let n = 0; n < out.length; n++) {
    const centre = (n * inRate) / outRate;
    const first = Math.floor(centre) - halfWidth + 1;
    let acc = 0;
    let gain = 0;
    for (let k = first; k < first + 2 * halfWidth; k++) {
      const d = centre - k;
      if (Math.abs(d) >= halfWidth) continue;
      const x = 2 * fc * d;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const w = 0.42 + 0.5 * Math.cos((Math.PI * d) / halfWidth) + 0.08 * Math.cos((2 * Math.PI * d) / halfWidth);
      const h = 2 * fc * sinc * w;
      gain += h;
      if (k >= 0 && k < input.length) acc += input[k] * h;
    }
    out[n] = acc / gain;
  }
  return out;
}

function peak(samples) {
  let p = 0;
  for (const s of samples) p = Math.max(p, Math.abs(s));
  return p;
}

/** Cuts leading and trailing silence (below 2 % of the peak), keeping a little room so onsets are not clipped. */
function trim(samples) {
  const threshold = peak(samples) * 0.02;
  let start = 0;
  while (start < samples.length && Math.abs(samples[start]) < threshold) start++;
  let end = samples.length;
  while (end > start && Math.abs(samples[end - 1]) < threshold) end--;
  const keep = Math.round(RATE * 0.01);
  return samples.slice(Math.max(0, start - keep), Math.min(samples.length, end + keep));
}

function scaleTo(samples, target) {
  const p = peak(samples);
  return p === 0 ? samples : samples.map((s) => (s * target) / p);
}

/** Linear fade-in and fade-out so a prompt never starts or stops with a click. */
function fade(samples, seconds = 0.005) {
  const n = Math.min(Math.round(RATE * seconds), Math.floor(samples.length / 2));
  for (let i = 0; i < n; i++) {
    samples[i] *= i / n;
    samples[samples.length - 1 - i] *= i / n;
  }
  return samples;
}

function pad(samples, leadSeconds, tailSeconds) {
  const lead = Math.round(RATE * leadSeconds);
  const out = new Float64Array(lead + samples.length + Math.round(RATE * tailSeconds));
  out.set(samples, lead);
  return out;
}

function concat(...parts) {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------- spoken prompts ----------

function checkEspeak() {
  const r = spawnSync('espeak-ng', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error('espeak-ng is not installed (apt-get install espeak-ng), or run with --only-synth for tones and MOH');
  }
  return r.stdout.trim();
}

function speak(tmp, voice, speed, text) {
  const file = join(tmp, 'speech.wav');
  const r = spawnSync('espeak-ng', ['-v', voice, '-s', String(speed), '-w', file, text], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`espeak-ng -v ${voice} failed for "${text}": ${r.error ?? r.stderr}`);
  const { rate, samples } = readWav16Mono(readFileSync(file), file);
  // Peaks at -3 dBFS put speech near -22 dBFS RMS, the usual level of telephone prompts, with headroom left.
  return pad(fade(scaleTo(trim(resample(samples, rate, RATE)), 0.7)), 0.03, 0.12);
}

// ---------- tones ----------

/** A sum of sine partials `[frequencyHz, amplitude]` for `seconds`, optionally amplitude-modulated. */
function tone(seconds, partials, modulation) {
  const out = new Float64Array(Math.round(RATE * seconds));
  for (let i = 0; i < out.length; i++) {
    const t = i / RATE;
    let s = 0;
    for (const [f, a] of partials) s += a * Math.sin(2 * Math.PI * f * t);
    if (modulation) s *= 1 - modulation.depth + modulation.depth * (0.5 + 0.5 * Math.sin(2 * Math.PI * modulation.hz * t));
    out[i] = s;
  }
  return fade(out);
}

const silence = (seconds) => new Float64Array(Math.round(RATE * seconds));

const TONES = {
  // A rising two-note chime: heard as "done", unlike the falling or flat tones below.
  'confirm-tone': () => concat(tone(0.1, [[880, 0.3]]), tone(0.15, [[1320, 0.3]]), silence(0.1)),
  // The special information tone, ITU-T E.180 §2.6: 950, 1400, 1800 Hz, 330 ms each — "the call cannot proceed".
  'error-tone': () => concat(tone(0.33, [[950, 0.3]]), tone(0.33, [[1400, 0.3]]), tone(0.33, [[1800, 0.3]]), silence(0.2)),
  // Japanese ringback (呼出音): 400 Hz modulated by 16 Hz, 1 s on, 2 s off. One cycle; the player loops it.
  ringback: () => concat(tone(1, [[400, 0.35]], { hz: 16, depth: 0.8 }), silence(2)),
  // Japanese busy tone (話中音): 400 Hz, 0.5 s on, 0.5 s off. One cycle.
  'busy-tone': () => concat(tone(0.5, [[400, 0.35]]), silence(0.5)),
  // Voicemail: the beep before recording (F-VM), 1 kHz for 0.4 s, then a short pause so the caller's first
  // words are not spoken over it.
  'vm-beep': () => concat(tone(0.4, [[1000, 0.35]]), silence(0.1)),
  // Conference (F-CONF): someone joined (rising) or left (falling), heard by the others in the room.
  'conf-join': () => concat(tone(0.12, [[660, 0.25]]), tone(0.18, [[990, 0.25]])),
  'conf-leave': () => concat(tone(0.12, [[990, 0.25]]), tone(0.18, [[660, 0.25]])),
};

// ---------- music on hold ----------

const midiHz = (note) => 440 * 2 ** ((note - 69) / 12);

/**
 * 30 s of I–vi–IV–V in C at 64 bpm (8 bars of 4 beats = 32 beats × 0.9375 s): a plucked melody over a soft
 * bass and pad. Notes are rendered into a circular buffer, so tails ringing past the end wrap to the start and
 * the file loops without a seam. Everything sits between 175 Hz and 3.6 kHz, the band a phone reproduces.
 */
function musicOnHold() {
  const beat = 60 / 64;
  const out = new Float64Array(Math.round(RATE * 32 * beat));
  const C = 60;
  const chords = [
    [C, C + 4, C + 7], // C
    [C - 3, C, C + 4], // Am
    [C - 7, C - 3, C], // F
    [C - 5, C - 1, C + 2], // G
  ];
  // [beat, MIDI note, length in beats]
  const melody = [
    [0, 76, 1],
    [1, 79, 1],
    [2, 84, 1.5],
    [3.5, 79, 0.5],
    [4, 81, 1],
    [5, 84, 1],
    [6, 88, 2],
    [8, 77, 1],
    [9, 81, 1],
    [10, 84, 1],
    [11, 81, 1],
    [12, 79, 1.5],
    [13.5, 83, 0.5],
    [14, 86, 2],
    [16, 88, 1],
    [17, 86, 0.5],
    [17.5, 84, 0.5],
    [18, 79, 2],
    [20, 81, 1],
    [21, 79, 0.5],
    [21.5, 76, 0.5],
    [22, 81, 2],
    [24, 77, 1],
    [25, 81, 1],
    [26, 84, 1],
    [27, 89, 1],
    [28, 86, 1],
    [29, 83, 1],
    [30, 79, 2],
  ];

  const addNote = (startSeconds, note, seconds, amplitude, harmonics, attack, decay) => {
    const f = midiHz(note);
    const first = Math.round(startSeconds * RATE);
    const length = Math.round(seconds * RATE);
    const release = Math.round(0.08 * RATE);
    for (let i = 0; i < length + release; i++) {
      const t = i / RATE;
      let env = Math.min(1, t / attack) * Math.exp(-t / decay);
      if (i >= length) env *= 1 - (i - length) / release;
      let s = 0;
      harmonics.forEach((a, h) => {
        // Partials above 3.6 kHz would alias or be lost in the telephone band.
        if (f * (h + 1) < 3600) s += a * Math.sin(2 * Math.PI * f * (h + 1) * t);
      });
      out[(first + i) % out.length] += amplitude * env * s;
    }
  };

  for (let bar = 0; bar < 8; bar++) {
    const chord = chords[bar % 4];
    const start = bar * 4 * beat;
    // Pad: the chord around middle C, slow attack, held for the bar.
    for (const n of chord) addNote(start, n, 4 * beat, 0.05, [1, 0.2], 0.4, 6);
    // Bass on beats 1 and 3 on the root; its harmonics carry the pitch on small speakers.
    for (const b of [0, 2]) addNote(start + b * beat, chord[0], 2 * beat, 0.14, [1, 0.6, 0.35, 0.15], 0.01, 0.9);
  }
  for (const [at, note, len] of melody) addNote(at * beat, note, len * beat, 0.22, [1, 0.3, 0.08], 0.008, 0.7);
  return scaleTo(out, 0.45);
}

// ---------- main ----------

function writeSet(dir, files) {
  const abs = join(ROOT, dir);
  mkdirSync(abs, { recursive: true });
  // A prompt dropped from the set must not linger from an earlier run.
  for (const f of readdirSync(abs)) if (f.endsWith('.wav')) rmSync(join(abs, f));
  let bytes = 0;
  for (const [name, samples] of Object.entries(files)) {
    const buf = wav(samples);
    writeFileSync(join(abs, `${name}.wav`), buf);
    bytes += buf.length;
  }
  process.stdout.write(`${dir}: ${Object.keys(files).length} files, ${bytes} bytes\n`);
}

const onlySynth = process.argv.includes('--only-synth');
if (!onlySynth) {
  process.stdout.write(`${checkEspeak()}\n`);
  const tmp = mkdtempSync(join(tmpdir(), 'hibiki-prompts-'));
  try {
    for (const [language, { voice, speed, text }] of Object.entries(SPOKEN)) {
      const files = {};
      for (const [name, words] of Object.entries(text)) files[name] = speak(tmp, voice, speed, words);
      writeSet(join('prompts', language), files);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
writeSet(join('prompts', 'tones'), Object.fromEntries(Object.entries(TONES).map(([name, make]) => [name, make()])));
writeSet(join('moh', 'default'), { '01-gentle': musicOnHold() });
