import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { useSecretsStandIn } from '../helpers/emulators.helper.js';

const standIn = useSecretsStandIn();
let n = 0;
const token = (c: string) => c.repeat(36);

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  return p.then(
    () => ({ name: 'no error', message: '' }),
    (e: { name: string; message: string }) => ({ name: e.name, message: e.message }),
  );
}

describe('Secrets Manager stand-in, through the real SDK', () => {
  it('creates, reads by name and ARN, and refuses duplicates', async () => {
    const name = `s${++n}`;
    const created = await standIn.client.send(
      new CreateSecretCommand({ Name: name, SecretString: 'v1', ClientRequestToken: token('a') }),
    );
    expect(created.VersionId).toBe(token('a'));
    expect(created.ARN).toMatch(
      new RegExp(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-[0-9a-f]{6}$`),
    );
    const byArn = await standIn.client.send(new GetSecretValueCommand({ SecretId: created.ARN }));
    expect(byArn).toMatchObject({ Name: name, SecretString: 'v1', VersionStages: ['AWSCURRENT'] });
    expect(byArn.CreatedDate).toBeInstanceOf(Date);
    expect((await errorOf(standIn.client.send(new CreateSecretCommand({ Name: name, SecretString: 'x' })))).name).toBe(
      'ResourceExistsException',
    );
    expect((await errorOf(standIn.client.send(new GetSecretValueCommand({ SecretId: 'nope' })))).name).toBe(
      'ResourceNotFoundException',
    );
  });

  it('stages AWSCURRENT/AWSPREVIOUS and serves versions by id or stage', async () => {
    const name = `s${++n}`;
    await standIn.client.send(
      new CreateSecretCommand({ Name: name, SecretString: 'v1', ClientRequestToken: token('a') }),
    );
    await standIn.client.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token('b') }),
    );
    await standIn.client.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'v3', ClientRequestToken: token('c') }),
    );
    const described = await standIn.client.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.VersionIdsToStages).toEqual({ [token('b')]: ['AWSPREVIOUS'], [token('c')]: ['AWSCURRENT'] });
    expect(
      (await standIn.client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' })))
        .SecretString,
    ).toBe('v2');
    expect(
      (await standIn.client.send(new GetSecretValueCommand({ SecretId: name, VersionId: token('a') }))).SecretString,
    ).toBe('v1');
    expect(
      (
        await errorOf(
          standIn.client.send(
            new GetSecretValueCommand({ SecretId: name, VersionId: token('a'), VersionStage: 'AWSCURRENT' }),
          ),
        )
      ).name,
    ).toBe('ResourceNotFoundException');
  });

  it('treats a repeated token with the same value as a retry, and with another value as an error', async () => {
    const name = `s${++n}`;
    await standIn.client.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    await standIn.client.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token('d') }),
    );
    const again = await standIn.client.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token('d') }),
    );
    expect(again.VersionId).toBe(token('d'));
    expect(
      Object.keys((await standIn.client.send(new DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages ?? {}),
    ).toHaveLength(2);
    const err = await errorOf(
      standIn.client.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: 'other', ClientRequestToken: token('d') }),
      ),
    );
    expect(err.name).toBe('ResourceExistsException');
  });

  it('rejects values over 64 KB without echoing them', async () => {
    const name = `s${++n}`;
    await standIn.client.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    const err = await errorOf(
      standIn.client.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'Z'.repeat(65_537) })),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.message).not.toContain('ZZZZ');
    await standIn.client.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'Z'.repeat(65_536) }));
  });

  it('moves a staging label only from the version named in RemoveFromVersionId', async () => {
    const name = `s${++n}`;
    await standIn.client.send(
      new CreateSecretCommand({ Name: name, SecretString: 'v1', ClientRequestToken: token('a') }),
    );
    await standIn.client.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: 'v2',
        ClientRequestToken: token('b'),
        VersionStages: ['PENDING'],
      }),
    );
    expect((await standIn.client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('v1');

    const stale = await errorOf(
      standIn.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token('b'),
          RemoveFromVersionId: token('z'),
        }),
      ),
    );
    expect(stale.name).toBe('InvalidParameterException');
    const missing = await errorOf(
      standIn.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token('b'),
        }),
      ),
    );
    expect(missing.name).toBe('InvalidParameterException');

    await standIn.client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token('b'),
        RemoveFromVersionId: token('a'),
      }),
    );
    expect((await standIn.client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('v2');
    expect((await standIn.client.send(new DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages).toEqual({
      [token('a')]: ['AWSPREVIOUS'],
      [token('b')]: ['PENDING', 'AWSCURRENT'],
    });
  });

  it('deletes with a recovery window, restores, and force-deletes', async () => {
    const name = `s${++n}`;
    await standIn.client.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    await standIn.client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    expect((await errorOf(standIn.client.send(new GetSecretValueCommand({ SecretId: name })))).name).toBe(
      'InvalidRequestException',
    );
    expect((await standIn.client.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate).toBeInstanceOf(Date);
    expect((await errorOf(standIn.client.send(new CreateSecretCommand({ Name: name, SecretString: 'x' })))).name).toBe(
      'InvalidRequestException',
    );
    await standIn.client.send(new RestoreSecretCommand({ SecretId: name }));
    expect((await standIn.client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('v1');

    const both = await errorOf(
      standIn.client.send(
        new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true }),
      ),
    );
    expect(both.name).toBe('InvalidParameterException');
    await standIn.client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    expect((await errorOf(standIn.client.send(new GetSecretValueCommand({ SecretId: name })))).name).toBe(
      'ResourceNotFoundException',
    );
  });

  it('lists by name prefix with pagination, and updates description and value', async () => {
    const prefix = `list${++n}/`;
    for (const i of [0, 1, 2])
      await standIn.client.send(new CreateSecretCommand({ Name: `${prefix}${i}`, SecretString: 'v' }));
    const first = await standIn.client.send(
      new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }], MaxResults: 2 }),
    );
    expect(first.SecretList?.map((s) => s.Name)).toEqual([`${prefix}0`, `${prefix}1`]);
    const second = await standIn.client.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'name', Values: [prefix] }],
        MaxResults: 2,
        NextToken: first.NextToken,
      }),
    );
    expect(second.SecretList?.map((s) => s.Name)).toEqual([`${prefix}2`]);
    expect(second.NextToken).toBeUndefined();

    const updated = await standIn.client.send(
      new UpdateSecretCommand({ SecretId: `${prefix}0`, Description: 'd', SecretString: 'v2' }),
    );
    expect(updated.VersionId).toBeDefined();
    expect((await standIn.client.send(new DescribeSecretCommand({ SecretId: `${prefix}0` }))).Description).toBe('d');
    expect((await standIn.client.send(new GetSecretValueCommand({ SecretId: `${prefix}0` }))).SecretString).toBe('v2');
  });
});
