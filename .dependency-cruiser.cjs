/**
 * The layers of this repository, checked on every `npm run lint` (and so in CI). Where a rule exists is said in
 * docs/architecture.md ("Layers"). In short:
 * - lib/ is the product (what Lambda and the CLI run); local/ (the local runner, simulators, stand-ins), bench/ and
 *   test/ are tooling around it and never imported by it.
 * - lib/domain and lib/machines are pure: they import nothing outside themselves but xstate (machines).
 * - lib/ports are types; lib/app uses ports; lib/adapters implement them; functions/ only wire.
 * - The AWS SDK lives only in lib/adapters/aws, vendor and Nightscout HTTP only behind lib/adapters/http.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'product-imports-tooling',
      comment: 'The product (lib/, functions/) never imports the local runner, simulators, bench, tests or infra.',
      severity: 'error',
      from: { path: '^(lib|functions)/' },
      to: { path: '^(local|bench|test|infra)/' },
    },
    {
      name: 'infra-imports-only-config',
      comment:
        'infra/ builds the stack from lib/config defaults and the bundling options and builder; it bundles functions/ by ' +
        'path, never by import.',
      severity: 'error',
      from: { path: '^infra/' },
      to: {
        path: '^(lib|functions|local|bench|test)/',
        pathNot: '^lib/config/(deployment\\.config|bundling\\.(config|build))\\.ts$',
      },
    },
    {
      name: 'bench-does-not-import-infra',
      comment:
        'The bench measures what deploys through lib/config (bundling options, deployment defaults), not the CDK app.',
      severity: 'error',
      from: { path: '^bench/' },
      to: { path: '^infra/' },
    },
    {
      name: 'domain-is-pure',
      comment: 'lib/domain imports only itself (and node:crypto for hashing ids).',
      severity: 'error',
      from: { path: '^lib/domain/' },
      to: { pathNot: ['^lib/domain/', '^crypto$', '^node:crypto$'] },
    },
    {
      name: 'machines-are-pure',
      comment: 'lib/machines imports only itself, lib/domain and xstate: no SDK, no HTTP, no adapters, no clock.',
      severity: 'error',
      from: { path: '^lib/machines/' },
      to: { pathNot: ['^lib/machines/', '^lib/domain/', '^node_modules/xstate/'] },
    },
    {
      name: 'ports-are-types',
      comment: 'lib/ports declares contracts: it imports only types from the domain, the machines and other ports.',
      severity: 'error',
      from: { path: '^lib/ports/' },
      to: { pathNot: ['^lib/ports/', '^lib/domain/', '^lib/machines/'] },
    },
    {
      name: 'app-uses-ports',
      comment: 'Use cases (lib/app) depend on ports, the domain and the machines, never on an adapter or a vendor.',
      severity: 'error',
      from: { path: '^lib/app/' },
      to: { path: '^lib/(adapters|sources|runtime|cli|config)/' },
    },
    {
      name: 'adapters-implement-ports',
      comment:
        'Adapters implement ports: they may use the domain, ports and other adapters, never use cases or vendors.',
      severity: 'error',
      from: { path: '^lib/adapters/' },
      to: { path: '^lib/(app|sources|machines|runtime|cli|config)/' },
    },
    {
      name: 'sources-are-vendor-adapters',
      comment: 'Vendor drivers use the domain, ports, machine specs and the shared HTTP client; no use case, no AWS.',
      severity: 'error',
      from: { path: '^lib/sources/' },
      to: { path: ['^lib/(app|runtime|cli)/', '^lib/adapters/(aws|memory|nightscout)/'] },
    },
    {
      name: 'functions-only-wire',
      comment: 'A Lambda entry wires lib/runtime (composition) to a handler factory in lib/app/handlers.',
      severity: 'error',
      from: { path: '^functions/' },
      to: { path: '^lib/', pathNot: ['^lib/runtime/', '^lib/app/handlers/'] },
    },
    {
      name: 'aws-sdk-only-in-aws-adapters',
      comment: 'The AWS SDK is imported only by lib/adapters/aws (and tests).',
      severity: 'error',
      from: { pathNot: ['^lib/adapters/aws/', '^test/'] },
      to: { path: '^node_modules/@aws-sdk/' },
    },
    {
      name: 'http-client-only-in-http-adapter',
      comment: 'axios is wrapped once (timeouts, no redirects, error kinds): everyone else uses lib/adapters/http.',
      severity: 'error',
      from: { pathNot: ['^lib/adapters/http/', '^test/'] },
      to: { path: '^node_modules/axios/' },
    },
    {
      name: 'xstate-only-in-machines',
      comment: 'Only lib/machines (and tests) touch xstate; the rest steps machines through source.snapshot.ts.',
      severity: 'error',
      from: { pathNot: ['^lib/machines/', '^test/'] },
      to: { path: '^node_modules/xstate/' },
    },
    {
      name: 'vendor-declarations-are-light',
      comment:
        'A vendor declaration (and the registry, catalog, builder and settings fields it uses) is what the tick loads: ' +
        'no HTTP client, no driver implementation except through its lazy load() (a dynamic import).',
      severity: 'error',
      from: {
        path: [
          '\\.vendor\\.ts$',
          '^lib/sources/(vendor\\.(declaration|registry|catalog)|settings\\.fields|driver\\.builder)\\.ts$',
        ],
      },
      to: {
        path: ['\\.source\\.ts$', '^lib/adapters/http/http\\.client\\.ts$', '^node_modules/axios/'],
        dependencyTypesNot: ['dynamic-import'],
      },
    },
    {
      name: 'no-circular',
      comment:
        'Cycles hide layering mistakes and slow cold starts. A cycle through a dynamic import is allowed: a vendor ' +
        'declaration names its implementation with a lazy import(), and the implementation reads its declaration.',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['dynamic-import'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // test/fixtures/architecture breaks these rules on purpose (test/unit/architecture/layer-rules.test.ts).
    exclude: { path: '^(node_modules|cdk\\.out|\\.data|test/fixtures/architecture/)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
