import assert from 'node:assert/strict';
import { createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { RequestCounters } from '../telemetry/request-counters';
import type { RequestTelemetry } from '../telemetry/request-telemetry';
import { RequestLifecycle } from './request-lifecycle';
import type { RequestSteps, Step, StepName } from './request-steps';
import type { Transaction } from './transaction';

/**
 * The driver over a real node:http server, with step tables written for the test: whatever a
 * step throws or rejects, the client gets the synth step's answer, and nothing hangs.
 */
function lifecycle(table: Partial<Record<StepName, Step>>, seen: string[]): RequestLifecycle {
  const full: Record<string, Step> = {
    synth: (tx: Transaction) => {
      seen.push('synth');
      tx.res.writeHead(500, { 'content-type': 'text/plain' }).end('synth');
      return 'done';
    },
    done: () => 'done',
    ...table,
  };
  const steps = {
    table: full,
    internalError: (tx: Transaction) => (tx.failedInternally ? (tx.res.destroy(), 'done') : ((tx.failedInternally = true), 'synth')),
  } as unknown as RequestSteps;
  const telemetry = { begin: () => {}, end: () => {} } as unknown as RequestTelemetry;
  return new RequestLifecycle(steps, telemetry, new RequestCounters(), pino({ level: 'silent' }));
}

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('timeout', () => req.destroy(new Error('the request hung')));
    req.on('error', reject);
    req.end();
  });
}

describe('the step driver', () => {
  let server: Server;
  let port: number;
  let current: RequestLifecycle;
  before(async () => {
    server = createServer((req, res) => current.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('runs synchronous steps in order until done', async () => {
    const seen: string[] = [];
    current = lifecycle({
      recv: () => (seen.push('recv'), 'lookup'),
      lookup: () => (seen.push('lookup'), 'deliver'),
      deliver: (tx) => (seen.push('deliver'), tx.res.end('ok'), 'done'),
    }, seen);
    assert.deepEqual(await get(port), { status: 200, body: 'ok' });
    assert.deepEqual(seen, ['recv', 'lookup', 'deliver']);
  });

  it('resumes after a step that returns a Promise', async () => {
    const seen: string[] = [];
    current = lifecycle({
      recv: async (): Promise<StepName> => (await new Promise((r) => setTimeout(r, 20)), 'deliver'),
      deliver: (tx) => (tx.res.end('later'), 'done'),
    }, seen);
    assert.deepEqual(await get(port), { status: 200, body: 'later' });
  });

  it('turns a synchronous throw into the synth step', async () => {
    const seen: string[] = [];
    current = lifecycle({ recv: () => { throw new Error('boom'); } }, seen);
    assert.equal((await get(port)).status, 500);
    assert.deepEqual(seen, ['synth']);
  });

  it('turns a rejection in an async continuation into the synth step', async () => {
    const seen: string[] = [];
    current = lifecycle({
      recv: () => Promise.resolve().then(() => 'deliver' as const),
      deliver: (tx) => Promise.resolve().then(() => {
        tx.res.writeHead(200, ['x-bad', 'line\r\nbreak']);
        return 'done' as const;
      }),
    }, seen);
    assert.equal((await get(port)).status, 500);
  });

  it('cuts the connection when the synth step itself throws, instead of looping', async () => {
    const seen: string[] = [];
    current = lifecycle({
      recv: () => { throw new Error('first'); },
      synth: () => { throw new Error('second'); },
    }, seen);
    await assert.rejects(get(port), /socket hang up|ECONNRESET/);
  });
});
