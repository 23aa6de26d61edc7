import { Worker } from 'node:worker_threads';
import type { Ed25519Check } from '../nix/signature-verifier.js';

/**
 * Ed25519 checks on worker threads, in batches. Node's asynchronous crypto.verify queues each check
 * on libuv's pool by itself: one thread wake-up, one completion callback and one context switch per
 * signature, and on a two-core machine the main thread lost ~60 µs to each of them (10,000 narinfos:
 * 0.6 s of its time). A batch of up to BATCH checks is one message each way. The worker does exactly
 * what the in-process check does (`crypto.verify(null, message, key, sig)` with the key made from the
 * same DER), so the verdicts cannot differ. Threads start at the START_AFTER-th check: booting one
 * costs ~30 ms of CPU, which a closure of 1,000 paths does not win back (0.32 s → 0.28 s without
 * them) and one of 10,000 does; before that, and should a thread fail, FALLBACK does the checks.
 */

export interface VerifyPool {
  check: Ed25519Check;
  close(): Promise<void>;
}

const BATCH = 1024;
const START_AFTER = 2048;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const prefix = Buffer.from('302a300506032b6570032100', 'hex');
const keys = workerData.keys.map((k) => {
  try { return createPublicKey({ key: Buffer.concat([prefix, Buffer.from(k)]), format: 'der', type: 'spki' }); } catch { return undefined; }
});
parentPort.on('message', ({ id, which, messages, sigs }) => {
  const out = new Uint8Array(messages.length);
  const all = Buffer.from(sigs.buffer, sigs.byteOffset, sigs.byteLength);
  for (let i = 0; i < messages.length; i++) {
    const key = keys[which[i]];
    try { out[i] = key && verify(null, Buffer.from(messages[i], 'utf8'), key, all.subarray(i * 64, i * 64 + 64)) ? 1 : 0; } catch { out[i] = 0; }
  }
  parentPort.postMessage({ id, out }, [out.buffer]);
});
`;

interface Item {
  message: string;
  keyIndex: number;
  sig: Buffer;
  resolve(ok: boolean): void;
}

/** KEYS: the raw 32-byte public keys, indexed as the checks name them. WORKERS: threads to use (0: none). */
export function createVerifyPool(keys: readonly Buffer[], workers: number, fallback: Ed25519Check): VerifyPool {
  interface Thread {
    worker: Worker;
    online: boolean;
    outstanding: Map<number, Item[]>;
    items: number;
  }
  const threads: Thread[] = [];
  let started = false;
  let asked = 0;
  let closed = false;
  let nextId = 0;
  let batch: Item[] = [];
  let scheduled = false;

  const viaFallback = (items: readonly Item[]) => {
    for (const it of items) fallback(it.message, it.keyIndex, it.sig).then(it.resolve, () => it.resolve(false));
  };

  const start = () => {
    started = true;
    for (let i = 0; i < workers; i++) {
      let worker: Worker;
      try {
        worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { keys: keys.map((k) => Uint8Array.from(k)) } });
      } catch {
        return;
      }
      worker.unref();
      const thread: Thread = { worker, online: false, outstanding: new Map(), items: 0 };
      const lost = () => {
        const i = threads.indexOf(thread);
        if (i >= 0) threads.splice(i, 1);
        for (const items of thread.outstanding.values()) viaFallback(items);
        thread.outstanding.clear();
        flush();
      };
      worker.on('online', () => {
        thread.online = true;
      });
      worker.on('message', ({ id, out }: { id: number; out: Uint8Array }) => {
        const items = thread.outstanding.get(id);
        if (!items) return;
        thread.outstanding.delete(id);
        thread.items -= items.length;
        for (let j = 0; j < items.length; j++) (items[j] as Item).resolve(out[j] === 1);
        flush();
      });
      worker.on('error', lost);
      worker.on('exit', lost);
      threads.push(thread);
    }
  };

  const flush = () => {
    scheduled = false;
    if (batch.length === 0) return;
    let best: Thread | undefined;
    for (const t of threads) if (t.online && (!best || t.outstanding.size < best.outstanding.size)) best = t;
    if (!best || closed) {
      const items = batch;
      batch = [];
      return viaFallback(items);
    }
    // A thread busy with two batches gets the next when it answers one: batches grow while it works.
    if (best.outstanding.size >= 2 && batch.length < BATCH) return;
    const items = batch;
    batch = [];
    const id = nextId++;
    const sigs = new Uint8Array(items.length * 64);
    const which = new Int32Array(items.length);
    const messages: string[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const it = items[i] as Item;
      sigs.set(it.sig, i * 64);
      which[i] = it.keyIndex;
      messages[i] = it.message;
    }
    best.outstanding.set(id, items);
    best.items += items.length;
    best.worker.postMessage({ id, which, messages, sigs }, [sigs.buffer, which.buffer]);
  };

  return {
    check(message, keyIndex, sig) {
      if (workers <= 0 || closed || sig.length !== 64) return fallback(message, keyIndex, sig);
      if (!started && ++asked >= START_AFTER) start();
      if (!threads.some((t) => t.online)) return fallback(message, keyIndex, sig);
      return new Promise<boolean>((resolve) => {
        batch.push({ message, keyIndex, sig, resolve });
        if (batch.length >= BATCH) flush();
        else if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    async close() {
      closed = true;
      flush();
      const all = threads.splice(0, threads.length);
      await Promise.all(
        all.map(async (t) => {
          for (const items of t.outstanding.values()) viaFallback(items);
          t.outstanding.clear();
          await t.worker.terminate().catch(() => {});
        }),
      );
    },
  };
}
