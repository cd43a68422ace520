import { randomBytes } from "node:crypto";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { AssumeRoleCommand, type AssumeRoleCommandInput, STSClient } from "@aws-sdk/client-sts";
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TenantClients, TenantCredentials } from "../../src/adapters/aws/tenant-credentials.js";
import { JsonLogger } from "../../src/adapters/local/json-logger.js";
import { TokenCipher } from "../../src/adapters/shared/token-cipher.js";
import { buildAwsAdapters } from "../../src/composition/aws.js";
import type { Adapters } from "../../src/composition/container.js";
import { newTenantId, type TenantId } from "../../src/domain/tenant.js";
import { type AwsStack, startAwsStack } from "../support/aws-stack.js";
import type { Fault, ProxiedRequest } from "../support/emulators/fault-proxy.js";
import { allowS3AccessKey } from "../support/emulators/s3rver.js";
import { installBedrockMock } from "../support/fake-bedrock.js";
import { auditRecord } from "./audit-log.contract.js";
import { newDoc } from "./document-catalog.contract.js";

const ROLE = "arn:aws:iam::000000000000:role/enclave-tenant-access";
const keyOf = (tenant: string) => `ASIA${tenant.slice(2, 18).toUpperCase()}`;

let stack: AwsStack;
let adapters: Adapters;
let clients: { s3: TenantClients<S3Client>; dynamo: TenantClients<DynamoDBDocumentClient> };
let bedrock: ReturnType<typeof installBedrockMock>;
const sts = mockClient(STSClient);
const assumed: AssumeRoleCommandInput[] = [];
const tenantOfKey = new Map<string, string>();
/** Which access key signed a request touching which DynamoDB partition key. */
const signed: { accessKeyId: string; pk: string }[] = [];

const dynamoDenied: Fault = {
  status: 400,
  headers: { "content-type": "application/x-amz-json-1.0" },
  body: JSON.stringify({
    __type: "com.amazon.coral.service#AccessDeniedException",
    Message: "not authorized: dynamodb:LeadingKeys",
  }),
};
const s3Denied: Fault = {
  status: 403,
  headers: { "content-type": "application/xml" },
  body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
};

/** Partition keys a DynamoDB request names (the shapes the adapters send). */
function partitionKeys(body: Buffer): string[] {
  if (body.length === 0) return [];
  const input = JSON.parse(body.toString("utf8")) as Record<string, any>;
  const keys = [input.Key?.pk?.S, input.Item?.pk?.S, input.ExpressionAttributeValues?.[":pk"]?.S];
  for (const table of Object.values(
    (input.RequestItems ?? {}) as Record<string, { Keys?: { pk?: { S?: string } }[] }>,
  )) {
    for (const k of table.Keys ?? []) keys.push(k.pk?.S);
  }
  return keys.filter((k): k is string => typeof k === "string");
}

/**
 * The tenant role's policies, played by the proxies in front of the emulators: a session tagged with a
 * tenant reaches only `tenants/<tenant>/*` in S3 and partition keys led by the tenant id in DynamoDB
 * (infra/lib/tenant-access-role.ts). Requests signed with the service's own key pass.
 */
function playIam(): void {
  stack.proxies.dynamodb.guard = (request: ProxiedRequest, body: Buffer) => {
    const keys = partitionKeys(body);
    for (const pk of keys) signed.push({ accessKeyId: request.accessKeyId ?? "", pk });
    const tenant = tenantOfKey.get(request.accessKeyId ?? "");
    if (!tenant) return undefined;
    return keys.every((pk) => pk === tenant || pk.startsWith(`${tenant}#`)) ? undefined : dynamoDenied;
  };
  stack.proxies.s3.guard = (request: ProxiedRequest) => {
    const tenant = tenantOfKey.get(request.accessKeyId ?? "");
    if (!tenant) return undefined;
    return request.path.includes(`/tenants/${tenant}/`) ? undefined : s3Denied;
  };
}

beforeAll(async () => {
  bedrock = installBedrockMock({ dimensions: 256 });
  sts.on(AssumeRoleCommand).callsFake((input: AssumeRoleCommandInput) => {
    assumed.push(input);
    const tenant = input.Tags?.find((t) => t.Key === "tenant_id")?.Value ?? "";
    const accessKeyId = keyOf(tenant);
    tenantOfKey.set(accessKeyId, tenant);
    allowS3AccessKey(accessKeyId);
    return {
      Credentials: {
        AccessKeyId: accessKeyId,
        SecretAccessKey: "scoped-secret",
        SessionToken: `session-${tenant}`,
        Expiration: new Date(Date.now() + 3600_000),
      },
      AssumedRoleUser: { AssumedRoleId: `AROA:${input.RoleSessionName}`, Arn: `${ROLE}/${input.RoleSessionName}` },
    };
  });
  stack = await startAwsStack({ TENANT_ROLE_ARN: ROLE });
  playIam();
  adapters = await buildAwsAdapters(stack.config, new JsonLogger("silent"), new TokenCipher(randomBytes(32)), {
    onTenantClients: (c) => {
      clients = c;
    },
  });
});

afterAll(async () => {
  await adapters?.close();
  await stack?.stop();
  sts.restore();
  bedrock?.restore();
});

beforeEach(() => {
  assumed.length = 0;
  signed.length = 0;
  stack.proxies.s3.clear();
});

