import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { LOGGER } from '../common/logger';
import { RequestCounters } from '../telemetry/request-counters';
import { RequestTelemetry } from '../telemetry/request-telemetry';
import { NOT_STORED } from './fill-lock';
import { Next, RequestSteps, StepName } from './request-steps';
import { Transaction } from './transaction';

/**
 * The driver of the request steps (request-steps.ts), after Varnish's CNT_Request: run a step,
 * take the name it returns, run that one, until `done`. A step that returns a Promise resumes
 * the loop when it settles. Every throw and rejection becomes the synth step's 500, so no
 * request can hang; with LOG_LEVEL=trace each step is logged by name.
 */
@Injectable()
export class RequestLifecycle {
  private readonly traceSteps: boolean;

  constructor(
    private readonly steps: RequestSteps,
    private readonly telemetry: RequestTelemetry,
    private readonly counters: RequestCounters,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.traceSteps = log.isLevelEnabled('trace');
  }

  /** Entry point for each request on the data port. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const tx = new Transaction(req, res, req.method ?? 'GET');
    this.counters.activeRequests++;
    this.telemetry.begin(tx);
    // One listener per request: the end of the response is where everything about it is counted.
    res.on('close', () => this.finish(tx));
    this.run(tx, 'recv');
  }

  run(tx: Transaction, first: StepName): void {
    const table = this.steps.table;
    let step = first;
    for (;;) {
      if (this.traceSteps) this.log.trace({ step, url: tx.req.url }, 'step');
      let next: Next;
      try {
        next = table[step](tx);
      } catch (err) {
        next = this.steps.internalError(tx, err);
      }
      if (typeof next !== 'string') {
        next.then(
          (n) => this.run(tx, n),
          (err: unknown) => this.run(tx, this.steps.internalError(tx, err)),
        );
        return;
      }
      if (next === 'done') return;
      step = next;
    }
  }

  /** The response ended or the client left: the fill goes on only if someone needs it; then telemetry. */
  private finish(tx: Transaction): void {
    this.counters.activeRequests--;
    if (!tx.res.writableFinished) {
      tx.aborted = true;
      tx.fill?.detach();
    }
    tx.permit?.settle(NOT_STORED);
    tx.permit = null;
    this.telemetry.end(tx);
  }
}
