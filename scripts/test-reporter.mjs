// node:test reporter: one line per test, failures with their error, and a last line
// `N passed, N failed` covering every test in the run.
export default async function* reporter(source) {
  let passed = 0;
  let failed = 0;
  const failures = [];
  for await (const event of source) {
    const { type, data } = event;
    if (type !== 'test:pass' && type !== 'test:fail') {
      // Figures a test measured (console.log lines starting with [measured]) are worth seeing.
      if (type === 'test:stdout' && /^\[measured\]/.test(data.message ?? '')) yield data.message.endsWith('\n') ? data.message : `${data.message}\n`;
      continue;
    }
    if (data.details?.type === 'suite') continue;
    const where = data.file ? data.file.replace(/^.*\/dist\//, '') : '';
    const ms = data.details?.duration_ms?.toFixed(0) ?? '?';
    if (type === 'test:pass') {
      if (data.skip || data.todo) {
        yield `- skipped ${data.name} (${where})\n`;
        continue;
      }
      passed++;
      yield `ok   ${data.name} (${ms} ms) ${where}\n`;
    } else {
      failed++;
      const err = data.details?.error;
      const cause = err?.cause ?? err;
      const message = (cause?.stack ?? cause?.message ?? String(cause)).split('\n').slice(0, 8).join('\n      ');
      failures.push(`${data.name} (${where})\n      ${message}`);
      yield `FAIL ${data.name} (${ms} ms) ${where}\n      ${message}\n`;
    }
  }
  if (failures.length) yield `\nFailures:\n${failures.map((f) => `  - ${f}`).join('\n')}\n\n`;
  yield `${passed} passed, ${failed} failed\n`;
}
