// media.engine and media.rtpengine in the YAML (issue #16): the engine follows from whether rtpengine is
// configured unless it is named, an engine that needs rtpengine without its block is an error naming
// media.rtpengine, a bad port range or ng address is an error naming the file and line, and a bare
// rtpengine block gets the documented defaults.
import { describe, expect, it } from 'vitest';
import { formatConfigError, type ConfigError } from '../../../src/config/errors.js';
import { loadConfigText, type ConfigLoadResult } from '../../../src/config/load.js';

const head = `tenant:
  domain: pbx.example.com
listen:
  - transport: udp
    port: 5060
`;

function errorsOf(r: ConfigLoadResult): ConfigError[] {
  if (r.ok) throw new Error(`expected the config to be rejected, got media ${JSON.stringify(r.config.media)}`);
  return r.errors;
}

function media(yaml: string) {
  const r = loadConfigText(head + yaml, 'hibiki.yaml');
  if (!r.ok) throw new Error(`expected a valid config, got ${r.errors.map(formatConfigError).join('; ')}`);
  return r.config.media;
}

/** The single error of `yaml`, which must contain `text`. */
function oneError(yaml: string, text: string): ConfigError {
  const errors = errorsOf(loadConfigText(head + yaml, 'hibiki.yaml'));
  expect(errors, JSON.stringify(errors)).toHaveLength(1);
  const e = errors[0] as ConfigError;
  expect(e.message).toContain(text);
  expect(e.file).toBe('hibiki.yaml');
  return e;
}

describe('media.engine', () => {
  it('is builtin when media.rtpengine is not given (with or without a media section)', () => {
    expect(media('').engine).toBe('builtin');
    expect(media('media:\n  rtpPorts: [10000, 10999]\n').engine).toBe('builtin');
    expect(media('media:\n  rtpPorts: [10000, 10999]\n').rtpengine).toBeUndefined();
  });

  it('is mixed when media.rtpengine is given and the engine is not named', () => {
    expect(media('media:\n  rtpengine:\n    ng: 127.0.0.1:2223\n').engine).toBe('mixed');
    expect(media('media:\n  rtpengine: {}\n').engine).toBe('mixed');
  });

  it('is the one named when it is named', () => {
    expect(media('media:\n  engine: rtpengine\n  rtpengine: {}\n').engine).toBe('rtpengine');
    expect(media('media:\n  engine: builtin\n  rtpengine: {}\n').engine).toBe('builtin');
    expect(media('media:\n  engine: builtin\n').engine).toBe('builtin');
  });

  it('refuses engine rtpengine or mixed without the media.rtpengine block, naming media.rtpengine', () => {
    for (const engine of ['rtpengine', 'mixed']) {
      const e = oneError(`media:\n  engine: ${engine}\n`, 'media.rtpengine');
      expect(e.path).toBe('media.rtpengine');
      expect(e.message).toContain(`engine ${engine}`);
      // media: is on line 6, the first line after the head.
      expect(e.line).toBe(6);
    }
  });

  it('refuses an engine it does not know', () => {
    const e = oneError('media:\n  engine: janus\n  rtpengine: {}\n', 'media.engine');
    expect(e.line).toBe(7);
  });
});

describe('media.rtpengine', () => {
  it('fills the defaults of a bare block', () => {
    expect(media('media:\n  rtpengine: {}\n').rtpengine).toEqual({
      ng: '127.0.0.1:22222',
      launch: false,
      binary: 'rtpengine',
      interface: '127.0.0.1',
      ports: [30000, 39999],
      kernel: false,
      timeoutMs: 500,
      retries: 2,
      checkInterval: 5,
    });
  });

  it('keeps what the file says', () => {
    const r = media(
      'media:\n  rtpengine:\n    ng: "[::1]:2223"\n    launch: true\n    binary: /usr/bin/rtpengine\n    interface: 192.0.2.5\n    advertise: 203.0.113.5\n    ports: [40000, 40999]\n    kernel: true\n    timeoutMs: 200\n    retries: 0\n    checkInterval: 30\n',
    ).rtpengine;
    expect(r).toEqual({
      ng: '[::1]:2223',
      launch: true,
      binary: '/usr/bin/rtpengine',
      interface: '192.0.2.5',
      advertise: '203.0.113.5',
      ports: [40000, 40999],
      kernel: true,
      timeoutMs: 200,
      retries: 0,
      checkInterval: 30,
    });
  });

  it('refuses a port range whose min is not below its max, naming the line of ports', () => {
    for (const ports of ['[31000, 31000]', '[32000, 31000]']) {
      const e = oneError(`media:\n  rtpengine:\n    launch: true\n    ports: ${ports}\n`, 'min < max');
      expect(e.path).toBe('media.rtpengine.ports');
      expect(e.line).toBe(9);
    }
  });

  it('refuses an ng address that is not IP:port (a port out of range, no IP), naming the line of ng', () => {
    for (const ng of [
      'localhost:22222',
      'rtpengine.example.com:22222',
      '127.0.0.1',
      '"127.0.0.1:"',
      '"::1:22222"',
      '"[zzz]:22222"',
      '"udp:127.0.0.1:22222"',
      '127.0.0.1:99999',
      '127.0.0.1:0',
      '999.0.0.1:22222',
    ]) {
      const e = oneError(`media:\n  rtpengine:\n    ng: ${ng}\n`, 'must be IP:port');
      expect(e.path, ng).toBe('media.rtpengine.ng');
      expect(e.line, ng).toBe(8);
    }
  });

  it('refuses an interface or advertise that is not an IP address, and keys it does not know', () => {
    expect(oneError('media:\n  rtpengine:\n    interface: eth0\n', 'IPv4 or IPv6').path).toBe('media.rtpengine.interface');
    expect(oneError('media:\n  rtpengine:\n    advertise: pbx.example.com\n', 'IPv4 or IPv6').path).toBe('media.rtpengine.advertise');
    expect(oneError('media:\n  rtpengine:\n    listen: 127.0.0.1:22222\n', 'unknown key "listen"').line).toBe(8);
  });

  it('refuses timeoutMs, retries and checkInterval out of their ranges', () => {
    expect(oneError('media:\n  rtpengine:\n    timeoutMs: 10\n', 'timeoutMs').path).toBe('media.rtpengine.timeoutMs');
    expect(oneError('media:\n  rtpengine:\n    retries: 11\n', 'retries').path).toBe('media.rtpengine.retries');
    expect(oneError('media:\n  rtpengine:\n    checkInterval: 0\n', 'checkInterval').path).toBe('media.rtpengine.checkInterval');
  });
});
