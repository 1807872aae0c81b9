import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import axios from 'axios';
import realXhrAdapter from 'axios/lib/adapters/xhr.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventStreamSerde, eventStreamSerdeProvider } from '../../../lib/adapters/aws/event-streams.stub.js';
import { getInstanceMetadataRegion } from '../../../lib/adapters/aws/instance-metadata-region.stand-in.js';
import {
  defaultProvider,
  LambdaCredentialsMissingError,
} from '../../../lib/adapters/aws/lambda-credentials.provider.js';
import LruCache from '../../../lib/adapters/aws/lru-cache.stand-in.js';
import { Sha256Js } from '../../../lib/adapters/aws/sha256-js.stand-in.js';
import fetchAdapterStandIn, { getFetch } from '../../../lib/adapters/http/axios-fetch-adapter.stand-in.js';
import xhrAdapterStandIn from '../../../lib/adapters/http/axios-xhr-adapter.stand-in.js';
import createDebug from '../../../lib/adapters/http/debug.stub.js';
import followRedirects from '../../../lib/adapters/http/follow-redirects.stub.js';
import FormDataNotBundled from '../../../lib/adapters/http/form-data.stub.js';
import { createHttpClient } from '../../../lib/adapters/http/http.client.js';
import { LAMBDA_ALIASES, LAMBDA_FILE_STAND_INS, LAMBDA_TRIMMED_JSON } from '../../../lib/config/bundling.config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('LAMBDA_ALIASES', () => {
  it.each(Object.entries(LAMBDA_ALIASES))(
    '%s: the package is installed (the alias replaces something real) and its stand-in exists',
    (pkg, target) => {
      const require = createRequire(path.join(ROOT, 'package.json'));
      const resolvable = (() => {
        try {
          require.resolve(pkg);
          return true;
        } catch {
          // ESM-only subpaths (`@smithy/core/event-streams`) are not require-able; their package folder still exists.
          return existsSync(
            path.join(
              ROOT,
              'node_modules',
              pkg
                .split('/')
                .slice(0, pkg.startsWith('@') ? 2 : 1)
                .join('/'),
            ),
          );
        }
      })();
      expect(resolvable).toBe(true);
      expect(existsSync(path.join(ROOT, target))).toBe(true);
    },
  );
});

describe('LAMBDA_FILE_STAND_INS', () => {
  it.each(Object.entries(LAMBDA_FILE_STAND_INS))(
    '%s: the file exists in its package (the stand-in replaces something real) and its stand-in exists',
    (file, target) => {
      expect(existsSync(path.join(ROOT, 'node_modules', file))).toBe(true);
      expect(existsSync(path.join(ROOT, target))).toBe(true);
    },
  );
});

