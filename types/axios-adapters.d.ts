// axios exports its xhr adapter module without types; the stand-in tests compare ours with it.
declare module 'axios/lib/adapters/xhr.js' {
  const adapter: false | ((config: unknown) => Promise<unknown>);
  export default adapter;
}
