/**
 * Stand-in for axios's XMLHttpRequest adapter (`axios/lib/adapters/xhr.js`) in the Lambda bundles only (a file
 * stand-in in lib/config/bundling.config.ts). Node has no `XMLHttpRequest`, so the real module exports `false` there
 * and its ~3 KB request function is dead code; this exports the same `false`. Tests, the CLI and local runs use the
 * real module.
 */
export default false;
