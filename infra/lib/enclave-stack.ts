import { fileURLToPath } from "node:url";
import { CfnOutput, Duration, RemovalPolicy, SecretValue, Stack, type StackProps } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpUserPoolAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cloudwatchActions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as cognito from "aws-cdk-lib/aws-cognito";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as eventsTargets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { assertSourcesExist, createAppFunction } from "./app-function.js";
import { bedrockInvokeStatements } from "./bedrock.js";
import { type EnclaveSettings, resolveSettings } from "./settings.js";
import { TENANT_DYNAMODB_ACTIONS, TenantAccessRole } from "./tenant-access-role.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Sizes and timeouts (the reasons, in one place).
 *
 * HTTP function: 1024 MB. Lambda CPU scales with memory; Express + Bolt + the AWS SDK load faster on
 * ~0.6 vCPU than on the 128-512 MB share, and Slack wants an ack within 3 s even on a cold start. The
 * handler acks and enqueues, so it needs little memory otherwise. Timeout 29 s: the HTTP API stops
 * waiting at 30 s, and a function running longer would only burn time nobody waits for.
 *
 * Worker: 2048 MB, because PDF extraction runs in a child process capped at PARSE_MEMORY_MB (1024 MB
 * by default) beside the parent, and ~1.2 vCPU speeds up parsing and chunking. Timeout 5 min: one job is
 * one document (parse up to PARSE_TIMEOUT_MS = 60 s, then embedding and upserting a few thousand chunks)
 * or one answer (a few Bedrock Converse turns). Batch size 1 so a long ingest never holds up, or times
 * out together with, other jobs in its batch.
 */
const HTTP_UPLOAD_LIMIT_BYTES = 4 * 1024 * 1024;
const HTTP_MEMORY_MB = 1024;
const HTTP_TIMEOUT = Duration.seconds(29);
const WORKER_MEMORY_MB = 2048;
const WORKER_TIMEOUT = Duration.minutes(5);
/** AWS guidance for SQS event sources: visibility timeout at least six times the function timeout. */
const QUEUE_VISIBILITY_TIMEOUT = Duration.minutes(WORKER_TIMEOUT.toMinutes() * 6);
/** How often the recovery sweep runs (the embedded server's RECOVERY_SWEEP_SECONDS). */
const RECOVERY_SWEEP_RATE = Duration.minutes(5);
/** Stage-wide cap well above Slack plus web traffic of a team; stops a flood from scaling Lambda without bound. */
const API_THROTTLE = { rateLimit: 100, burstLimit: 200 };

/** Request paths the application serves for Slack (Bolt defaults) — pasted into manifest.json. */
export const SLACK_PATHS = {
  events: "/slack/events",
  install: "/slack/install",
  oauthRedirect: "/slack/oauth_redirect",
} as const;

/** Routes that reach the HTTP function without the JWT authorizer; the app authenticates them itself. */
export const OPEN_ROUTES = [
  "/auth/{proxy+}",
  "/slack/{proxy+}",
  "/link",
  "/link/{proxy+}",
  "/health",
  "/.well-known/{proxy+}",
];
/** Routes behind the Cognito JWT authorizer. */
export const PROTECTED_ROUTES = ["/api", "/api/{proxy+}"];

export interface EnclaveStackProps extends StackProps {
  /**
   * true: bundle src/entrypoints/lambda-*.ts with esbuild (synth and deploy).
   * false: placeholder handlers, no esbuild and no source files needed (template assertion tests).
   */
  readonly bundle: boolean;
  /** Settings (see settings.ts); anything left out takes its default. */
  readonly settings?: Readonly<Record<string, unknown>> | Partial<EnclaveSettings>;
  /** Repository root holding src/ and package-lock.json; defaults to this checkout. */
  readonly projectRoot?: string;
}

export class EnclaveStack extends Stack {
  readonly settings: EnclaveSettings;

