// The call-rate benchmark's setup, shared with the soak run: a carrier on an IP-authenticated trunk
// (sipp's uac cannot answer a digest challenge) calls any DID, which rings extension 2002, a sipp
// UAS that answers at once. Signalling only.
import { fileURLToPath } from 'node:url';

export const UAC = fileURLToPath(new URL('../../../test/sipp/bench-call-uac.xml', import.meta.url));
export const UAS = fileURLToPath(new URL('../../../test/sipp/bench-call-uas.xml', import.meta.url));
export const REGISTER = fileURLToPath(new URL('../../../test/sipp/register-auth.xml', import.meta.url));
export const CARRIER_HOST = '127.0.0.3';
export const CALLEE = '2002';
/** RTP pairs for the calls in progress (2 legs each); below the kernel's ephemeral range (32768+) where sipp's and the server's SIP ports are. */
export const RTP_PORTS = [10000, 32766];

/**
 * The config sections after benchConfigHead(): media, the callee (then `extensionLines`, more
 * extensions in YAML), the carrier's trunk and its DID rule.
 */
export function callSetupSections({ calleePassword, extensionLines = [] }) {
  return [
    'media:',
    '  bindAddress: 127.0.0.1',
    `  rtpPorts: [${RTP_PORTS[0]}, ${RTP_PORTS[1]}]`,
    // No RTP flows in a signalling benchmark: the inactivity timeout would end every call.
    '  rtpTimeout: 0',
    'extensions:',
    `  - number: "${CALLEE}"`,
    '    name: Bench callee',
    `    password: ${calleePassword}`,
    '    callWaiting: true',
    ...extensionLines,
    'trunks:',
    '  - name: bench-carrier',
    `    host: ${CARRIER_HOST}`,
    'inbound:',
    `  - did: "*"`,
    `    destination: "${CALLEE}"`,
  ];
}
