// The AWS SDK for JavaScript v3 (its own SigV4 signer, @smithy/signature-v4, and its Smithy
// TypeScript serializers) against vaultd's AWS endpoint, asserting what the SDK returns against
// real AWS. Written against @aws-sdk/client-* 3.1164.0 (package-lock.json; the version in use is
// printed first; that release runs on Node 20, releases from January 2027 on need Node 22).
// Protocols, as the SDK's runtimeConfig.shared.js picks them and the script checks on the wire:
// AwsJson1_1Protocol for KMS, SSM and Secrets Manager, AwsQueryProtocol (a form POST, an XML
// answer) for STS.
//
// - KMS: CreateKey (ARN, KeyState, CreationDate as a Date), CreateAlias, Encrypt / Decrypt through
//   the alias with an encryption context, a wrong context -> InvalidCiphertextException (400),
//   GenerateDataKey(AES_256), ListKeys through paginateListKeys one key a page, an ECC_NIST_P256
//   key's Sign / Verify (ECDSA_SHA_256) with the signature also checked by node:crypto against
//   GetPublicKey's DER SPKI, DescribeKey of a missing key -> NotFoundException;
// - SSM: PutParameter SecureString, GetParameter WithDecryption, paginateGetParametersByPath two
//   parameters a page over three, GetParameter of a missing name -> ParameterNotFound;
// - Secrets Manager: CreateSecret (ARN NAME-XXXXXX, the SDK's own ClientRequestToken as VersionId),
//   GetSecretValue, PutSecretValue then AWSPREVIOUS holds the old value, DescribeSecret's
//   VersionIdsToStages;
// - STS: GetCallerIdentity as root, GetSessionToken(DurationSeconds 900) and then KMS and
//   GetCallerIdentity on the session credentials;
// - SigV4 failures: a wrong secret -> InvalidSignatureException (KMS, 400) / SignatureDoesNotMatch
//   (STS, 403); an unknown access key id -> UnrecognizedClientException (KMS, 400) /
//   InvalidClientTokenId (STS, 403).
//
// Plain Node, no test framework: one `ok:` line per check, `PASS:` at the end; on the first failed
// check `FAIL:` with what was expected and what came back, and exit status 1.
//
// Environment (the standard AWS one; the SDK reads it too, and the endpoint and region are also
// given to each client explicitly):
//   AWS_ENDPOINT_URL       http://HOST:PORT of vaultd's AWS endpoint (required)
//   AWS_ACCESS_KEY_ID      vaultd's root credentials
//   AWS_SECRET_ACCESS_KEY
//   AWS_REGION             us-east-1 unless set
//
// tests/e2e/aws.rs (aws_sdk_for_javascript_v3) installs the pinned packages with `npm ci` under
// CARGO_TARGET_TMPDIR and runs a copy of this file beside them (Node resolves an ES module's
// imports from the module's own directory).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { inspect } from 'node:util';

import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListKeysCommand,
  SignCommand,
  VerifyCommand,
  paginateListKeys,
} from '@aws-sdk/client-kms';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  GetParameterCommand,
  PutParameterCommand,
  SSMClient,
  paginateGetParametersByPath,
} from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';

const ACCOUNT = '000000000000';
const REGION = process.env.AWS_REGION || 'us-east-1';
const ENDPOINT = process.env.AWS_ENDPOINT_URL ?? '';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ROOT_ARN = `arn:aws:iam::${ACCOUNT}:user/root`; // vaultd's root is the IAM user `root`

const require = createRequire(import.meta.url);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function ok(message) {
  console.log(`ok: ${message}`);
}

/** A name no other run uses. */
function unique(prefix) {
  return `${prefix}-${crypto.randomBytes(6).toString('hex')}`;
}

/**
 * A client's configuration: the endpoint under test given explicitly (older SDKs do not read
 * AWS_ENDPOINT_URL), one attempt per call (a retry would hide the answer under test), and the
 * environment's credentials unless others are given.
 */
function config(credentials) {
  return {
    endpoint: ENDPOINT,
    region: REGION,
    maxAttempts: 1,
    ...(credentials ? { credentials } : {}),
  };
}

/**
 * Records each request `client` sends, as signed (method, headers, body), in the returned list:
 * to see which protocol the SDK speaks and what it filled in by itself.
 */
