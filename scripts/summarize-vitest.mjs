// Prints the closing line CI reads ("N passed, N failed") from vitest's JSON report.
import fs from 'node:fs';

const file = process.argv[2] ?? '.vitest-results.json';
let report;
try {
  report = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (err) {
  console.log(`summary: no vitest report at ${file} (${err.message})`);
  console.log('0 passed, 1 failed');
  process.exit(0);
}
const passed = report.numPassedTests ?? 0;
let failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
// A test file that failed to load counts as a failure even though it ran no test.
const brokenSuites = (report.testResults ?? []).filter((s) => s.status === 'failed' && (s.assertionResults ?? []).length === 0).length;
failed += brokenSuites;
for (const suite of report.testResults ?? []) {
  for (const t of suite.assertionResults ?? []) {
    if (t.status === 'failed') console.log(`FAILED: ${suite.name.replace(process.cwd() + '/', '')} > ${t.fullName}`);
    // No test here is ever skipped on purpose: one that did not run (its worker died, a hook
    // failed) counts as failed, so a run that tested nothing can never look green.
    if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo') {
      failed++;
      console.log(`DID NOT RUN (counted as failed): ${suite.name.replace(process.cwd() + '/', '')} > ${t.fullName}`);
    }
  }
  if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) {
    console.log(`FAILED TO LOAD: ${suite.name.replace(process.cwd() + '/', '')}: ${(suite.message ?? '').split('\n')[0]}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