  constructor(scope: Construct, id: string, props: EnclaveStackProps) {
    super(scope, id, props);
    const settings = resolveSettings({ ...props.settings });
    this.settings = settings;
    const projectRoot = props.projectRoot ?? REPO_ROOT;
    if (props.bundle) assertSourcesExist(projectRoot);
    const removalPolicy = settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // ---- Keys -------------------------------------------------------------------------------------
    const documentsKey = new kms.Key(this, "DocumentsKey", {
      description: "Enclave: encrypts tenant documents in the S3 bucket",
      enableKeyRotation: true,
      removalPolicy,
    });
    const botTokenKey = new kms.Key(this, "BotTokenKey", {
      description: "Enclave: encrypts Slack bot tokens at rest (KMS_KEY_ID)",
      enableKeyRotation: true,
      removalPolicy,
    });

    // ---- Documents bucket -------------------------------------------------------------------------
    const bucket = new s3.Bucket(this, "DocumentsBucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: documentsKey,
      bucketKeyEnabled: true, // one KMS data key per bucket and period instead of one call per object
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      lifecycleRules: [
        {
          id: "expire-old-versions",
          noncurrentVersionExpiration: Duration.days(settings.noncurrentVersionDays),
          expiredObjectDeleteMarker: true,
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy,
      autoDeleteObjects: false,
    });

    // ---- Tables -----------------------------------------------------------------------------------
    const table = (id: string, timeToLiveAttribute?: string) =>
      new dynamodb.Table(this, id, {
        partitionKey: { name: "pk", type: dynamodb.AttributeType.STRING },
        sortKey: { name: "sk", type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        timeToLiveAttribute,
        deletionProtection: settings.retainData,
        removalPolicy,
      });
    const documentsTable = table("DocumentsTable");
    // Sparse: only documents still queued or indexing carry `unsettled`; the recovery sweep reads it.
    documentsTable.addGlobalSecondaryIndex({
      indexName: "unsettled",
      partitionKey: { name: "unsettled", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "updatedAt", type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    const directoryTable = table("DirectoryTable", "expires_at");
    directoryTable.addGlobalSecondaryIndex({
      indexName: "gsi1",
      partitionKey: { name: "gsi1pk", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "gsi1sk", type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    const auditTable = table("AuditTable", "expires_at");
    const jobsTable = table("JobsTable", "expires_at");
    const tables = [documentsTable, directoryTable, auditTable, jobsTable];

    // ---- Queue ------------------------------------------------------------------------------------
    const deadLetterQueue = new sqs.Queue(this, "JobsDeadLetterQueue", {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const queue = new sqs.Queue(this, "JobsQueue", {
      visibilityTimeout: QUEUE_VISIBILITY_TIMEOUT,
      retentionPeriod: Duration.days(4),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: settings.jobMaxAttempts },
    });
    const alarmTopic = new sns.Topic(this, "AlarmTopic", { displayName: "Enclave alarms", enforceSSL: true });
    if (settings.alarmEmail !== undefined) {
      alarmTopic.addSubscription(new subscriptions.EmailSubscription(settings.alarmEmail));
    }
    const deadLetterAlarm = new cloudwatch.Alarm(this, "JobsDeadLetterAlarm", {
      alarmDescription:
        "Enclave jobs (ingest or answer) failed every attempt and reached the dead-letter queue. " +
        "Read the worker's logs, fix the cause, then redrive the messages from the SQS console.",
      metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    deadLetterAlarm.addAlarmAction(new cloudwatchActions.SnsAction(alarmTopic));

    // ---- Secrets ----------------------------------------------------------------------------------
    // Values that come from Slack or Pinecone start as random placeholders (nothing secret in the
    // template) and are set once with `aws secretsmanager put-secret-value`. The other two are ours.
    const placeholder = (id: string, description: string) =>
      new secretsmanager.Secret(this, id, {
        description: `Enclave: ${description}. Set with aws secretsmanager put-secret-value.`,
        generateSecretString: { passwordLength: 32, excludePunctuation: true },
      });
    const generated = (id: string, description: string) =>
      new secretsmanager.Secret(this, id, {
        description: `Enclave: ${description} (generated; rotate by putting a new random value).`,
        generateSecretString: { passwordLength: 64, excludePunctuation: true },
      });
    const slackSigningSecret = placeholder("SlackSigningSecret", "Slack app Signing Secret");
    const slackClientSecret = placeholder("SlackClientSecret", "Slack app Client Secret");
    const pineconeApiKey = placeholder("PineconeApiKey", "Pinecone API key");
    const slackStateSecret = generated("SlackStateSecret", "signs Slack OAuth state");
    const linkTokenSecret = generated("LinkTokenSecret", "signs workspace link tokens");

    // ---- Identity ---------------------------------------------------------------------------------
    const userPool = new cognito.UserPool(this, "UserPool", {
      // Sign-up goes through the server (SignUp with the server-only client below, then AdminConfirmSignUp).
      selfSignUpEnabled: true,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      customAttributes: {
        tenant_id: new cognito.StringAttribute({ mutable: false, minLen: 1, maxLen: 64 }),
      },
      // The product's documented rule (README: 8 characters with upper case, lower case and a digit), so
      // a password valid in the embedded shape is valid here too; raise both together.
      passwordPolicy: {
        minLength: 8,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: false,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: settings.retainData,
      removalPolicy,
    });
    const readAttributes = new cognito.ClientAttributes()
      .withStandardAttributes({ email: true, emailVerified: true, fullname: true })
      .withCustomAttributes("tenant_id");
    // The client whose ID tokens users hold (COGNITO_CLIENT_ID, the JWT authorizer's audience). It has no
    // secret, so anyone can call Cognito with it: it must not be able to write custom:tenant_id (or
    // email_verified), or a user could pick a tenant at sign-up.
    const userPoolClient = userPool.addClient("WebClient", {
      generateSecret: false,
      authFlows: { userPassword: true, userSrp: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      readAttributes,
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true, fullname: true }),
    });
    // Server-only client (COGNITO_SIGNUP_CLIENT_ID): its secret never leaves Secrets Manager and the
    // functions, and it is the only client that may set custom:tenant_id, which Cognito accepts only when
    // the user is created. No sign-in flows: users sign in with the web client.
    const signupClient = userPool.addClient("SignupClient", {
      generateSecret: true,
      authFlows: { userPassword: false },
      disableOAuth: true,
      preventUserExistenceErrors: true,
      readAttributes,
      writeAttributes: new cognito.ClientAttributes()
        .withStandardAttributes({ email: true, fullname: true })
        .withCustomAttributes("tenant_id"),
    });
    const signupClientSecret = new secretsmanager.Secret(this, "CognitoSignupClientSecret", {
      description: "Enclave: secret of the server-only Cognito sign-up client (copied from Cognito at deploy)",
      secretStringValue: SecretValue.resourceAttribute(
        (signupClient.node.defaultChild as cognito.CfnUserPoolClient).attrClientSecret,
      ),
    });

    const secrets = [
      slackSigningSecret,
      slackClientSecret,
      slackStateSecret,
      pineconeApiKey,
      linkTokenSecret,
      signupClientSecret,
    ];

    // ---- API --------------------------------------------------------------------------------------
    const api = new apigwv2.HttpApi(this, "Api", {
      description: "Enclave: web UI, REST API and Slack request URLs",
      createDefaultStage: false,
    });
    const apiAccessLogs = new logs.LogGroup(this, "ApiAccessLogs", {
      retention: settings.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    api.addStage("DefaultStage", {
      stageName: "$default",
      autoDeploy: true,
      throttle: API_THROTTLE,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(apiAccessLogs),
        // No query strings: link tokens travel in them.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            ip: "$context.identity.sourceIp",
            time: "$context.requestTime",
            routeKey: "$context.routeKey",
            path: "$context.path",
            status: "$context.status",
            latencyMs: "$context.responseLatency",
            integrationError: "$context.integrationErrorMessage",
            authorizerError: "$context.authorizer.error",
          }),
        ),
      },
    });
    const publicUrl = settings.publicUrl ?? api.apiEndpoint;

    // ---- Function roles ---------------------------------------------------------------------------
    const httpRole = new iam.Role(this, "HttpFunctionRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "Enclave HTTP function (API Gateway)",
    });
    const workerRole = new iam.Role(this, "WorkerFunctionRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "Enclave worker function (SQS)",
    });
    const tenantAccess = new TenantAccessRole(this, "TenantAccess", {
      assumedBy: [httpRole, workerRole],
      bucket,
      bucketKey: documentsKey,
      tables,
    });

    // ---- Functions --------------------------------------------------------------------------------
    const environment: Record<string, string> = {
      NODE_ENV: "production",
      BACKEND: "aws",
      VECTOR_STORE: "pinecone",
      CHAT_MODEL: "bedrock",
      PUBLIC_URL: publicUrl,
      DATA_DIR: "/tmp/enclave",
      S3_BUCKET: bucket.bucketName,
      S3_KMS_KEY_ID: documentsKey.keyArn,
      DOCUMENTS_TABLE: documentsTable.tableName,
      DIRECTORY_TABLE: directoryTable.tableName,
      AUDIT_TABLE: auditTable.tableName,
      JOBS_TABLE: jobsTable.tableName,
      SQS_QUEUE_URL: queue.queueUrl,
      JOB_MAX_ATTEMPTS: String(settings.jobMaxAttempts),
      COGNITO_USER_POOL_ID: userPool.userPoolId,
      COGNITO_CLIENT_ID: userPoolClient.userPoolClientId,
      COGNITO_SIGNUP_CLIENT_ID: signupClient.userPoolClientId,
      COGNITO_SIGNUP_CLIENT_SECRET_ARN: signupClientSecret.secretArn,
      TENANT_ROLE_ARN: tenantAccess.role.roleArn,
      KMS_KEY_ID: botTokenKey.keyArn,
      BEDROCK_EMBED_MODEL_ID: settings.bedrockEmbedModelId,
      BEDROCK_CHAT_MODEL_ID: settings.bedrockChatModelId,
      EMBED_DIMENSIONS: String(settings.embedDimensions),
      PINECONE_INDEX: settings.pineconeIndex,
      ...(settings.pineconeIndexHost ? { PINECONE_INDEX_HOST: settings.pineconeIndexHost } : {}),
      PINECONE_API_KEY_SECRET_ARN: pineconeApiKey.secretArn,
      SLACK_SIGNING_SECRET_ARN: slackSigningSecret.secretArn,
      LINK_TOKEN_SECRET_ARN: linkTokenSecret.secretArn,
      // The app's config wants the OAuth trio all set or all unset: until the Slack app exists (first
      // deploy), leave all three out and Slack stays off.
      ...(settings.slackClientId
        ? {
            SLACK_CLIENT_ID: settings.slackClientId,
            SLACK_CLIENT_SECRET_ARN: slackClientSecret.secretArn,
            SLACK_STATE_SECRET_ARN: slackStateSecret.secretArn,
          }
        : {}),
    };

    const httpLogs = new logs.LogGroup(this, "HttpFunctionLogs", {
      retention: settings.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const workerLogs = new logs.LogGroup(this, "WorkerFunctionLogs", {
      retention: settings.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const httpFunction = createAppFunction(this, "HttpFunction", {
      entry: "http",
      description: "Enclave: web UI, REST API, auth and Slack requests (Express)",
      role: httpRole,
      logGroup: httpLogs,
      memorySize: HTTP_MEMORY_MB,
      timeout: HTTP_TIMEOUT,
      // A Lambda request carries at most 6 MB, and a file arrives base64-encoded: refuse larger web
      // uploads with a clear 413 instead of a gateway error. Files shared in Slack are fetched by the
      // worker and keep the full limit.
      environment: { ...environment, MAX_FILE_BYTES: String(HTTP_UPLOAD_LIMIT_BYTES) },
      projectRoot,
      bundle: props.bundle,
    });
    const workerFunction = createAppFunction(this, "WorkerFunction", {
      entry: "worker",
      description: "Enclave: ingest and answer jobs from SQS",
      role: workerRole,
      logGroup: workerLogs,
      memorySize: WORKER_MEMORY_MB,
      timeout: WORKER_TIMEOUT,
      environment,
      // Caps what the worker can take from the account and what it sends to Bedrock, Pinecone and Slack.
      reservedConcurrentExecutions: settings.reserveWorkerConcurrency ? settings.workerConcurrency : undefined,
      projectRoot,
      bundle: props.bundle,
    });
    workerFunction.addEventSource(
      new SqsEventSource(queue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        // Pollers never start more invocations than this, so messages are not throttled into the DLQ
        // by the reserved concurrency.
        maxConcurrency: settings.workerConcurrency,
      }),
    );

    // The recovery sweep: documents whose ingest job was lost (queue down, a function cut off) go back
    // on the queue. The worker function tells the scheduled event from an SQS batch.
    new events.Rule(this, "RecoverySweepSchedule", {
      description: "Enclave: re-queue documents stranded queued or indexing",
      schedule: events.Schedule.rate(RECOVERY_SWEEP_RATE),
      targets: [new eventsTargets.LambdaFunction(workerFunction, { retryAttempts: 2 })],
    });

    // ---- Permissions (least privilege, per function) ----------------------------------------------
    const tableResources = [
      ...tables.map((t) => t.tableArn),
      `${directoryTable.tableArn}/index/gsi1`, // user-by-email and similar lookups
      `${documentsTable.tableArn}/index/unsettled`, // the recovery sweep
    ];
    const bedrock = bedrockInvokeStatements(this, [settings.bedrockEmbedModelId, settings.bedrockChatModelId]);
    for (const [fn, logGroup] of [
      [httpFunction, httpLogs],
      [workerFunction, workerLogs],
    ] as const) {
      logGroup.grantWrite(fn);
      fn.addToRolePolicy(
        new iam.PolicyStatement({ sid: "Tables", actions: TENANT_DYNAMODB_ACTIONS, resources: tableResources }),
      );
      tenantAccess.role.grant(fn.grantPrincipal, "sts:AssumeRole", "sts:TagSession");
      botTokenKey.grant(fn, "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey");
      // Both functions load the same validated config, which needs every one of these once configured.
      for (const secret of secrets) secret.grantRead(fn);
      for (const statement of bedrock) fn.addToRolePolicy(statement);
      // HTTP enqueues jobs; a worker job can enqueue a follow-up (a shared Slack file becomes an ingest).
      queue.grantSendMessages(fn);
    }
    httpFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "UserPoolAdmin",
        actions: [
          "cognito-idp:AdminCreateUser",
          "cognito-idp:AdminUpdateUserAttributes",
          "cognito-idp:AdminGetUser",
          "cognito-idp:AdminDeleteUser",
          "cognito-idp:AdminConfirmSignUp",
        ],
        resources: [userPool.userPoolArn],
      }),
    );
    // Deleting an organisation runs in the worker: its members' accounts go first.
    workerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: "UserPoolDeleteMembers",
        actions: ["cognito-idp:AdminDeleteUser"],
        resources: [userPool.userPoolArn],
      }),
    );

    // ---- Routes -----------------------------------------------------------------------------------
    const integration = new HttpLambdaIntegration("HttpFunctionIntegration", httpFunction, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    });
    const authorizer = new HttpUserPoolAuthorizer("CognitoAuthorizer", userPool, {
      userPoolClients: [userPoolClient],
      identitySource: ["$request.header.Authorization"],
    });
    for (const path of PROTECTED_ROUTES) {
      api.addRoutes({ path, methods: [apigwv2.HttpMethod.ANY], integration, authorizer });
    }
    for (const path of OPEN_ROUTES) {
      api.addRoutes({ path, methods: [apigwv2.HttpMethod.ANY], integration });
    }
    // Web pages and static assets. The catch-all is `$default`, which API Gateway tries only after every
    // other route, so no request under /api can fall through to it.
    new apigwv2.HttpRoute(this, "WebPagesRoute", {
      httpApi: api,
      routeKey: apigwv2.HttpRouteKey.DEFAULT,
      integration,
    });

    // ---- Outputs ----------------------------------------------------------------------------------
    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output("ApiUrl", publicUrl, "Enclave base URL (web UI and API)");
    output(
      "SlackEventsUrl",
      `${publicUrl}${SLACK_PATHS.events}`,
      "manifest: event_subscriptions.request_url, interactivity.request_url and slash_commands[].url",
    );
    output("SlackOAuthRedirectUrl", `${publicUrl}${SLACK_PATHS.oauthRedirect}`, "manifest: oauth_config.redirect_urls");
    output("SlackInstallUrl", `${publicUrl}${SLACK_PATHS.install}`, "Open to install the app into a workspace");
    output("UserPoolId", userPool.userPoolId, "Cognito user pool id");
    output("UserPoolClientId", userPoolClient.userPoolClientId, "Cognito app client id");
    output("SlackSigningSecretArn", slackSigningSecret.secretArn, "put-secret-value: Slack Signing Secret");
    output("SlackClientSecretArn", slackClientSecret.secretArn, "put-secret-value: Slack Client Secret");
    output("PineconeApiKeySecretArn", pineconeApiKey.secretArn, "put-secret-value: Pinecone API key");
    output("DocumentsBucketName", bucket.bucketName, "S3 bucket with tenant documents");
    output("JobsDeadLetterQueueUrl", deadLetterQueue.queueUrl, "Jobs that failed every attempt");
    output("AlarmTopicArn", alarmTopic.topicArn, "Subscribe to receive alarms");
  }
}
