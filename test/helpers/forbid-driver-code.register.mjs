// `node --import tsx --import ./test/helpers/forbid-driver-code.register.mjs …`: installs forbid-driver-code.hooks.mjs.
import { register } from 'node:module';

register('./forbid-driver-code.hooks.mjs', import.meta.url);
