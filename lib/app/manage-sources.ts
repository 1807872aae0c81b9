/**
 * Operator use cases shared by the CLI and the local runner: add, pause, resume, update credentials, remove.
 * Adding stores the non-secret config with a fresh machine snapshot (due now) and the credentials in the credential
 * store; updating credentials sends `credentials.changed`, which un-parks an auth-rejected source.
 */
import { VersionConflictError } from '../domain/errors.js';
import type { SourceConfig, SourceCredentials } from '../domain/source.js';
import { contextOf, startSource } from '../machines/source/source.snapshot.js';
import { nextWakeAt } from '../machines/source/source.view.js';
import type { CredentialAdmin } from '../ports/credential.store.port.js';
import type { SessionStore } from '../ports/session.store.port.js';
import type { SourceRecord } from '../ports/source.store.port.js';
import type { CoreDeps } from './app.deps.js';
import { applySourceEvent } from './apply-event.js';
import { describeStatus } from './source-status.js';

export interface ManageDeps extends Pick<CoreDeps, 'sources' | 'specFor' | 'parkedHints' | 'clock' | 'log'> {
  credentials: CredentialAdmin;
  sessions?: SessionStore;
}

/** Add a source, or update an existing one's config and credentials (then `credentials.changed` is sent). */
export async function addOrUpdateSource(
  deps: ManageDeps,
  config: SourceConfig,
  credentials: SourceCredentials,
): Promise<{ created: boolean; record: SourceRecord }> {
  const existing = await deps.sources.get(config.id);
  await deps.credentials.put(config.id, credentials);
  if (existing) {
    await deps.sources.save({ ...existing, config }, existing.version);
    const applied = await updateCredentialsApplied(deps, config.id);
    return { created: false, record: applied ?? existing };
  }
  const now = deps.clock.now();
  const spec = deps.specFor(config);
  const { snapshot, machineVersion } = startSource(spec, config.id, now);
  const { context, value } = contextOf(spec, snapshot, machineVersion);
  try {
    const record = await deps.sources.create({
      id: config.id,
      config,
      snapshot,
      machineVersion,
      status: describeStatus(context, value, deps.parkedHints),
      nextDueAt: nextWakeAt(context, value),
    });
    return { created: true, record };
  } catch (err) {
    if (err instanceof VersionConflictError) return addOrUpdateSource(deps, config, credentials);
    throw err;
  }
}

export async function pauseSource(deps: ManageDeps, id: string) {
  return applySourceEvent(deps, id, { type: 'source.paused', now: deps.clock.now() });
}

export async function resumeSource(deps: ManageDeps, id: string) {
  return applySourceEvent(deps, id, { type: 'source.resumed', now: deps.clock.now() });
}

export async function updateCredentials(deps: ManageDeps, id: string, credentials: SourceCredentials) {
  await deps.credentials.put(id, credentials);
  return updateCredentialsApplied(deps, id);
}

async function updateCredentialsApplied(deps: ManageDeps, id: string) {
  await deps.sessions?.clear(id);
  const applied = await applySourceEvent(deps, id, { type: 'credentials.changed', now: deps.clock.now() });
  return applied?.record;
}

export async function removeSource(deps: ManageDeps, id: string): Promise<void> {
  await deps.sources.remove(id);
  await deps.credentials.remove(id);
  await deps.sessions?.clear(id);
}