describe("axios's fetch and XMLHttpRequest adapters (stood in for: the HTTP client only ever uses http)", () => {
  it('our HTTP client names the http adapter, so axios never looks at the other two', () => {
    const client = createHttpClient({ baseURL: 'https://example.org' });

    expect(client.defaults.adapter).toBe('http');
    expect((axios.getAdapter(client.defaults.adapter) as { adapterName?: string }).adapterName).toBe('http');
  });

  it('the XMLHttpRequest stand-in is what the real module is in Node: false, as Node has no XMLHttpRequest', () => {
    expect(typeof (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest).toBe('undefined');
    expect(realXhrAdapter).toBe(false);
    expect(xhrAdapterStandIn).toBe(realXhrAdapter);
  });

  it('the fetch stand-in reports fetch as unavailable, so naming it would fail in axios, loudly', () => {
    expect(getFetch()).toBe(false);
    expect(getFetch({ env: { fetch: () => undefined } })).toBe(false);
    expect(fetchAdapterStandIn).toBe(false);
  });
});

describe("the SDK's JavaScript SHA-256 and instance-metadata region (stood in for: paths Node in Lambda never takes)", () => {
  it('node:crypto hashes SHA-256, so the SDK builds its native hash and never the JavaScript fallback', async () => {
    const { createHash } = await import('node:crypto');
    const { Sha256 } = await import('@smithy/core/checksum');

    expect(createHash('sha256').update('x').digest('hex')).toHaveLength(64);
    expect(Sha256.name).not.toBe('Sha256Js');
    const hash = new Sha256();
    hash.update(new TextEncoder().encode('abc'));
    expect(Buffer.from(await hash.digest()).toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('the SHA-256 fallback refuses to be built, naming itself', () => {
    expect(() => new Sha256Js()).toThrow(/no JavaScript fallback \(Sha256Js\)/);
  });

  it('the instance-metadata region answers undefined at once, as the real lookup does where there is no such service', async () => {
    expect(await getInstanceMetadataRegion()).toBeUndefined();
  });
});

describe('LAMBDA_TRIMMED_JSON', () => {
  it.each(Object.entries(LAMBDA_TRIMMED_JSON))(
    '%s: its package reads only the kept fields of it (and has them)',
    (file, fields) => {
      const pkgDir = path.join(ROOT, 'node_modules', path.dirname(file));
      const json = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', file), 'utf8')) as Record<string, unknown>;
      for (const field of fields) expect(json[field]).toBeDefined();

      // Every module of the package's ESM build that imports its package.json reads only the kept fields of it.
      const dist = path.join(pkgDir, 'dist-es');
      const readers = readdirSync(dist, { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.js'))
        .map((f) => readFileSync(path.join(dist, f), 'utf8'))
        .filter((code) => /from "\.\.?\/(\.\.\/)*package\.json"/.test(code));
      expect(readers.length).toBeGreaterThan(0);
      for (const code of readers) {
        const name = /import (\w+) from "[./]+package\.json"/.exec(code)?.[1];
        expect(name).toBeDefined();
        const uses = [...code.matchAll(new RegExp(`\\b${name}\\b(\\.\\w+)?`, 'g'))].map((m) => m[1]);
        // The import itself, then only `.field` reads of kept fields.
        expect(uses.slice(1).every((use) => use !== undefined && fields.includes(use.slice(1)))).toBe(true);
      }
    },
  );
});

describe('Lambda credential provider (stands in for the default chain)', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('returns the role credentials Lambda puts in the environment, read on each call', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'example-secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'example-token');
    vi.stubEnv('AWS_CREDENTIAL_EXPIRATION', '2026-11-23T18:00:00Z');
    const provider = defaultProvider({ profile: 'ignored' });

    expect(await provider()).toEqual({
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'example-secret',
      sessionToken: 'example-token',
      expiration: new Date('2026-11-23T18:00:00Z'),
    });
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDROTATED');
    expect((await provider()).accessKeyId).toBe('AKIDROTATED');
  });

  it('leaves out what the environment does not hold', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'example-secret');
    vi.stubEnv('AWS_SESSION_TOKEN', '');
    vi.stubEnv('AWS_CREDENTIAL_EXPIRATION', '');

    expect(await defaultProvider()()).toEqual({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example-secret' });
  });

  it('fails with a named error, and no value in its message, when the keys are missing', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', '');

    const failure = defaultProvider()();

    await expect(failure).rejects.toBeInstanceOf(LambdaCredentialsMissingError);
    await expect(failure).rejects.toThrow(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set/);
    await expect(failure).rejects.not.toThrow(/AKIDEXAMPLE/);
  });
});

describe('LruCache (stands in for mnemonist/lru-cache)', () => {
  it('evicts the least recently used beyond capacity; get refreshes recency, peek does not', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1).set('b', 2);

    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('c', 3); // evicts b
    expect([cache.has('a'), cache.has('b'), cache.has('c')]).toEqual([true, false, true]);

    expect(cache.peek('a')).toBe(1); // a stays the least recent
    cache.set('d', 4); // evicts a
    expect([cache.has('a'), cache.has('c'), cache.has('d')]).toEqual([false, true, true]);
    expect(cache.size).toBe(2);
  });

  it('overwrites in place, returns undefined for absent keys and clears', () => {
    const cache = new LruCache<string, number[]>(5);
    cache.set('k', [1]);
    cache.set('k', []);

    expect(cache.get('k')).toEqual([]);
    expect(cache.get('missing')).toBeUndefined();
    expect(cache.peek('missing')).toBeUndefined();
    cache.clear();
    expect(cache.size).toBe(0);
  });
});

describe('stubs for paths the functions never take', () => {
  it('form-data refuses to build a multipart body', () => {
    expect(() => new FormDataNotBundled()).toThrow(
      /multipart\/form-data bodies are not supported in the Lambda bundles/,
    );
  });

  it('follow-redirects refuses to follow', () => {
    expect(() => followRedirects.https.request()).toThrow(/following redirects is not supported/);
    expect(() => followRedirects.http.get()).toThrow(/use maxRedirects: 0/);
  });

  it('event streams refuse to serialise', () => {
    expect(() => new EventStreamSerde()).toThrow(/event streams are not supported/);
    expect(() => eventStreamSerdeProvider()).toThrow(/event streams are not supported/);
  });

  it('debug hands out silent, disabled loggers', () => {
    const write = vi.spyOn(process.stderr, 'write');
    const debug = createDebug('agent-base');

    debug('connecting %s', 'proxy');
    debug.extend('tunnel')('more');

    expect(debug.enabled).toBe(false);
    expect(debug.extend('tunnel').namespace).toBe('agent-base:tunnel');
    expect(write).not.toHaveBeenCalled();
    write.mockRestore();
  });
});
