/**
 * Request and reply over a worker's IPC channel (process.send on one side, cluster's Worker on
 * the other), both ends alike. Every call is bounded in time: a peer that is gone or stuck is an
 * error for the caller, never a request that hangs. Messages not shaped like ours are ignored.
 */
export type RpcHandler = (arg: any) => unknown;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface RpcMessage {
  tc: 'req' | 'res' | 'note';
  id?: number;
  op?: string;
  a?: unknown;
  ok?: boolean;
  v?: unknown;
  e?: string;
}

export class Rpc {
  private readonly pending = new Map<number, Pending>();
  private readonly handlers = new Map<string, RpcHandler>();
  private sequence = 0;
  private closed = false;

  constructor(private readonly send: (m: RpcMessage) => boolean | void) {}

  handle(op: string, h: RpcHandler): void {
    this.handlers.set(op, h);
  }

  call<T>(op: string, a: unknown, timeoutMs: number): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the IPC channel is closed'));
    const id = ++this.sequence;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${op}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        this.send({ tc: 'req', id, op, a });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** A message that needs no answer. */
  notify(op: string, a: unknown): void {
    if (this.closed) return;
    try {
      this.send({ tc: 'note', op, a });
    } catch {
      // The other end is gone: nothing to tell.
    }
  }

  /** Feeds one message from the channel; true when it was ours. */
  receive(raw: unknown): boolean {
    if (raw === null || typeof raw !== 'object') return false;
    const m = raw as RpcMessage;
    if (m.tc === 'res' && typeof m.id === 'number') {
      const p = this.pending.get(m.id);
      if (p === undefined) return true;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.v);
      else p.reject(new Error(String(m.e)));
      return true;
    }
    if ((m.tc === 'req' || m.tc === 'note') && typeof m.op === 'string') {
      const h = this.handlers.get(m.op);
      const id = m.id;
      const reply = (ok: boolean, v: unknown, e?: string) => {
        if (m.tc !== 'req' || this.closed) return;
        try {
          this.send(ok ? { tc: 'res', id, ok, v } : { tc: 'res', id, ok, e });
        } catch {
          // The caller is gone; its own timeout ends its wait.
        }
      };
      if (h === undefined) {
        reply(false, undefined, `unknown operation ${m.op}`);
        return true;
      }
      try {
        const r = h(m.a);
        if (r instanceof Promise) r.then((v) => reply(true, v), (err: unknown) => reply(false, undefined, err instanceof Error ? err.message : String(err)));
        else reply(true, r);
      } catch (err) {
        reply(false, undefined, err instanceof Error ? err.message : String(err));
      }
      return true;
    }
    return false;
  }

  /** Fails every call still waiting: the other end has gone. */
  close(): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error('the IPC channel closed'));
      this.pending.delete(id);
    }
  }
}
