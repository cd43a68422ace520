import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseModelId } from "../../infra/lib/bedrock.js";
import { EnclaveStack, OPEN_ROUTES, PROTECTED_ROUTES } from "../../infra/lib/enclave-stack.js";
import { resolveSettings, SettingsError } from "../../infra/lib/settings.js";
import { TENANT_TAG_PATTERN } from "../../infra/lib/tenant-access-role.js";
import { newTenantId } from "../../src/domain/tenant.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CDK_CONTEXT = JSON.parse(readFileSync(join(REPO_ROOT, "infra/cdk.json"), "utf8")).context as Record<
  string,
  unknown
>;

/** Builds the stack without esbuild (placeholder code), with the feature flags of infra/cdk.json. */
function synth(settings: Record<string, unknown> = {}): Template {
  const app = new App({ context: CDK_CONTEXT });
  return Template.fromStack(new EnclaveStack(app, "Enclave", { bundle: false, settings }));
}

interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
}
interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** CloudFormation value to a readable string: {Ref: X} -> ${X}, GetAtt -> ${X.Attr}, Fn::Join joined. */
function render(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.Ref === "string") return `\${${o.Ref}}`;
    const getAtt = o["Fn::GetAtt"];
    if (Array.isArray(getAtt)) return `\${${getAtt.join(".")}}`;
    const join = o["Fn::Join"];
    if (Array.isArray(join)) return (join[1] as unknown[]).map(render).join(join[0] as string);
  }
  return JSON.stringify(v);
}

function resources(template: Template, type: string): [string, CfnResource][] {
  return Object.entries(template.findResources(type)) as [string, CfnResource][];
}

function onlyResource(template: Template, type: string, props?: Record<string, unknown>): [string, CfnResource] {
  const found = Object.entries(template.findResources(type, props ? { Properties: props } : undefined));
  expect(found).toHaveLength(1);
  return found[0] as [string, CfnResource];
}

/** Every identity-policy statement, with the logical ids of the roles it is attached to. */
function identityStatements(template: Template): { roles: string[]; statement: Statement }[] {
  const out: { roles: string[]; statement: Statement }[] = [];
  for (const [, policy] of resources(template, "AWS::IAM::Policy")) {
    const roles = arr(policy.Properties.Roles as unknown[]).map((r) => render(r).replace(/^\$\{|\}$/g, ""));
    const doc = policy.Properties.PolicyDocument as { Statement: Statement[] };
    for (const statement of doc.Statement) out.push({ roles, statement });
  }
  for (const [id, role] of resources(template, "AWS::IAM::Role")) {
    for (const p of arr(role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[])) {
      for (const statement of p.PolicyDocument.Statement) out.push({ roles: [id], statement });
    }
  }
  return out;
}

function roleIdOf(template: Template, functionDescriptionPrefix: string): string {
  const [, fn] = onlyResource(
    template,
    "AWS::Lambda::Function",
    Match.objectLike({ Description: Match.stringLikeRegexp(`^${functionDescriptionPrefix}`) }) as never,
  );
  return render(fn.Properties.Role).replace(/^\$\{|\.Arn\}$/g, "");
}

