// The layer rules of DESIGN.md ("Layers"), checked in CI by `npm run lint:layers`.
//
//   server.ts, cli.ts   assemble everything (cli/ holds the command line's commands)
//   api/                HTTP API, events, metrics, web console
//   features/           one module per destination type or in-call feature
//   pbx/                call and leg model, leg ownership, the call-application interface, call set-up
//   registrar/          registrar, digest authenticator, auth guard, qualify, directory
//   media/   sip/       media engine (no SIP in it); SIP stack (no PBX in it)
//   config/  store/     YAML schema and loader; SQLite stores
//   rules/   util/      rules shared by config and features; the one clock
//   log/                the logger and process statistics
//
// Each layer imports only the ones below it (and its own). No import cycles, type-only ones included.

/** Folders each layer may import from, besides its own. */
const below = {
  api: ['features', 'pbx', 'registrar', 'media', 'sip', 'config', 'store', 'rules', 'util', 'log'],
  features: ['pbx', 'registrar', 'media', 'sip', 'config', 'store', 'rules', 'util', 'log'],
  pbx: ['registrar', 'media', 'sip', 'config', 'store', 'rules', 'util', 'log'],
  registrar: ['sip', 'config', 'store', 'rules', 'util', 'log'],
  media: ['config', 'store', 'rules', 'util', 'log'],
  sip: ['config', 'store', 'rules', 'util', 'log'],
  config: ['store', 'rules', 'util'],
  store: ['config', 'rules', 'util'],
  rules: ['util'],
  util: [],
  log: ['util'],
};

const layerRules = Object.entries(below).map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer}/ may import only from ${allowed.length ? allowed.map((l) => `src/${l}/`).join(', ') : 'itself'} (DESIGN.md "Layers")`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: [`^src/${layer}/`, ...allowed.map((l) => `^src/${l}/`)] },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules must not import each other in a loop (type-only imports count: they tie the code together just the same).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-upward-to-entry-points',
      comment: 'Nothing imports the process entry points (but the command line, which starts the server).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli\\.ts$' },
      to: { path: '^src/(server|cli)\\.ts$' },
    },
    {
      name: 'cli-commands-only-from-the-command-line',
      comment: 'src/cli/ holds the command implementations of src/cli.ts: only the command line imports them.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/cli\\.ts$', '^src/cli/'] },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-unknown-layer',
      comment: 'Every module lives in a layer folder listed above (or is an entry point).',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(server|cli)\\.ts$', '^src/cli/', `^src/(${Object.keys(below).join('|')})/`] },
      to: {},
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
