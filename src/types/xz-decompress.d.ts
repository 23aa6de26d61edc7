declare module 'xz-decompress' {
  /** CommonJS: XzReadableStream is a property of the default export. */
  const xz: { XzReadableStream: new (compressed: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array> };
  export default xz;
}