function recordRequests(client) {
  const sent = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const { method, headers, body } = args.request;
      // The JSON protocols' bodies are Uint8Arrays (a string wrapper), the query protocol's strings.
      sent.push({ method, headers: { ...headers }, body: typeof body === 'string' ? body : decoder.decode(body) });
      return next(args);
    },
    { step: 'finalizeRequest', name: 'vaultdRecordRequests', priority: 'low' },
  );
  return sent;
}

/** Awaits `call` and asserts that it fails with the AWS error `name` and HTTP `status`. */
async function expectError(call, name, status, what) {
  let output;
  try {
    output = await call;
  } catch (err) {
    assert.equal(err?.name, name, `${what}: the error's name (${err?.message})`);
    assert.equal(err.$metadata?.httpStatusCode, status, `${what}: HTTP status of ${name}`);
    assert.equal(err.$fault, 'client', `${what}: ${name} is the client's fault`);
    return err;
  }
  assert.fail(`${what}: expected ${name} (${status}), the call succeeded with ${inspect(output)}`);
}

function assertBytes(got, want, what) {
  assert.ok(got instanceof Uint8Array, `${what}: expected a Uint8Array, got ${inspect(got)}`);
  assert.deepEqual(Buffer.from(got), Buffer.from(want), what);
}

function assertRecentDate(got, what) {
  assert.ok(got instanceof Date, `${what}: expected a Date, got ${inspect(got)}`);
  const skew = Math.abs(Date.now() - got.getTime());
  assert.ok(skew < 10 * 60_000, `${what}: ${got.toISOString()} is ${skew} ms from now`);
}

