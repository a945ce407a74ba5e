/**
 * Layers import downwards only: services -> projections -> events -> infra.
 * Tests (and the test support in testing/) may reach anything; the SDK
 * package (services/config-client) imports nothing from the server.
 */
const TESTS = '(\\.spec\\.ts$|^testing/)';

module.exports = {
  forbidden: [
    {
      name: 'infra-is-the-bottom',
      comment: 'infra/ holds adapters and operations tools; it imports no other layer',
      severity: 'error',
      from: { path: '^infra/', pathNot: TESTS },
      to: { path: '^(events|projections|services)/' },
    },
    {
      name: 'events-import-only-infra',
      comment: 'events/ is the contract: it may use infra/, never projections or services',
      severity: 'error',
      from: { path: '^events/', pathNot: TESTS },
      to: { path: '^(projections|services)/' },
    },
    {
      name: 'projections-never-import-services',
      comment: 'a projection a context needs is read through a query interface, not the other way round',
      severity: 'error',
      from: { path: '^projections/', pathNot: TESTS },
      to: { path: '^services/' },
    },
    {
      name: 'the-sdk-stands-alone',
      comment: 'services/config-client is a package of its own: only its own files and its dependencies',
      severity: 'error',
      from: { path: '^services/config-client/', pathNot: TESTS },
      to: { path: '^(events|projections|infra|testing)/|^services/(?!config-client/)' },
    },
    {
      name: 'test-support-only-in-tests',
      comment: 'testing/ starts whole apps for tests; nothing that ships imports it',
      severity: 'error',
      from: { path: '^(events|projections|services|infra)/', pathNot: TESTS },
      to: { path: '^testing/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|data|\\.tmp)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
