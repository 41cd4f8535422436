// The node's JSON-RPC, from the page it served: HTTP POST to the same
// origin for calls, one WebSocket to the same origin for the finalized
// heads. The page's Content-Security-Policy (`connect-src 'self'`) lets it
// reach nothing else.

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The node's "not found" code (rpc/src/error.rs). */
export const NOT_FOUND = 1040;

let nextId = 1;

interface Answer {
  result?: unknown;
  error?: { code: number; message: string };
}

async function post(body: unknown): Promise<string> {
  const r = await fetch('/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), cache: 'no-store' });
  const text = await r.text();
  if (!r.ok && !text.startsWith('{') && !text.startsWith('[')) throw new RpcError(0, `HTTP ${r.status}: ${text.slice(0, 200)}`);
  return text;
}

function settle<T>(a: Answer): T {
  if (a.error) throw new RpcError(a.error.code, a.error.message);
  return a.result as T;
}

/** One call. */
export async function call<T>(method: string, params: unknown[] = []): Promise<T> {
  return settle<T>(JSON.parse(await post({ jsonrpc: '2.0', id: nextId++, method, params })) as Answer);
}

/** One call whose result is wanted as the node wrote it (a proof bundle,
 * kept byte for byte rather than re-serialized by `JSON.stringify`, which
 * would round integers beyond 2^53). */
export async function callRaw(method: string, params: unknown[] = []): Promise<string> {
  const text = await post({ jsonrpc: '2.0', id: nextId++, method, params });
  const whole = JSON.parse(text) as Answer;
  settle(whole);
  const at = text.indexOf('"result":');
  const end = text.lastIndexOf('}');
  if (at < 0 || end < at) throw new RpcError(0, 'an answer without a result member');
  const raw = text.slice(at + '"result":'.length, end).trim();
  JSON.parse(raw);
  return raw;
}

/** Several calls in one JSON-RPC batch; each answer is a value or an error. */
export async function batch<T>(calls: [string, unknown[]][]): Promise<(T | RpcError)[]> {
  if (calls.length === 0) return [];
  const first = nextId;
  nextId += calls.length;
  const answers = JSON.parse(await post(calls.map(([method, params], i) => ({ jsonrpc: '2.0', id: first + i, method, params })))) as (Answer & { id: number })[];
  if (!Array.isArray(answers)) settle(answers as Answer);
  const byId = new Map(answers.map((a) => [a.id, a]));
  return calls.map((_, i) => {
    const a = byId.get(first + i);
    if (!a) return new RpcError(0, 'no answer in the batch');
    try {
      return settle<T>(a);
    } catch (e) {
      return e as RpcError;
    }
  });
}

/** The finalized heads, as the node announces them (`chain_subscribeFinalized`),
 * reconnecting after a drop; `state` reports `live`, `connecting` or `closed`. */
export function subscribeFinalized(onHead: (head: unknown) => void, state: (s: 'live' | 'connecting' | 'closed') => void): void {
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/`;
  let delay = 1000;
  const open = () => {
    state('connecting');
    const ws = new WebSocket(url);
    ws.onopen = () => {
      delay = 1000;
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_subscribeFinalized', params: [] }));
    };
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { id?: number; result?: unknown; method?: string; params?: { result: unknown } };
      if (msg.id === 1 && msg.result !== undefined) state('live');
      if (msg.method === 'chain_finalized' && msg.params) onHead(msg.params.result);
    };
    ws.onclose = () => {
      state('closed');
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 30_000);
    };
  };
  open();
}