async function writeSomething(tenant: TenantId) {
  await adapters.objects.put(tenant, "documents/d1/original", Buffer.from(`file of ${tenant}`));
  const { document } = await adapters.catalog.create(tenant, newDoc());
  await adapters.audit.append(auditRecord(tenant, new Date()));
  return document;
}

describe("tenant-scoped credentials (STS AssumeRole with a tenant session tag)", () => {
  it("asks STS for credentials tagged with the tenant, once per tenant while they are fresh", async () => {
    const a = newTenantId();
    const b = newTenantId();
    await writeSomething(a);
    await writeSomething(a);
    expect(await adapters.catalog.list(a)).toHaveLength(2);
    await writeSomething(b);
    expect(assumed).toHaveLength(2);
    expect(assumed[0]).toMatchObject({
      RoleArn: ROLE,
      RoleSessionName: `enclave-${a}`,
      DurationSeconds: 3600,
      Tags: [{ Key: "tenant_id", Value: a }],
    });
    expect(assumed[1]).toMatchObject({ RoleArn: ROLE, Tags: [{ Key: "tenant_id", Value: b }] });
  });

  it("reads and writes tenant data with that tenant's credentials, and operator data with the service's", async () => {
    const a = newTenantId();
    await adapters.directory.createTenant({ id: a, name: "A", createdAt: new Date().toISOString() });
    const document = await writeSomething(a);
    expect(await adapters.catalog.get(a, document.id)).toBeDefined();
    expect((await adapters.objects.get(a, "documents/d1/original")).toString()).toBe(`file of ${a}`);
    await adapters.directory.claimEvent(`event:${randomBytes(4).toString("hex")}`, new Date(Date.now() + 60_000));

    const tenantData = signed.filter((s) => s.pk.startsWith(`${a}#`));
    expect(new Set(tenantData.map((s) => s.pk.split("#")[1]))).toEqual(new Set(["doc", "hash", "audit"]));
    expect(new Set(tenantData.map((s) => s.accessKeyId))).toEqual(new Set([keyOf(a)]));
    const objectRequests = stack.proxies.s3.requests.filter((r) => r.path.includes(`/tenants/${a}/`));
    expect(objectRequests.length).toBeGreaterThanOrEqual(2);
    expect(new Set(objectRequests.map((r) => r.accessKeyId))).toEqual(new Set([keyOf(a)]));
    // The directory resolves tenants, so it runs as the service.
    const operator = signed.filter((s) => s.pk === a || s.pk.startsWith("event#"));
    expect(operator.length).toBeGreaterThanOrEqual(2);
    expect(new Set(operator.map((s) => s.accessKeyId))).toEqual(new Set([stack.env.AWS_ACCESS_KEY_ID]));
  });

  it("refuses a buggy call that uses one tenant's client for another tenant's key", async () => {
    const a = newTenantId();
    const b = newTenantId();
    const bDoc = await writeSomething(b);
    await writeSomething(a);
    const table = stack.config.DOCUMENTS_TABLE;
    await expect(
      clients.dynamo.forTenant(a).send(new GetCommand({ TableName: table, Key: { pk: `${b}#doc`, sk: bDoc.id } })),
    ).rejects.toMatchObject({
      name: "AccessDeniedException",
    });
    await expect(
      clients.s3
        .forTenant(a)
        .send(new GetObjectCommand({ Bucket: stack.config.S3_BUCKET, Key: `tenants/${b}/documents/d1/original` })),
    ).rejects.toMatchObject({ name: "AccessDenied" });
    // The same reads through B's own client succeed.
    const own = await clients.dynamo
      .forTenant(b)
      .send(new GetCommand({ TableName: table, Key: { pk: `${b}#doc`, sk: bDoc.id } }));
    expect(own.Item?.sk).toBe(bDoc.id);
  });
});

describe("TenantCredentials cache", () => {
  const fakeSts = (calls: AssumeRoleCommandInput[], lifetimeMs: () => number) =>
    ({
      send: async (command: AssumeRoleCommand) => {
        calls.push(command.input);
        await new Promise((r) => setTimeout(r, 5));
        return {
          Credentials: {
            AccessKeyId: `K${calls.length}`,
            SecretAccessKey: "s",
            SessionToken: "t",
            Expiration: new Date(lifetimeMs()),
          },
        };
      },
    }) as unknown as STSClient;

  it("keeps credentials until five minutes before they expire, then renews; concurrent callers share a request", async () => {
    let now = Date.parse("2025-01-01T00:00:00Z");
    const calls: AssumeRoleCommandInput[] = [];
    const creds = new TenantCredentials(
      fakeSts(calls, () => now + 3600_000),
      { roleArn: ROLE, now: () => now },
      new JsonLogger("silent"),
    );
    const a = newTenantId();
    const [first, second] = await Promise.all([creds.get(a), creds.get(a)]);
    expect(calls).toHaveLength(1);
    expect(second).toBe(first);
    now += 54 * 60_000;
    expect((await creds.get(a)).accessKeyId).toBe("K1");
    now += 2 * 60_000; // 4 minutes left
    expect((await creds.get(a)).accessKeyId).toBe("K2");
    expect(calls).toHaveLength(2);
    await expect(creds.get("not-a-tenant" as TenantId)).rejects.toThrow();
    expect(calls).toHaveLength(2);
  });

  it("gives every tenant the service's own client when no tenant role is configured", () => {
    const base = { name: "base" };
    const scoped = new TenantClients(base, () => ({ name: "scoped" }), undefined);
    expect(scoped.forTenant(newTenantId())).toBe(base);
    expect(scoped.scoped).toBe(false);
  });
});
