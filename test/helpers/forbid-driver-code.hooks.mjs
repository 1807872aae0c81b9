// Module resolution hook for a child process: any vendor implementation (`*.source.ts`) or the HTTP client (axios)
// being resolved fails the import, naming it. Used to prove the tick path loads vendor declarations only.
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (/\/lib\/sources\/.+\.source\.(ts|js)$/.test(resolved.url) || resolved.url.includes('/node_modules/axios/')) {
    throw new Error(`driver code loaded: ${resolved.url}`);
  }
  return resolved;
}
