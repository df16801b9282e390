// Parse-speed benchmark: parses a typical ~700-byte INVITE with SDP N times and prints µs/msg.
// Usage: npm run build && node scripts/bench/parse-bench.mjs [iterations] [path/to/parser.js]
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const iterations = Number(process.argv[2] ?? 200000);
const modulePath = process.argv[3] ? pathToFileURL(resolve(process.argv[3])).href : new URL('../../dist/sip/parser.js', import.meta.url).href;

let parseMessage;
try {
  ({ parseMessage } = await import(modulePath));
} catch (err) {
  process.stderr.write(`cannot load ${modulePath} (run "npm run build" first): ${err.message}\n`);
  process.exit(1);
}

const sdp = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.0.2.10',
  's=-',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=sendrecv',
  '',
].join('\r\n');

const invite = Buffer.from(
  [
    'INVITE sip:1002@pbx.example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport',
    'Max-Forwards: 70',
    'To: <sip:1002@pbx.example.com>',
    'From: "Alice" <sip:1001@pbx.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@192.0.2.10',
    'CSeq: 314159 INVITE',
    'Contact: <sip:1001@192.0.2.10:5060;transport=udp>',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, INFO',
    'Supported: replaces, timer',
    'User-Agent: DeskPhone/1.0',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ].join('\r\n'),
);

// Touch what the stack reads from every INVITE, so lazy parsing is not flattering itself.
function work() {
  const r = parseMessage(invite);
  if (!r.ok) throw new Error('benchmark message failed to parse: ' + r.reason);
  return r.message;
}

for (let i = 0; i < 20000; i++) work(); // warm-up
// CPU time is reported next to wall time: on a shared machine it is the steadier figure.
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let i = 0; i < iterations; i++) work();
const wallNs = Number(process.hrtime.bigint() - t0);
const cpu = process.cpuUsage(cpu0);
const cpuNs = (cpu.user + cpu.system) * 1000;
process.stdout.write(
  `parseMessage: ${invite.length}-byte INVITE, ${iterations} iterations: ` + `${(wallNs / iterations / 1000).toFixed(2)} µs/msg wall, ${(cpuNs / iterations / 1000).toFixed(2)} µs/msg cpu\n`,
);
