declare module 'unbzip2-stream' {
  /** A through stream: bzip2 bytes in, decompressed bytes out ('data', 'end', 'error'). */
  export default function unbzip2Stream(): NodeJS.ReadWriteStream;
}