describe("Enclave stack (default settings)", () => {
  let template: Template;
  beforeAll(() => {
    template = synth();
  }, 60_000);

  describe("Cognito", () => {
    it("has custom:tenant_id immutable, e-mail sign-in and a sensible password policy", () => {
      const [, pool] = onlyResource(template, "AWS::Cognito::UserPool");
      const schema = pool.Properties.Schema as { Name: string; Mutable?: boolean }[];
      expect(schema.find((a) => a.Name === "tenant_id")).toMatchObject({ Mutable: false, AttributeDataType: "String" });
      expect(pool.Properties.UsernameAttributes).toEqual(["email"]);
      const policy = (pool.Properties.Policies as { PasswordPolicy: Record<string, unknown> }).PasswordPolicy;
      expect(policy).toMatchObject({ RequireLowercase: true, RequireUppercase: true, RequireNumbers: true });
      expect(policy.MinimumLength).toBeGreaterThanOrEqual(8);
      expect(policy.TemporaryPasswordValidityDays).toBeLessThanOrEqual(7);
    });

    it("has an app client without a secret, with USER_PASSWORD_AUTH and SRP, that cannot write custom:tenant_id", () => {
      const [, client] = onlyResource(template, "AWS::Cognito::UserPoolClient", { GenerateSecret: false });
      expect(client.Properties.GenerateSecret).toBe(false);
      expect(client.Properties.ExplicitAuthFlows).toEqual(
        expect.arrayContaining(["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"]),
      );
      const write = client.Properties.WriteAttributes as string[];
      expect(write.length).toBeGreaterThan(0); // an absent list would mean "all writable"
      expect(write).not.toContain("custom:tenant_id");
      expect(write).not.toContain("email_verified");
      expect(client.Properties.ReadAttributes).toContain("custom:tenant_id");
    });

    it("lets only the server-only sign-up client (with a secret kept in Secrets Manager) write custom:tenant_id", () => {
      const clients = resources(template, "AWS::Cognito::UserPoolClient");
      expect(clients).toHaveLength(2);
      const writers = clients.filter(([, c]) =>
        (c.Properties.WriteAttributes as string[]).includes("custom:tenant_id"),
      );
      expect(writers).toHaveLength(1);
      const [signupId, signup] = writers[0] as [string, CfnResource];
      expect(signup.Properties.GenerateSecret).toBe(true);
      expect(signup.Properties.ExplicitAuthFlows).toEqual(["ALLOW_REFRESH_TOKEN_AUTH"]);
      const [secretId] = onlyResource(template, "AWS::SecretsManager::Secret", {
        SecretString: { "Fn::GetAtt": [signupId, "ClientSecret"] },
      });
      for (const [, fn] of appFunctions(template)) {
        const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
        expect(env.COGNITO_SIGNUP_CLIENT_ID).toEqual({ Ref: signupId });
        expect(env.COGNITO_SIGNUP_CLIENT_SECRET_ARN).toEqual({ Ref: secretId });
      }
    });
  });

  describe("upload limit", () => {
    it("caps web uploads on the HTTP function below Lambda's 6 MB request limit, not on the worker", () => {
      const limits = appFunctions(template).map(([id, fn]) => [
        id.startsWith("HttpFunction") ? "http" : "worker",
        (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.MAX_FILE_BYTES,
      ]);
      expect(Object.fromEntries(limits)).toEqual({ http: String(4 * 1024 * 1024), worker: undefined });
    });
  });

  describe("API Gateway", () => {
    const routes = () =>
      resources(template, "AWS::ApiGatewayV2::Route").map(([, r]) => ({
        key: r.Properties.RouteKey as string,
        authType: r.Properties.AuthorizationType as string | undefined,
        authorizer: r.Properties.AuthorizerId,
        target: render(r.Properties.Target),
      }));

    it("puts the Cognito JWT authorizer on /api and /api/*", () => {
      const [authorizerId, authorizer] = onlyResource(template, "AWS::ApiGatewayV2::Authorizer");
      const [poolId] = onlyResource(template, "AWS::Cognito::UserPool");
      const [clientId] = onlyResource(template, "AWS::Cognito::UserPoolClient", { GenerateSecret: false });
      expect(authorizer.Properties.AuthorizerType).toBe("JWT");
      const jwt = authorizer.Properties.JwtConfiguration as { Issuer: unknown; Audience: unknown[] };
      expect(render(jwt.Issuer)).toBe(`https://cognito-idp.\${AWS::Region}.amazonaws.com/\${${poolId}}`);
      expect(jwt.Audience.map(render)).toEqual([`\${${clientId}}`]);

      for (const path of PROTECTED_ROUTES) {
        const route = routes().find((r) => r.key === `ANY ${path}`);
        expect(route, path).toBeDefined();
        expect(route?.authType).toBe("JWT");
        expect(route?.authorizer).toEqual({ Ref: authorizerId });
      }
      expect(PROTECTED_ROUTES).toEqual(["/api", "/api/{proxy+}"]);
    });

    it("leaves auth, Slack, link, health, .well-known and the web pages open, and authorizes nothing else", () => {
      const open = routes().filter((r) => r.authType === undefined || r.authType === "NONE");
      expect(open.map((r) => r.key).sort()).toEqual([...OPEN_ROUTES.map((p) => `ANY ${p}`), "$default"].sort());
      expect(OPEN_ROUTES).toEqual(
        expect.arrayContaining(["/auth/{proxy+}", "/slack/{proxy+}", "/link", "/health", "/.well-known/{proxy+}"]),
      );
      for (const r of routes()) {
        if (r.key.includes(" /api")) expect(r.authType, r.key).toBe("JWT");
        else expect(r.authType, r.key).not.toBe("JWT");
      }
    });

    it("sends every route to the HTTP function (payload v2)", () => {
      const [integrationId, integration] = onlyResource(template, "AWS::ApiGatewayV2::Integration");
      expect(integration.Properties.PayloadFormatVersion).toBe("2.0");
      expect(render(integration.Properties.IntegrationUri)).toMatch(/^\$\{HttpFunction[A-Z0-9]+\.Arn\}$/);
      for (const r of routes()) expect(r.target).toBe(`integrations/\${${integrationId}}`);
    });
  });

  describe("Lambda", () => {
    it("runs both functions on Node.js 22, arm64, with their own log group with retention", () => {
      const fns = appFunctions(template);
      expect(fns).toHaveLength(2);
      const groups = Object.fromEntries(resources(template, "AWS::Logs::LogGroup"));
      for (const [, fn] of fns) {
        expect(fn.Properties).toMatchObject({ Runtime: "nodejs22.x", Architectures: ["arm64"] });
        const groupId = render((fn.Properties.LoggingConfig as { LogGroup: unknown }).LogGroup).slice(2, -1);
        expect(groups[groupId]?.Properties.RetentionInDays).toBe(30);
      }
    });

    it("sizes the HTTP function for API Gateway and the worker for PDF parsing, with reserved concurrency", () => {
      template.hasResourceProperties("AWS::Lambda::Function", {
        Description: Match.stringLikeRegexp("^Enclave: web UI"),
        MemorySize: 1024,
        Timeout: 29,
        ReservedConcurrentExecutions: Match.absent(),
      });
      template.hasResourceProperties("AWS::Lambda::Function", {
        Description: Match.stringLikeRegexp("^Enclave: ingest"),
        MemorySize: 2048,
        Timeout: 300,
        ReservedConcurrentExecutions: 10,
      });
    });

    it("feeds the worker from the queue, one job per invocation, reporting item failures", () => {
      const [queueId] = onlyResource(template, "AWS::SQS::Queue", { RedrivePolicy: Match.anyValue() });
      template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        EventSourceArn: { "Fn::GetAtt": [queueId, "Arn"] },
        FunctionName: { Ref: Match.stringLikeRegexp("^WorkerFunction") },
        BatchSize: 1,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        ScalingConfig: { MaximumConcurrency: 10 },
      });
    });

    it("runs the recovery sweep on a schedule: an EventBridge rule invokes the worker function", () => {
      const [ruleId, rule] = onlyResource(template, "AWS::Events::Rule", {});
      expect(rule.Properties.ScheduleExpression).toBe("rate(5 minutes)");
      expect(rule.Properties.State ?? "ENABLED").toBe("ENABLED");
      const targets = rule.Properties.Targets as { Arn: unknown }[];
      expect(targets.map((t) => render(t.Arn))).toEqual([expect.stringMatching(/^\$\{WorkerFunction[^.]*\.Arn\}$/)]);
      template.hasResourceProperties("AWS::Lambda::Permission", {
        Action: "lambda:InvokeFunction",
        Principal: "events.amazonaws.com",
        SourceArn: { "Fn::GetAtt": [ruleId, "Arn"] },
      });
    });

    it("gives both functions the configuration the app reads, and no AWS_REGION", () => {
      const required = [
        "BACKEND",
        "VECTOR_STORE",
        "CHAT_MODEL",
        "PUBLIC_URL",
        "DATA_DIR",
        "S3_BUCKET",
        "DOCUMENTS_TABLE",
        "DIRECTORY_TABLE",
        "AUDIT_TABLE",
        "JOBS_TABLE",
        "SQS_QUEUE_URL",
        "COGNITO_USER_POOL_ID",
        "COGNITO_CLIENT_ID",
        "COGNITO_SIGNUP_CLIENT_ID",
        "COGNITO_SIGNUP_CLIENT_SECRET_ARN",
        "S3_KMS_KEY_ID",
        "TENANT_ROLE_ARN",
        "KMS_KEY_ID",
        "BEDROCK_EMBED_MODEL_ID",
        "BEDROCK_CHAT_MODEL_ID",
        "EMBED_DIMENSIONS",
        "PINECONE_INDEX",
        "SLACK_SIGNING_SECRET_ARN",
        "PINECONE_API_KEY_SECRET_ARN",
        "LINK_TOKEN_SECRET_ARN",
      ];
      for (const [, fn] of appFunctions(template)) {
        const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
        expect(Object.keys(env)).toEqual(expect.arrayContaining(required));
        expect(env).toMatchObject({
          BACKEND: "aws",
          VECTOR_STORE: "pinecone",
          CHAT_MODEL: "bedrock",
          DATA_DIR: "/tmp/enclave",
          BEDROCK_EMBED_MODEL_ID: "amazon.titan-embed-text-v2:0",
          BEDROCK_CHAT_MODEL_ID: "amazon.nova-micro-v1:0",
          EMBED_DIMENSIONS: "1024",
        });
        expect(env).not.toHaveProperty("AWS_REGION");
        // Slack OAuth stays off until the Slack app exists (all three or none).
        expect(env).not.toHaveProperty("SLACK_CLIENT_ID");
        expect(env).not.toHaveProperty("SLACK_CLIENT_SECRET_ARN");
        expect(render(env.PUBLIC_URL)).toMatch(/^\$\{Api[A-Z0-9]+\.ApiEndpoint\}$/);
        expect(render(env.KMS_KEY_ID)).toMatch(/^\$\{BotTokenKey[A-Z0-9]+\.Arn\}$/);
        expect(render(env.TENANT_ROLE_ARN)).toMatch(/^\$\{TenantAccessRole[A-Z0-9]+\.Arn\}$/);
      }
    });
  });

  describe("SQS", () => {
    it("has a dead-letter queue behind the jobs queue, and an alarm on it", () => {
      const [dlqId] = onlyResource(template, "AWS::SQS::Queue", { RedrivePolicy: Match.absent() });
      const [, queue] = onlyResource(template, "AWS::SQS::Queue", { RedrivePolicy: Match.anyValue() });
      expect(queue.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { "Fn::GetAtt": [dlqId, "Arn"] },
        maxReceiveCount: 5,
      });
      // At least six times the worker timeout (300 s), as AWS advises for SQS event sources.
      expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * 300);
      const [topicId] = onlyResource(template, "AWS::SNS::Topic");
      template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        Namespace: "AWS/SQS",
        MetricName: "ApproximateNumberOfMessagesVisible",
        Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [dlqId, "QueueName"] } }],
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        Threshold: 1,
        AlarmActions: [{ Ref: topicId }],
      });
    });

    it("encrypts both queues and refuses plain HTTP", () => {
      for (const [, q] of resources(template, "AWS::SQS::Queue")) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
      expect(resources(template, "AWS::SQS::QueuePolicy")).toHaveLength(2);
    });
  });

  describe("S3", () => {
    it("blocks public access, encrypts with KMS, enforces TLS, versions and expires old versions", () => {
      const [bucketId, bucket] = onlyResource(template, "AWS::S3::Bucket");
      const [keyId] = onlyResource(template, "AWS::KMS::Key", { Description: Match.stringLikeRegexp("documents") });
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: "aws:kms",
              KMSMasterKeyID: { "Fn::GetAtt": [keyId, "Arn"] },
            },
          },
        ],
      });
      expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: "Enabled" });
      expect(bucket.Properties.LifecycleConfiguration).toMatchObject({
        Rules: [expect.objectContaining({ Status: "Enabled", NoncurrentVersionExpiration: { NoncurrentDays: 30 } })],
      });
      expect(bucket.DeletionPolicy).toBe("Retain");
      template.hasResourceProperties("AWS::S3::BucketPolicy", {
        Bucket: { Ref: bucketId },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: "Deny",
              Action: "s3:*",
              Principal: { AWS: "*" },
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            }),
          ]),
        },
      });
    });
  });

  describe("DynamoDB", () => {
    it("has four on-demand, encrypted tables with point-in-time recovery and pk/sk keys", () => {
      const tables = resources(template, "AWS::DynamoDB::Table");
      expect(tables).toHaveLength(4);
      for (const [, t] of tables) {
        expect(t.Properties).toMatchObject({
          BillingMode: "PAY_PER_REQUEST",
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: { SSEEnabled: true },
          KeySchema: [
            { AttributeName: "pk", KeyType: "HASH" },
            { AttributeName: "sk", KeyType: "RANGE" },
          ],
          DeletionProtectionEnabled: true,
        });
        expect(t.DeletionPolicy).toBe("Retain");
      }
    });

    it("sets TTL on expires_at where the code uses it, and gsi1 on the directory", () => {
      const byEnv = envTableIds(template);
      const ttl = (id: string | undefined) =>
        tablesById(template)[id ?? ""]?.Properties.TimeToLiveSpecification as Record<string, unknown> | undefined;
      expect(ttl(byEnv.DOCUMENTS_TABLE)).toBeUndefined();
      for (const name of ["DIRECTORY_TABLE", "AUDIT_TABLE", "JOBS_TABLE"]) {
        expect(ttl(byEnv[name]), name).toEqual({ AttributeName: "expires_at", Enabled: true });
      }
      // The recovery sweep's sparse index of documents not settled yet, readable by the functions.
      expect(tablesById(template)[byEnv.DOCUMENTS_TABLE ?? ""]?.Properties.GlobalSecondaryIndexes).toEqual([
        expect.objectContaining({
          IndexName: "unsettled",
          KeySchema: [
            { AttributeName: "unsettled", KeyType: "HASH" },
            { AttributeName: "updatedAt", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        }),
      ]);
      expect(tablesById(template)[byEnv.DIRECTORY_TABLE ?? ""]?.Properties.GlobalSecondaryIndexes).toEqual([
        expect.objectContaining({
          IndexName: "gsi1",
          KeySchema: [
            { AttributeName: "gsi1pk", KeyType: "HASH" },
            { AttributeName: "gsi1sk", KeyType: "RANGE" },
          ],
        }),
      ]);
    });
  });

  describe("Secrets and keys", () => {
    it("keeps the Slack and Pinecone credentials in Secrets Manager, never in the template", () => {
      const secrets = resources(template, "AWS::SecretsManager::Secret");
      expect(secrets).toHaveLength(6);
      for (const [, s] of secrets) {
        // Generated at deploy, or (the sign-up client's) copied from Cognito by reference: never a literal.
        if (s.Properties.SecretString === undefined) expect(s.Properties.GenerateSecretString).toBeDefined();
        else expect(render(s.Properties.SecretString)).toMatch(/^\$\{UserPoolSignupClient[A-Z0-9]+\.ClientSecret\}$/);
      }
    });

    it("rotates both KMS keys", () => {
      const keys = resources(template, "AWS::KMS::Key");
      expect(keys).toHaveLength(2);
      for (const [, k] of keys) expect(k.Properties.EnableKeyRotation).toBe(true);
    });
  });

  describe("IAM", () => {
    it("lets only the two function roles assume TenantAccessRole, with a tenant_id session tag", () => {
      const [, role] = onlyResource(template, "AWS::IAM::Role", {
        Description: Match.stringLikeRegexp("^Per-tenant"),
      });
      const trust = (role.Properties.AssumeRolePolicyDocument as { Statement: Statement[] }).Statement;
      const httpRole = roleIdOf(template, "Enclave: web UI");
      const workerRole = roleIdOf(template, "Enclave: ingest");
      const principals = new Set<string>();
      for (const s of trust) {
        expect(s.Effect).toBe("Allow");
        expect(arr(s.Action).sort()).toEqual(["sts:AssumeRole", "sts:TagSession"]);
        for (const p of arr((s.Principal as { AWS: unknown }).AWS)) principals.add(render(p));
        expect(s.Principal).not.toHaveProperty("Service");
        expect(s.Condition).toMatchObject({
          Null: { "aws:RequestTag/tenant_id": "false" },
          StringLike: { "aws:RequestTag/tenant_id": TENANT_TAG_PATTERN },
          "ForAllValues:StringEquals": { "aws:TagKeys": ["tenant_id"] },
        });
      }
      expect([...principals].sort()).toEqual([`\${${httpRole}.Arn}`, `\${${workerRole}.Arn}`].sort());
    });

    it("shapes the tenant tag like the tenant ids the app generates", () => {
      const pattern = new RegExp(`^${TENANT_TAG_PATTERN.replace(/\?/g, ".")}$`);
      for (let i = 0; i < 20; i++) expect(newTenantId()).toMatch(pattern);
      expect("t_short").not.toMatch(pattern);
    });

    it("limits the tenant role to its tenant's S3 prefix and DynamoDB partitions", () => {
      const [tenantRoleId] = onlyResource(template, "AWS::IAM::Role", {
        Description: Match.stringLikeRegexp("^Per-tenant"),
      });
      const [bucketId] = onlyResource(template, "AWS::S3::Bucket");
      const statements = identityStatements(template)
        .filter((s) => s.roles.includes(tenantRoleId))
        .map((s) => s.statement);
      expect(statements.length).toBeGreaterThan(0);
      for (const s of statements) {
        const actions = arr(s.Action);
        const res = arr(s.Resource).map(render);
        if (actions.some((a) => a.startsWith("s3:") && !a.startsWith("s3:ListBucket"))) {
          expect(res).toEqual([`\${${bucketId}.Arn}/tenants/\${aws:PrincipalTag/tenant_id}/*`]);
        }
        if (actions.includes("s3:ListBucket") || actions.includes("s3:ListBucketVersions")) {
          expect(s.Condition).toEqual({ StringLike: { "s3:prefix": [`tenants/\${aws:PrincipalTag/tenant_id}/*`] } });
        }
        if (actions.some((a) => a.startsWith("dynamodb:"))) {
          expect(actions).not.toContain("dynamodb:Scan");
          expect(res).toHaveLength(4);
          expect(s.Condition).toEqual({
            "ForAllValues:StringLike": {
              "dynamodb:LeadingKeys": [`\${aws:PrincipalTag/tenant_id}`, `\${aws:PrincipalTag/tenant_id}#*`],
            },
          });
        }
        if (actions.some((a) => a.startsWith("kms:"))) {
          expect(Object.keys(s.Condition?.StringEquals ?? {})).toEqual(["kms:ViaService"]);
        }
        expect(actions.some((a) => /^(sts|bedrock|secretsmanager|cognito-idp|sqs):/.test(a))).toBe(false);
      }
      const actions = statements.flatMap((s) => arr(s.Action));
      expect(actions).toEqual(
        expect.arrayContaining([
          "s3:GetObject",
          "s3:PutObject",
          "s3:DeleteObject",
          // Deleting an organisation removes every version of its files.
          "s3:DeleteObjectVersion",
          "s3:ListBucketVersions",
          "dynamodb:Query",
        ]),
      );
    });

    it("gives no identity policy a wildcard resource or action on data services", () => {
      const data = /^(s3|dynamodb|kms|secretsmanager|sqs|bedrock|sts|cognito-idp):/;
      const checked = identityStatements(template).filter((s) => arr(s.statement.Action).some((a) => data.test(a)));
      expect(checked.length).toBeGreaterThan(5);
      for (const { statement } of checked) {
        for (const action of arr(statement.Action)) expect(action, action).not.toMatch(/\*/);
        for (const r of arr(statement.Resource).map(render)) {
          expect(r, JSON.stringify(statement)).not.toBe("*");
          expect(r).not.toMatch(/^arn:[^:]*:(s3|dynamodb|kms|secretsmanager|sqs|sts|iam):[^:]*:[^:]*:\*$/);
        }
      }
    });

    it("allows Bedrock InvokeModel only on the configured model ids", () => {
      const bedrock = identityStatements(template).filter(({ statement }) =>
        arr(statement.Action).some((a) => a.startsWith("bedrock:")),
      );
      expect(bedrock.length).toBeGreaterThan(0);
      const arns = new Set<string>();
      for (const { statement } of bedrock) {
        expect(arr(statement.Action)).toEqual(["bedrock:InvokeModel"]);
        for (const r of arr(statement.Resource)) arns.add(render(r));
      }
      expect([...arns].sort()).toEqual([
        `arn:\${AWS::Partition}:bedrock:\${AWS::Region}::foundation-model/amazon.nova-micro-v1:0`,
        `arn:\${AWS::Partition}:bedrock:\${AWS::Region}::foundation-model/amazon.titan-embed-text-v2:0`,
      ]);
    });

    it("keeps Cognito admin calls to the HTTP function (the worker only deletes a deleted organisation's users) and SQS consumption to the worker", () => {
      const httpRole = roleIdOf(template, "Enclave: web UI");
      const workerRole = roleIdOf(template, "Enclave: ingest");
      const actionsOf = (roleId: string) =>
        identityStatements(template)
          .filter((s) => s.roles.includes(roleId))
          .flatMap((s) => arr(s.statement.Action));
      expect(actionsOf(httpRole)).toEqual(expect.arrayContaining(["cognito-idp:AdminCreateUser", "sqs:SendMessage"]));
      expect(actionsOf(httpRole)).not.toContain("sqs:ReceiveMessage");
      expect(actionsOf(workerRole)).toContain("sqs:ReceiveMessage");
      expect(actionsOf(workerRole).filter((a) => a.startsWith("cognito-idp:"))).toEqual([
        "cognito-idp:AdminDeleteUser",
      ]);
      for (const roleId of [httpRole, workerRole]) {
        expect(actionsOf(roleId)).toEqual(
          expect.arrayContaining(["sts:AssumeRole", "sts:TagSession", "kms:Decrypt", "secretsmanager:GetSecretValue"]),
        );
        // Documents are reached only through TenantAccessRole.
        expect(actionsOf(roleId).filter((a) => a.startsWith("s3:"))).toEqual([]);
      }
    });
  });

  it("outputs the API URL, the Slack request URLs and the Cognito ids", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(render(outputs.SlackEventsUrl?.Value)).toMatch(/^\$\{Api[A-Z0-9]+\.ApiEndpoint\}\/slack\/events$/);
    expect(render(outputs.SlackOAuthRedirectUrl?.Value)).toMatch(/\/slack\/oauth_redirect$/);
    for (const name of ["ApiUrl", "SlackInstallUrl", "UserPoolId", "UserPoolClientId"]) {
      expect(outputs[name], name).toBeDefined();
    }
  });
});

