import fc from 'fast-check';
import { describe, it } from 'vitest';
import { ALL } from './properties.js';

// A fast subset on every run (fixed seed); `npm run fuzz` runs the same properties with
// FUZZ_RUNS cases each and a random seed (5 properties × 250,000 = 1.25 million cases).
const runs = Number(process.env.FUZZ_RUNS ?? 2000);
const seed = process.env.FUZZ_RUNS ? Date.now() : 20261129;

describe(`fuzz (${runs} cases per property, seed ${seed})`, () => {
  for (const [name, property] of Object.entries(ALL)) {
    it(name, { timeout: Math.max(60_000, runs * 2) }, () => {
      fc.assert(property as fc.IProperty<unknown>, { numRuns: runs, seed });
    });
  }
});
