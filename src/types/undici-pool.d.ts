// undici's connection pool, loaded directly by src/system/bulk-http.ts (why/coverage's https look-ups).
declare module 'undici/lib/dispatcher/pool.js' {
  const Pool: typeof import('undici').Pool;
  export default Pool;
}