function appFunctions(template: Template): [string, CfnResource][] {
  return resources(template, "AWS::Lambda::Function").filter(([, fn]) =>
    String(fn.Properties.Description ?? "").startsWith("Enclave:"),
  );
}

function tablesById(template: Template): Record<string, CfnResource> {
  return Object.fromEntries(resources(template, "AWS::DynamoDB::Table"));
}

/** DOCUMENTS_TABLE etc. -> logical id of the table the functions are told to use. */
function envTableIds(template: Template): Record<string, string> {
  const [, fn] = appFunctions(template)[0] as [string, CfnResource];
  const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
  const out: Record<string, string> = {};
  for (const name of ["DOCUMENTS_TABLE", "DIRECTORY_TABLE", "AUDIT_TABLE", "JOBS_TABLE"]) {
    out[name] = render(env[name]).slice(2, -1);
  }
  return out;
}

describe("Enclave stack (Slack app configured, inference profile, no reservation)", () => {
  let template: Template;
  beforeAll(() => {
    template = synth({
      slackClientId: "1234567890.0987654321",
      bedrockChatModelId: "us.amazon.nova-micro-v1:0",
      reserveWorkerConcurrency: "false",
      workerConcurrency: "4",
      alarmEmail: "ops@example.com",
    });
  }, 60_000);

  it("turns Slack OAuth on with the client id and both secret ARNs", () => {
    for (const [, fn] of appFunctions(template)) {
      const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env.SLACK_CLIENT_ID).toBe("1234567890.0987654321");
      expect(render(env.SLACK_CLIENT_SECRET_ARN)).toMatch(/^\$\{SlackClientSecret/);
      expect(render(env.SLACK_STATE_SECRET_ARN)).toMatch(/^\$\{SlackStateSecret/);
    }
  });

  it("allows an inference profile and its foundation model only through that profile", () => {
    const statements = identityStatements(template)
      .map((s) => s.statement)
      .filter((s) => arr(s.Action).includes("bedrock:InvokeModel"));
    const profile = `arn:\${AWS::Partition}:bedrock:\${AWS::Region}:\${AWS::AccountId}:inference-profile/us.amazon.nova-micro-v1:0`;
    const all = statements.flatMap((s) => arr(s.Resource).map(render));
    expect(all).toContain(profile);
    expect(all).toContain(
      `arn:\${AWS::Partition}:bedrock:\${AWS::Region}::foundation-model/amazon.titan-embed-text-v2:0`,
    );
    const viaProfile = statements.filter((s) =>
      arr(s.Resource).map(render).includes(`arn:\${AWS::Partition}:bedrock:*::foundation-model/amazon.nova-micro-v1:0`),
    );
    expect(viaProfile.length).toBeGreaterThan(0);
    for (const s of viaProfile) {
      expect(arr(s.Resource)).toHaveLength(1);
      expect(render(s.Condition?.StringEquals?.["bedrock:InferenceProfileArn"])).toBe(profile);
    }
  });

  it("caps the worker with the event source only, and mails alarms", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Description: Match.stringLikeRegexp("^Enclave: ingest"),
      ReservedConcurrentExecutions: Match.absent(),
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", { ScalingConfig: { MaximumConcurrency: 4 } });
    template.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "ops@example.com" });
  });
});

