import nx from '@nx/eslint-plugin';

// Backend packages: only @lumen/runtime and the apps may know which backend runs
// (DESIGN.md §1, §6); every other lib imports @tensorflow/tfjs-core alone.
const backendPackages = [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  '@tensorflow/tfjs-backend-*',
];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/dist', '**/node_modules', '**/tmp', '**/.nx'] },
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs', '**/*.cjs'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          // The dependency direction of DESIGN.md §1. `scope:none` is carried by no
          // project: a lib constrained to it may depend on no other lib. `scope:core` is the
          // leaf every lib may use.
          depConstraints: [
            { sourceTag: 'scope:core', onlyDependOnLibsWithTags: ['scope:none'] },
            { sourceTag: 'scope:runtime-native', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:boxes', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:roi-pool', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:eval', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:config', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:backbone', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:fpn', onlyDependOnLibsWithTags: ['scope:core'] },
            { sourceTag: 'scope:runtime', onlyDependOnLibsWithTags: ['scope:core', 'scope:runtime-native'] },
            { sourceTag: 'scope:anchors', onlyDependOnLibsWithTags: ['scope:core', 'scope:boxes'] },
            { sourceTag: 'scope:rpn', onlyDependOnLibsWithTags: ['scope:core', 'scope:boxes', 'scope:anchors'] },
            { sourceTag: 'scope:rcnn-head', onlyDependOnLibsWithTags: ['scope:core', 'scope:boxes', 'scope:anchors'] },
            {
              sourceTag: 'scope:detector',
              onlyDependOnLibsWithTags: [
                'scope:core', 'scope:boxes', 'scope:anchors', 'scope:backbone', 'scope:rpn',
                'scope:roi-pool', 'scope:rcnn-head', 'scope:config', 'scope:fpn',
              ],
            },
            { sourceTag: 'scope:data', onlyDependOnLibsWithTags: ['scope:core', 'scope:config'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
            // apps/cli assembles the apps' commands into `lumen`; nothing depends on it.
            { sourceTag: 'type:cli', onlyDependOnLibsWithTags: ['type:lib', 'type:app'] },
            { sourceTag: 'type:tools', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'], bannedExternalImports: backendPackages },
          ],
        },
      ],
    },
  },
  {
    // apps/cli is the one project that imports apps (their commands, by their public entry):
    // Nx forbids importing an app anywhere unless the import is allowed by name.
    files: ['apps/cli/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': ['error', {
        allow: ['@lumen/train', '@lumen/predict', '@lumen/board'],
        depConstraints: [{ sourceTag: 'type:cli', onlyDependOnLibsWithTags: ['type:lib', 'type:app'] }],
      }],
    },
  },
  {
    // runtime is the one library that loads backends.
    files: ['libs/runtime/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', { depConstraints: [
      { sourceTag: 'scope:runtime', onlyDependOnLibsWithTags: ['scope:core', 'scope:runtime-native'] },
    ] }] },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Test and build configuration reaches for workspace-level presets by path.
    files: ['**/jest.config.js', 'jest.preset.js', 'tools/jest/**'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
