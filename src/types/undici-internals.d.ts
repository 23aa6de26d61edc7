// Types for the undici modules src/system/bulk-http.ts loads directly (undici has no "exports"
// map, so these paths are reachable; the version is pinned exactly in package.json).
declare module 'undici/lib/api/api-request.js' {
  const request: (
    this: import('undici').Dispatcher,
    options: import('undici').Dispatcher.RequestOptions,
  ) => Promise<import('undici').Dispatcher.ResponseData>;
  export default request;
}
