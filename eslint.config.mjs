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
          // project: a lib constrained to it may depend on no other lib.
          depConstraints: [
            { sourceTag: 'scope:runtime-native', onlyDependOnLibsWithTags: ['scope:none'] },
            { sourceTag: 'scope:boxes', onlyDependOnLibsWithTags: ['scope:none'] },
            { sourceTag: 'scope:roi-pool', onlyDependOnLibsWithTags: ['scope:none'] },
            { sourceTag: 'scope:eval', onlyDependOnLibsWithTags: ['scope:none'] },
            { sourceTag: 'scope:config', onlyDependOnLibsWithTags: ['scope:none'] },
            { sourceTag: 'scope:backbone', onlyDependOnLibsWithTags: ['scope:none'] },
            { sourceTag: 'scope:runtime', onlyDependOnLibsWithTags: ['scope:runtime-native'] },
            { sourceTag: 'scope:anchors', onlyDependOnLibsWithTags: ['scope:boxes'] },
            { sourceTag: 'scope:rpn', onlyDependOnLibsWithTags: ['scope:boxes', 'scope:anchors'] },
            { sourceTag: 'scope:rcnn-head', onlyDependOnLibsWithTags: ['scope:boxes', 'scope:anchors'] },
            {
              sourceTag: 'scope:detector',
              onlyDependOnLibsWithTags: [
                'scope:boxes', 'scope:anchors', 'scope:backbone', 'scope:rpn',
                'scope:roi-pool', 'scope:rcnn-head', 'scope:config',
              ],
            },
            { sourceTag: 'scope:data', onlyDependOnLibsWithTags: ['scope:config'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:tools', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'], bannedExternalImports: backendPackages },
          ],
        },
      ],
    },
  },
  {
    // runtime is the one library that loads backends.
    files: ['libs/runtime/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', { depConstraints: [
      { sourceTag: 'scope:runtime', onlyDependOnLibsWithTags: ['scope:runtime-native'] },
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