async function kms() {
  const client = new KMSClient(config());
  const sent = recordRequests(client);

  const created = await client.send(
    new CreateKeyCommand({ Description: 'aws-sdk-js v3', Tags: [{ TagKey: 'by', TagValue: 'sdk-js' }] }),
  );
  const key = created.KeyMetadata;
  assert.match(key.KeyId, UUID, 'CreateKey KeyId');
  assert.equal(key.Arn, `arn:aws:kms:${REGION}:${ACCOUNT}:key/${key.KeyId}`, 'CreateKey Arn');
  assert.equal(key.KeyState, 'Enabled', 'CreateKey KeyState');
  assert.equal(key.Enabled, true, 'CreateKey Enabled');
  assert.equal(key.KeySpec, 'SYMMETRIC_DEFAULT', 'CreateKey KeySpec');
  assert.equal(key.KeyUsage, 'ENCRYPT_DECRYPT', 'CreateKey KeyUsage');
  assert.equal(key.AWSAccountId, ACCOUNT, 'CreateKey AWSAccountId');
  assertRecentDate(key.CreationDate, 'CreateKey CreationDate');
  assert.ok(created.$metadata.requestId, `CreateKey: no request id in ${inspect(created.$metadata)}`);
  assert.equal(created.$metadata.httpStatusCode, 200, 'CreateKey HTTP status');
  assert.equal(sent[0].headers['content-type'], 'application/x-amz-json-1.1', 'KMS request Content-Type (awsJson1_1)');
  assert.equal(sent[0].headers['x-amz-target'], 'TrentService.CreateKey', 'KMS request X-Amz-Target');
  ok(`KMS CreateKey (awsJson1_1): ${key.Arn}, Enabled, created ${key.CreationDate.toISOString()}`);

  const alias = `alias/${unique('sdk-js')}`;
  await client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyId }));
  const described = await client.send(new DescribeKeyCommand({ KeyId: alias }));
  assert.equal(described.KeyMetadata.Arn, key.Arn, `DescribeKey(${alias}) Arn`);
  ok(`KMS CreateAlias ${alias}; DescribeKey through it`);

  const plaintext = encoder.encode('sixteen bytes!!\u00e9 and some more, in UTF-8');
  const context = { purpose: 'sdk-js', tenant: 'acme' };
  const encrypted = await client.send(
    new EncryptCommand({ KeyId: alias, Plaintext: plaintext, EncryptionContext: context }),
  );
  assert.ok(encrypted.CiphertextBlob instanceof Uint8Array, 'Encrypt CiphertextBlob is a Uint8Array');
  assert.equal(encrypted.KeyId, key.Arn, 'Encrypt KeyId (the key ARN, even through an alias)');
  assert.equal(encrypted.EncryptionAlgorithm, 'SYMMETRIC_DEFAULT', 'Encrypt EncryptionAlgorithm');
  const decrypted = await client.send(
    new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: context }),
  );
  assertBytes(decrypted.Plaintext, plaintext, 'Decrypt Plaintext');
  assert.equal(decrypted.KeyId, key.Arn, 'Decrypt KeyId');
  ok(`KMS Encrypt through ${alias} with an encryption context / Decrypt: ${plaintext.length} bytes back`);

  await expectError(
    client.send(
      new DecryptCommand({
        CiphertextBlob: encrypted.CiphertextBlob,
        EncryptionContext: { ...context, tenant: 'other' },
      }),
    ),
    'InvalidCiphertextException',
    400,
    'Decrypt with a wrong encryption context',
  );
  ok('KMS Decrypt with a wrong encryption context -> InvalidCiphertextException (400)');

  const dataKey = await client.send(new GenerateDataKeyCommand({ KeyId: key.KeyId, KeySpec: 'AES_256' }));
  assert.ok(dataKey.Plaintext instanceof Uint8Array, 'GenerateDataKey Plaintext is a Uint8Array');
  assert.equal(dataKey.Plaintext.length, 32, 'GenerateDataKey(AES_256) Plaintext length');
  assert.equal(dataKey.KeyId, key.Arn, 'GenerateDataKey KeyId');
  const unwrapped = await client.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob }));
  assertBytes(unwrapped.Plaintext, dataKey.Plaintext, 'Decrypt of the data key');
  ok('KMS GenerateDataKey(AES_256): 32 bytes, which Decrypt of its CiphertextBlob gives back');

  const ecc = (
    await client.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))
  ).KeyMetadata;
  assert.equal(ecc.KeySpec, 'ECC_NIST_P256', 'CreateKey(ECC_NIST_P256) KeySpec');
  assert.deepEqual(ecc.SigningAlgorithms, ['ECDSA_SHA_256'], 'ECC_NIST_P256 SigningAlgorithms');
  const message = encoder.encode(`signed by aws-sdk-js ${unique('m')}`);
  const signed = await client.send(
    new SignCommand({ KeyId: ecc.KeyId, Message: message, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' }),
  );
  assert.equal(signed.SigningAlgorithm, 'ECDSA_SHA_256', 'Sign SigningAlgorithm');
  assert.equal(signed.KeyId, ecc.Arn, 'Sign KeyId');
  const verified = await client.send(
    new VerifyCommand({
      KeyId: ecc.KeyId,
      Message: message,
      MessageType: 'RAW',
      Signature: signed.Signature,
      SigningAlgorithm: 'ECDSA_SHA_256',
    }),
  );
  assert.equal(verified.SignatureValid, true, 'Verify SignatureValid');
  const publicKey = await client.send(new GetPublicKeyCommand({ KeyId: ecc.KeyId }));
  assert.equal(publicKey.KeySpec, 'ECC_NIST_P256', 'GetPublicKey KeySpec');
  const spki = crypto.createPublicKey({ key: Buffer.from(publicKey.PublicKey), format: 'der', type: 'spki' });
  assert.equal(spki.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'GetPublicKey curve');
  assert.equal(
    crypto.verify('sha256', message, { key: spki, dsaEncoding: 'der' }, signed.Signature),
    true,
    'node:crypto verifies the KMS ECDSA signature (DER) with the GetPublicKey SPKI',
  );
  const tampered = Buffer.concat([Buffer.from(message), Buffer.from('!')]);
  assert.equal(
    crypto.verify('sha256', tampered, { key: spki, dsaEncoding: 'der' }, signed.Signature),
    false,
    'node:crypto refuses the signature for another message',
  );
  ok('KMS ECC_NIST_P256 Sign / Verify (ECDSA_SHA_256); node:crypto verifies it with GetPublicKey\'s SPKI');

  // Every key, one a page: the paginator follows NextMarker until Truncated is false.
  const pages = [];
  for await (const page of paginateListKeys({ client, pageSize: 1 }, {})) {
    pages.push(page);
  }
  const listed = pages.flatMap((page) => page.Keys.map((k) => k.KeyId));
  assert.ok(pages.length >= 2, `paginateListKeys(pageSize 1): expected 2 pages or more, got ${pages.length}`);
  for (const [i, page] of pages.entries()) {
    assert.equal(page.Keys.length, 1, `ListKeys(Limit 1) page ${i + 1}: number of keys`);
    assert.equal(page.Truncated, i < pages.length - 1, `ListKeys page ${i + 1} of ${pages.length}: Truncated`);
  }
  assert.equal(new Set(listed).size, listed.length, `paginateListKeys listed a key twice: ${listed}`);
  for (const id of [key.KeyId, ecc.KeyId]) {
    assert.ok(listed.includes(id), `paginateListKeys: ${id} missing from ${listed}`);
  }
  const all = await client.send(new ListKeysCommand({}));
  assert.deepEqual(listed.toSorted(), all.Keys.map((k) => k.KeyId).toSorted(), 'paginated keys = ListKeys');
  ok(`KMS paginateListKeys(pageSize 1): ${pages.length} pages of one key, each key once`);

  const missing = crypto.randomUUID();
  await expectError(
    client.send(new DescribeKeyCommand({ KeyId: missing })),
    'NotFoundException',
    400,
    'DescribeKey of a missing key',
  );
  ok('KMS DescribeKey of a missing key -> NotFoundException (400)');
}

async function ssm() {
  const client = new SSMClient(config());
  const path = `/${unique('sdk-js')}/app`;
  const name = `${path}/db-password`;
  const value = 'correct horse battery staple';

  const put = await client.send(new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString' }));
  assert.equal(put.Version, 1, 'PutParameter Version');
  assert.equal(put.Tier, 'Standard', 'PutParameter Tier');
  const plain = (await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }))).Parameter;
  assert.equal(plain.Value, value, 'GetParameter(WithDecryption) Value');
  assert.equal(plain.Type, 'SecureString', 'GetParameter Type');
  assert.equal(plain.Version, 1, 'GetParameter Version');
  assert.equal(plain.ARN, `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}`, 'GetParameter ARN');
  assertRecentDate(plain.LastModifiedDate, 'GetParameter LastModifiedDate');
  const sealed = (await client.send(new GetParameterCommand({ Name: name }))).Parameter;
  assert.notEqual(sealed.Value, value, 'GetParameter without decryption must not return the plaintext');
  ok(`SSM PutParameter SecureString ${name}; GetParameter WithDecryption gives it back (and only with it)`);

  const names = [name];
  for (const leaf of ['host', 'port']) {
    await client.send(new PutParameterCommand({ Name: `${path}/${leaf}`, Value: leaf, Type: 'String' }));
    names.push(`${path}/${leaf}`);
  }
  const pages = [];
  for await (const page of paginateGetParametersByPath(
    { client, pageSize: 2 },
    { Path: path, WithDecryption: true },
  )) {
    pages.push(page);
  }
  assert.deepEqual(pages.map((p) => p.Parameters.length), [2, 1], 'paginateGetParametersByPath(pageSize 2) pages');
  const found = pages.flatMap((p) => p.Parameters);
  assert.deepEqual(found.map((p) => p.Name).toSorted(), names.toSorted(), 'GetParametersByPath names');
  assert.equal(found.find((p) => p.Name === name).Value, value, 'GetParametersByPath(WithDecryption) Value');
  ok(`SSM paginateGetParametersByPath(${path}, pageSize 2): pages of 2 and 1, decrypted`);

  await expectError(
    client.send(new GetParameterCommand({ Name: `${path}/missing` })),
    'ParameterNotFound',
    400,
    'GetParameter of a missing name',
  );
  ok('SSM GetParameter of a missing name -> ParameterNotFound (400)');
}

