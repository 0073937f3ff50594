// Every dashboard checked against Grafana's published dashboard schema: the TypeScript types of
// @grafana/schema (generated from Grafana's CUE schema), applied by the TypeScript compiler to
// each dashboard's JSON as an object literal, so an unknown or misspelt key at any depth, a
// wrong type, or a value outside an enum is a compile error naming the file and the path.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GRAFANA_DIR, loadDashboards, ROOT } from './support';

/** JSON spells a string enum by its value: accept the values, as Grafana does when it loads the file. */
const PRELUDE = `import type { Dashboard } from '@grafana/schema';
type Json<T> = T extends string ? \`\${T}\` : T extends readonly (infer U)[] ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;
`;

/**
 * The one place the published schema cannot follow a datasource: an annotation's target is
 * the generic DataQuery (refId, datasource, hide, queryType), with no room for what the
 * Prometheus datasource adds. Those keys (expr, step, the formats) are checked here as strings
 * instead, and the live test runs each expr against a real Prometheus.
 */
const PROMETHEUS_ANNOTATION_KEYS = ['expr', 'step', 'titleFormat', 'textFormat', 'tagKeys'];

function forSchema(d: Record<string, unknown>): Record<string, unknown> {
  const list = ((d.annotations as { list?: Record<string, unknown>[] } | undefined)?.list ?? []);
  for (const a of list) {
    const ds = a.datasource as { type?: string } | undefined;
    const target = a.target as Record<string, unknown> | undefined;
    if (ds?.type !== 'prometheus' || target === undefined) continue;
    assert.equal(typeof target.expr, 'string', `annotation ${String(a.name)}: expr`);
    for (const k of PROMETHEUS_ANNOTATION_KEYS) {
      if (k in target) assert.equal(typeof target[k], 'string', `annotation ${String(a.name)}: ${k}`);
      delete target[k];
    }
  }
  return d;
}

describe("dashboards against Grafana's dashboard schema (@grafana/schema)", () => {
  const dir = join(ROOT, 'dist', 'grafana-schema-check');

  test('every dashboard type-checks as a Dashboard', () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const dashboards = loadDashboards();
    assert.ok(dashboards.length >= 2);
    const files: string[] = [];
    for (const { file } of dashboards) {
      const json = JSON.stringify(forSchema(JSON.parse(readFileSync(join(GRAFANA_DIR, 'dashboards', file), 'utf8')) as Record<string, unknown>), null, 2);
      const ts = join(dir, `${file.replace(/\.json$/, '')}.ts`);
      writeFileSync(ts, `${PRELUDE}export const dashboard: Json<Dashboard> = ${json.trim()};\n`);
      files.push(ts);
    }
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--target', 'es2022', '--module', 'commonjs', '--moduleResolution', 'node10', '--skipLibCheck', ...files], { encoding: 'utf8', cwd: ROOT });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  test('the check catches a misspelt key and a wrong enum value', () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const bad = join(dir, 'bad.ts');
    writeFileSync(bad, `${PRELUDE}export const a: Json<Dashboard> = { schemaVersion: 39, title: 'x', panels: [{ type: 'timeseries', titel: 'typo' }] };
export const b: Json<Dashboard> = { schemaVersion: 39, panels: [{ type: 'stat', fieldConfig: { defaults: { thresholds: { mode: 'absolut', steps: [] } }, overrides: [] } }] };\n`);
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--target', 'es2022', '--module', 'commonjs', '--moduleResolution', 'node10', '--skipLibCheck', bad], { encoding: 'utf8', cwd: ROOT });
    rmSync(dir, { recursive: true, force: true });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /titel/);
    assert.match(r.stdout, /absolut/);
  });
});