describe("settings", () => {
  it("splits inference profile ids from foundation model ids", () => {
    expect(parseModelId("us.amazon.nova-micro-v1:0")).toEqual({
      profilePrefix: "us",
      foundationModelId: "amazon.nova-micro-v1:0",
    });
    expect(parseModelId("amazon.titan-embed-text-v2:0")).toEqual({ foundationModelId: "amazon.titan-embed-text-v2:0" });
  });

  it("names every bad setting", () => {
    expect(() =>
      resolveSettings({ embedDimensions: "768", workerConcurrency: "1", slackClientId: "abc", logRetentionDays: 2 }),
    ).toThrowError(SettingsError);
    try {
      resolveSettings({ embedDimensions: "768", workerConcurrency: "1", slackClientId: "abc", logRetentionDays: 2 });
    } catch (e) {
      const message = (e as Error).message;
      for (const key of ["embedDimensions", "workerConcurrency", "slackClientId", "logRetentionDays"]) {
        expect(message).toContain(key);
      }
    }
  });

  it("refuses to bundle when an entry point is missing, naming the file", () => {
    const empty = mkdtempSync(join(tmpdir(), "enclave-infra-"));
    try {
      const app = new App({ context: CDK_CONTEXT });
      expect(() => new EnclaveStack(app, "Enclave", { bundle: true, projectRoot: empty })).toThrowError(
        /missing src\/entrypoints\/lambda-http\.ts, src\/entrypoints\/lambda-worker\.ts, src\/ingest\/pdf-child\.mjs/,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("after-bundling hook", () => {
  const script = join(REPO_ROOT, "infra/lib/after-bundling.mjs");
  let root: string;
  let out: string;
  const write = (path: string, text: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  };
  const run = () =>
    execFileSync(process.execPath, [script, root, out, "src/ingest/pdf-child.mjs", "src/http/web"], { stdio: "pipe" });

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "enclave-hook-"));
    write(join(root, "src/ingest/pdf-child.mjs"), 'import "pdf-parse";\n');
    write(join(root, "src/http/web/layout.html"), "<main>{{main}}</main>");
    write(join(root, "src/http/web/pages/ask.html"), "<h1>Ask</h1>");
    write(join(root, "src/http/web/public/js/ask.js"), "export {};");
    const pkg = (name: string, deps: Record<string, string>, optional: Record<string, string> = {}) =>
      write(
        join(root, "node_modules", name, "package.json"),
        JSON.stringify({ name, dependencies: deps, optionalDependencies: optional }),
      );
    pkg("pdf-parse", { "pdfjs-dist": "1", "@napi-rs/canvas": "1" });
    write(join(root, "node_modules/pdf-parse/dist/pdf-parse/esm/index.js"), "export {};");
    write(join(root, "node_modules/pdf-parse/dist/pdf-parse/esm/index.js.map"), "{}");
    write(join(root, "node_modules/pdf-parse/dist/pdf-parse/web/browser.js"), "");
    pkg("pdfjs-dist", {}, { "@napi-rs/canvas": "1", "not-installed": "1" });
    write(join(root, "node_modules/pdfjs-dist/legacy/build/pdf.mjs"), "export {};");
    write(join(root, "node_modules/pdfjs-dist/legacy/build/pdf.worker.mjs"), "export {};");
    pkg("@napi-rs/canvas", {});
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("ships pdf-child.mjs and its packages (without maps, browser builds or native modules) when the bundle starts it", () => {
    out = mkdtempSync(join(root, "out-"));
    write(join(out, "index.mjs"), 'fork(new URL("./pdf-child.mjs",import.meta.url));');
    run();
    expect(existsSync(join(out, "pdf-child.mjs"))).toBe(true);
    expect(existsSync(join(out, "node_modules/pdf-parse/dist/pdf-parse/esm/index.js"))).toBe(true);
    expect(existsSync(join(out, "node_modules/pdf-parse/dist/pdf-parse/esm/index.js.map"))).toBe(false);
    expect(existsSync(join(out, "node_modules/pdf-parse/dist/pdf-parse/web"))).toBe(false);
    expect(existsSync(join(out, "node_modules/pdfjs-dist/legacy/build/pdf.worker.mjs"))).toBe(true);
    expect(existsSync(join(out, "node_modules/@napi-rs/canvas"))).toBe(false);
  });

  it("ships nothing for a bundle that never parses PDFs or serves the web app", () => {
    out = mkdtempSync(join(root, "out-"));
    write(join(out, "index.mjs"), "export const handler = async () => ({});");
    run();
    expect(existsSync(join(out, "pdf-child.mjs"))).toBe(false);
    expect(existsSync(join(out, "node_modules"))).toBe(false);
    expect(existsSync(join(out, "web"))).toBe(false);
  });

  it("copies the web app to web/ beside index.mjs, where web-routes looks from import.meta.url", () => {
    out = mkdtempSync(join(root, "out-"));
    write(join(out, "index.mjs"), 'const r=new URL("./web/",import.meta.url);read(r,"layout.html");');
    run();
    expect(readFileSync(join(out, "web/layout.html"), "utf8")).toBe("<main>{{main}}</main>");
    expect(existsSync(join(out, "web/pages/ask.html"))).toBe(true);
    expect(existsSync(join(out, "web/public/js/ask.js"))).toBe(true);
  });

  it("stubs better-sqlite3, whose import esbuild hoists, with a module that loads and throws when used", async () => {
    out = mkdtempSync(join(root, "out-"));
    write(join(out, "index.mjs"), 'import e from"better-sqlite3";export const handler=async()=>new e(":memory:");');
    run();
    const bundle = (await import(pathToFileURL(join(out, "index.mjs")).href)) as { handler: () => Promise<unknown> };
    await expect(bundle.handler()).rejects.toThrowError(/not available on Lambda/);
  });
});