async function secretsManager() {
  const client = new SecretsManagerClient(config());
  const sent = recordRequests(client);
  const name = unique('sdk-js/secret');
  const first = JSON.stringify({ user: 'app', password: 'first' });
  const second = JSON.stringify({ user: 'app', password: 'second' });

  const created = await client.send(new CreateSecretCommand({ Name: name, SecretString: first }));
  const arnPrefix = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-`;
  assert.ok(
    created.ARN.startsWith(arnPrefix) && /^[A-Za-z0-9]{6}$/.test(created.ARN.slice(arnPrefix.length)),
    `CreateSecret ARN: expected ${arnPrefix}XXXXXX, got ${created.ARN}`,
  );
  assert.equal(created.Name, name, 'CreateSecret Name');
  // The SDK fills ClientRequestToken (an idempotency token, a UUID) itself; AWS makes it the
  // version's id.
  const token = JSON.parse(sent[0].body).ClientRequestToken;
  assert.match(token ?? '', UUID, 'the ClientRequestToken the SDK generated for CreateSecret');
  assert.equal(created.VersionId, token, 'CreateSecret VersionId (the request\'s ClientRequestToken)');
  ok(`Secrets Manager CreateSecret: ${created.ARN}, version ${created.VersionId}`);

  const current = await client.send(new GetSecretValueCommand({ SecretId: name }));
  assert.equal(current.SecretString, first, 'GetSecretValue SecretString');
  assert.equal(current.VersionId, created.VersionId, 'GetSecretValue VersionId');
  assert.deepEqual(current.VersionStages, ['AWSCURRENT'], 'GetSecretValue VersionStages');
  assert.equal(current.ARN, created.ARN, 'GetSecretValue ARN');
  assertRecentDate(current.CreatedDate, 'GetSecretValue CreatedDate');
  ok('Secrets Manager GetSecretValue: the AWSCURRENT version');

  const put = await client.send(new PutSecretValueCommand({ SecretId: created.ARN, SecretString: second }));
  assert.match(put.VersionId, UUID, 'PutSecretValue VersionId');
  assert.notEqual(put.VersionId, created.VersionId, 'PutSecretValue makes a new version');
  assert.deepEqual(put.VersionStages, ['AWSCURRENT'], 'PutSecretValue VersionStages');
  const now = await client.send(new GetSecretValueCommand({ SecretId: name }));
  assert.equal(now.SecretString, second, 'GetSecretValue after PutSecretValue');
  const previous = await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }));
  assert.equal(previous.SecretString, first, 'GetSecretValue(AWSPREVIOUS) SecretString');
  assert.equal(previous.VersionId, created.VersionId, 'GetSecretValue(AWSPREVIOUS) VersionId');
  ok('Secrets Manager PutSecretValue: the new value is AWSCURRENT, the old one AWSPREVIOUS');

  const description = await client.send(new DescribeSecretCommand({ SecretId: name }));
  const stages = Object.fromEntries(
    Object.entries(description.VersionIdsToStages ?? {}).map(([id, s]) => [id, s.toSorted()]),
  );
  assert.deepEqual(
    stages,
    { [created.VersionId]: ['AWSPREVIOUS'], [put.VersionId]: ['AWSCURRENT'] },
    'DescribeSecret VersionIdsToStages',
  );
  assert.equal(description.ARN, created.ARN, 'DescribeSecret ARN');
  ok('Secrets Manager DescribeSecret VersionIdsToStages: {first: AWSPREVIOUS, second: AWSCURRENT}');
}

async function sts() {
  const client = new STSClient(config());
  const sent = recordRequests(client);
  const who = await client.send(new GetCallerIdentityCommand({}));
  assert.equal(
    sent[0].headers['content-type'],
    'application/x-www-form-urlencoded',
    'STS request Content-Type (awsQuery)',
  );
  assert.equal(sent[0].body, 'Action=GetCallerIdentity&Version=2011-06-15', 'STS request body (awsQuery)');
  assert.equal(who.Account, ACCOUNT, 'GetCallerIdentity Account');
  assert.equal(who.Arn, ROOT_ARN, 'GetCallerIdentity Arn');
  assert.ok(who.UserId, `GetCallerIdentity: no UserId in ${inspect(who)}`);
  assert.ok(who.$metadata.requestId, `GetCallerIdentity: no request id in ${inspect(who.$metadata)}`);
  ok(`STS GetCallerIdentity (awsQuery: a form POST, an XML answer): ${who.Arn} in ${who.Account}`);

  const before = Date.now();
  const { Credentials: creds } = await client.send(new GetSessionTokenCommand({ DurationSeconds: 900 }));
  assert.match(creds.AccessKeyId, /^ASIA[A-Z0-9]{16}$/, 'GetSessionToken AccessKeyId');
  assert.ok(creds.SecretAccessKey && creds.SessionToken, 'GetSessionToken: a secret and a session token');
  assert.ok(creds.Expiration instanceof Date, `GetSessionToken Expiration: ${inspect(creds.Expiration)}`);
  const lifetime = (creds.Expiration.getTime() - before) / 1000;
  assert.ok(lifetime >= 840 && lifetime <= 960, `GetSessionToken(900) expires in ${lifetime} s, expected about 900`);
  ok(`STS GetSessionToken(DurationSeconds 900): ${creds.AccessKeyId}, expiring in ${lifetime.toFixed(0)} s`);

  const session = {
    accessKeyId: creds.AccessKeyId,
    secretAccessKey: creds.SecretAccessKey,
    sessionToken: creds.SessionToken,
  };
  const sessionKms = new KMSClient(config(session));
  const key = (await sessionKms.send(new CreateKeyCommand({}))).KeyMetadata;
  const blob = (await sessionKms.send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: encoder.encode('s') })))
    .CiphertextBlob;
  const back = await sessionKms.send(new DecryptCommand({ CiphertextBlob: blob }));
  assert.equal(decoder.decode(back.Plaintext), 's', 'Decrypt with session credentials');
  const sessionWho = await new STSClient(config(session)).send(new GetCallerIdentityCommand({}));
  assert.equal(sessionWho.Arn, ROOT_ARN, 'GetCallerIdentity with session credentials: Arn');
  assert.equal(sessionWho.Account, ACCOUNT, 'GetCallerIdentity with session credentials: Account');
  ok('session credentials (X-Amz-Security-Token): KMS CreateKey / Encrypt / Decrypt and GetCallerIdentity work');
}

async function badSignatures() {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secret = process.env.AWS_SECRET_ACCESS_KEY;
  const wrong = { accessKeyId, secretAccessKey: secret.slice(0, -4) + (secret.endsWith('AAAA') ? 'BBBB' : 'AAAA') };
  const kmsErr = await expectError(
    new KMSClient(config(wrong)).send(new ListKeysCommand({})),
    'InvalidSignatureException',
    400,
    'KMS call signed with a wrong secret',
  );
  assert.match(kmsErr.message, /signature/i, 'InvalidSignatureException message');
  await expectError(
    new STSClient(config(wrong)).send(new GetCallerIdentityCommand({})),
    'SignatureDoesNotMatch',
    403,
    'STS call signed with a wrong secret',
  );
  ok('a wrong secret -> InvalidSignatureException (KMS, 400) / SignatureDoesNotMatch (STS, 403)');

  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const unknownId = 'AKIA' + Array.from(crypto.randomBytes(16), (b) => alphabet[b % 32]).join('');
  const unknown = { accessKeyId: unknownId, secretAccessKey: secret };
  await expectError(
    new KMSClient(config(unknown)).send(new ListKeysCommand({})),
    'UnrecognizedClientException',
    400,
    'KMS call with an unknown access key id',
  );
  await expectError(
    new STSClient(config(unknown)).send(new GetCallerIdentityCommand({})),
    'InvalidClientTokenId',
    403,
    'STS call with an unknown access key id',
  );
  ok('an unknown access key id -> UnrecognizedClientException (KMS, 400) / InvalidClientTokenId (STS, 403)');
}

async function main() {
  assert.match(ENDPOINT, /^https?:\/\//, 'AWS_ENDPOINT_URL must be the endpoint under test');
  assert.ok(process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY, 'AWS credentials in the environment');
  const version = require('@aws-sdk/client-kms/package.json').version;
  ok(`AWS SDK for JavaScript v3 ${version} on Node ${process.version}, against ${ENDPOINT}`);
  await kms();
  await ssm();
  await secretsManager();
  await sts();
  await badSignatures();
  console.log('PASS: AWS SDK for JavaScript v3 (KMS, SSM, Secrets Manager, STS, SigV4 failures)');
}

try {
  await main();
} catch (err) {
  const lines = [`FAIL: ${err?.message ?? err}`];
  if (err instanceof assert.AssertionError) {
    lines.push(`  expected: ${inspect(err.expected, { depth: 6 })}`);
    lines.push(`  got:      ${inspect(err.actual, { depth: 6 })}`);
  } else if (err?.$metadata) {
    // An AWS error the script did not expect: what the SDK made of the answer.
    lines.push(`  ${err.name} (HTTP ${err.$metadata.httpStatusCode}, fault ${err.$fault})`);
    if (err.$response) {
      lines.push(`  response: ${inspect(err.$response, { depth: 3 })}`);
    }
  }
  console.log(lines.join('\n'));
  console.error(err?.stack ?? err);
  process.exitCode = 1;
}
