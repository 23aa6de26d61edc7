import { once } from 'node:events';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import type { Compression } from './compression.js';

/**
 * A streaming decompressor: chunks go in as they arrive, the NAR comes out through EMIT, and at most
 * one chunk (plus the decoder's window) is held at a time. Libraries only: Node's zlib for br and
 * gzip, XZ Embedded compiled to WebAssembly (xz-decompress) for xz, fzstd for zstd, unbzip2-stream for bzip2.
 */
export interface Decoder {
  write(chunk: Uint8Array): Promise<void>;
  /** Resolves when the whole stream is decoded; rejects on corrupt or truncated input. */
  end(): Promise<void>;
}

type Emit = (out: Uint8Array) => void;

export async function createDecoder(method: Compression, emit: Emit): Promise<Decoder> {
  switch (method) {
    case 'none':
      return { write: async (c) => emit(c), end: async () => {} };
    case 'br':
      return nodeTransform(createBrotliDecompress(), emit);
    case 'gzip':
      return nodeTransform(createGunzip(), emit);
    case 'xz':
      return xzDecoder(emit);
    case 'zstd':
      return zstdDecoder(emit);
    case 'bzip2':
      return bzip2Decoder(emit);
  }
}

function nodeTransform(t: Transform | NodeJS.ReadWriteStream, emit: Emit): Decoder {
  let failure: unknown;
  t.on('data', (d: Uint8Array) => emit(d));
  t.on('error', (e) => {
    failure ??= e;
  });
  const ended = new Promise<void>((resolve, reject) => {
    t.on('end', resolve);
    t.on('error', reject);
  });
  ended.catch(() => {});
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (!t.write(chunk)) await Promise.race([once(t, 'drain'), ended]);
      if (failure) throw failure;
    },
    async end() {
      if (failure) throw failure;
      t.end();
      await ended;
    },
  };
}

async function xzDecoder(emit: Emit): Promise<Decoder> {
  const { default: xz } = await import('xz-decompress');
  // A pull source fed by write(): the decoder asks for the next chunk only when it has used the last.
  let give: ((chunk: Uint8Array | null) => void) | undefined;
  let queued: (Uint8Array | null)[] = [];
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queued.shift();
      if (next !== undefined) return void (next ? controller.enqueue(next) : controller.close());
      return new Promise<void>((resolve) => {
        give = (c) => {
          give = undefined;
          if (c) controller.enqueue(c);
          else controller.close();
          resolve();
        };
      });
    },
  });
  const feed = (c: Uint8Array | null) => (give ? give(c) : void queued.push(c));
  const pump = (async () => {
    for await (const out of new xz.XzReadableStream(source) as unknown as AsyncIterable<Uint8Array>) emit(out);
  })();
  pump.catch(() => {});
  const drained = async () => {
    // Backpressure: wait until the decoder has taken what was queued (or failed).
    while (queued.length > 0) await Promise.race([new Promise((r) => setImmediate(r)), pump]);
  };
  return {
    async write(chunk) {
      feed(chunk);
      await drained();
    },
    async end() {
      feed(null);
      await pump;
      queued = [];
    },
  };
}

async function zstdDecoder(emit: Emit): Promise<Decoder> {
  const { Decompress } = await import('fzstd');
  let done = false;
  const d = new Decompress((data, final) => {
    if (data.length) emit(data);
    if (final) done = true;
  });
  return {
    async write(chunk) {
      d.push(chunk);
    },
    async end() {
      d.push(new Uint8Array(0), true);
      if (!done) throw new Error('the zstd stream ends early (truncated)');
    },
  };
}

async function bzip2Decoder(emit: Emit): Promise<Decoder> {
  const { default: unbzip2 } = await import('unbzip2-stream');
  return nodeTransform(unbzip2(), emit);
}

/** An empty file as `xz -c` writes it (32 bytes). */
const EMPTY_XZ = Uint8Array.from([
  0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46, 0x00, 0x00, 0x00, 0x00, 0x1c, 0xdf, 0x44, 0x21, 0x1f, 0xb6, 0xf3,
  0x7d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x04, 0x59, 0x5a,
]);

/**
 * Compiles the xz decoder's WebAssembly (about 10 ms, once per process) by decoding an empty file,
 * so that a run can do it while it waits for the network rather than when the first NAR arrives.
 */
export async function warmDecoders(): Promise<void> {
  const d = await createDecoder('xz', () => {});
  await d.write(EMPTY_XZ);
  await d.end();
}
