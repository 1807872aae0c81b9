/**
 * Every vendor the product knows, one line each: a declaration (`<vendor>.vendor.ts`: light, loads no driver code).
 * Adding a vendor is copying a vendor folder and adding its line here; config, CLI, status hints, the tick's machine
 * spec and the local runner's demo all derive from this list (see vendor.catalog.ts).
 */
export { careLinkVendor } from './carelink/carelink.vendor.js';
export { dexcomShareVendor } from './dexcom-share/dexcom-share.vendor.js';
export { glookoVendor } from './glooko/glooko.vendor.js';
export { libreLinkUpVendor } from './librelinkup/librelinkup.vendor.js';
export { nightscoutVendor } from './nightscout/nightscout.vendor.js';
