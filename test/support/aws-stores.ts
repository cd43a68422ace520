import { CognitoIdentityProviderClient, paginateListUsers } from "@aws-sdk/client-cognito-identity-provider";
import { DynamoDBClient, paginateListTables, paginateScan } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, ListObjectVersionsCommand, paginateListObjectsV2, S3Client } from "@aws-sdk/client-s3";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { Pinecone } from "@pinecone-database/pinecone";
import { clientConfig } from "../../src/adapters/aws/client-config.js";
import { s3ClientConfig } from "../../src/composition/aws.js";
import type { Config } from "../../src/config/config.js";
import type { FakeSqs } from "./emulators/fake-sqs.js";

/** One place a store still holds something that contains one of the needles. */
export interface StoreTrace {
  store: "dynamodb" | "s3" | "pinecone" | "cognito" | "sqs";
  /** Table, bucket, namespace, user pool or queue. */
  where: string;
  /** The item key, object key and version, vector id, user name or message. */
  what: string;
  needle: string;
}

export interface StoreCheckOptions {
  /**
   * Also look into the fake SQS's queues (the job queue and its dead-letter queue). Apart because an
   * erasure cannot remove messages already queued (SQS deletes only by a receipt handle): they are
   * delivered later and fail harmlessly, so an end-to-end check usually waits for the queue to drain.
   */
  sqs?: FakeSqs;
  /** The dead-letter queue's URL (the bootstrap's SQS_DEAD_LETTER_QUEUE_URL), when `sqs` is given. */
  deadLetterQueueUrl?: string;
}

/**
 * Everything the AWS shape holds that contains one of `needles` (a tenant id, an e-mail address, a
 * phrase of a document), read straight from the stores on the emulators, never through the ports: the
 * check an erasure must pass. Covers every DynamoDB table of the endpoint (whole items), the bucket with
 * every object version and delete marker, keys and bodies (s3rver keeps no versions: there the current
 * objects), every Pinecone namespace (names, vector ids, metadata; through the public data-plane API,
 * so the fake Pinecone or a real index), and the user pool (every attribute of every user).
 */
export async function awsStoreTraces(
  config: Config,
  needles: readonly string[],
  options: StoreCheckOptions = {},
): Promise<StoreTrace[]> {
  const found = (text: string) => needles.filter((n) => n.length > 0 && text.includes(n));
  const results = await Promise.all([
    dynamoTraces(config, found),
    s3Traces(config, found),
    pineconeTraces(config, found),
    cognitoTraces(config, found),
  ]);
  return [...results.flat(), ...sqsTraces(config, found, options)];
}

/** The same, one line per trace: `store where: what (needle)`. */
export async function awsStoreMentions(
  config: Config,
  needles: readonly string[],
  options: StoreCheckOptions = {},
): Promise<string[]> {
  return (await awsStoreTraces(config, needles, options)).map(
    (t) => `${t.store} ${t.where}: ${t.what} (${JSON.stringify(t.needle)})`,
  );
}

type Finder = (text: string) => string[];

async function dynamoTraces(config: Config, found: Finder): Promise<StoreTrace[]> {
  const client = new DynamoDBClient(clientConfig(config, "dynamodb"));
  try {
    const traces: StoreTrace[] = [];
    for await (const tables of paginateListTables({ client }, {})) {
      for (const table of tables.TableNames ?? []) {
        for await (const page of paginateScan({ client }, { TableName: table, ConsistentRead: true })) {
          for (const raw of page.Items ?? []) {
            const item = unmarshall(raw);
            const what = `${String(item.pk)}/${String(item.sk)}`;
            for (const needle of found(JSON.stringify(item)))
              traces.push({ store: "dynamodb", where: table, what, needle });
          }
        }
      }
    }
    return traces;
  } finally {
    client.destroy();
  }
}

async function s3Traces(config: Config, found: Finder): Promise<StoreTrace[]> {
  const Bucket = config.S3_BUCKET;
  if (!Bucket) return [];
  const client = new S3Client(s3ClientConfig(config));
  const traces: StoreTrace[] = [];
  const check = async (Key: string, VersionId: string | undefined, label: string) => {
    for (const needle of found(Key)) traces.push({ store: "s3", where: Bucket, what: label, needle });
    const object = await client.send(
      new GetObjectCommand({ Bucket, Key, ...(VersionId && VersionId !== "null" ? { VersionId } : {}) }),
    );
    const body = Buffer.from((await object.Body?.transformToByteArray()) ?? []).toString("latin1");
    for (const needle of found(body)) traces.push({ store: "s3", where: Bucket, what: `${label} (content)`, needle });
  };
  try {
    try {
      let keyMarker: string | undefined;
      let versionMarker: string | undefined;
      do {
        const page = await client.send(
          new ListObjectVersionsCommand({
            Bucket,
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
          }),
        );
        for (const v of page.Versions ?? [])
          if (v.Key) await check(v.Key, v.VersionId, `${v.Key} (version ${v.VersionId ?? "null"})`);
        for (const m of page.DeleteMarkers ?? [])
          for (const needle of found(m.Key ?? ""))
            traces.push({ store: "s3", where: Bucket, what: `${m.Key} (delete marker ${m.VersionId})`, needle });
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
      } while (keyMarker);
    } catch (error) {
      // s3rver has no versioning (a version listing is MethodNotAllowed): its current objects are all it holds.
      if ((error as { name?: string }).name !== "MethodNotAllowed") throw error;
      for await (const page of paginateListObjectsV2({ client }, { Bucket }))
        for (const o of page.Contents ?? []) if (o.Key) await check(o.Key, undefined, o.Key);
    }
    return traces;
  } finally {
    client.destroy();
  }
}

async function pineconeTraces(config: Config, found: Finder): Promise<StoreTrace[]> {
  if (!config.PINECONE_API_KEY || !config.PINECONE_INDEX_HOST) return [];
  const index = new Pinecone({ apiKey: config.PINECONE_API_KEY }).index({ host: config.PINECONE_INDEX_HOST });
  const traces: StoreTrace[] = [];
  let namespaceToken: string | undefined;
  do {
    const listed = await index.listNamespaces({
      limit: 100,
      ...(namespaceToken ? { paginationToken: namespaceToken } : {}),
    });
    for (const { name } of listed.namespaces ?? []) {
      if (name === undefined) continue;
      for (const needle of found(name)) traces.push({ store: "pinecone", where: name, what: "the namespace", needle });
      const ns = index.namespace(name);
      let token: string | undefined;
      do {
        const page = await ns.listPaginated({ limit: 100, ...(token ? { paginationToken: token } : {}) });
        const ids = (page.vectors ?? []).flatMap((v) => (v.id ? [v.id] : []));
        const records = ids.length > 0 ? ((await ns.fetch({ ids })).records ?? {}) : {};
        for (const id of ids)
          for (const needle of found(`${id} ${JSON.stringify(records[id]?.metadata ?? {})}`))
            traces.push({ store: "pinecone", where: name, what: id, needle });
        token = page.pagination?.next;
      } while (token);
    }
    namespaceToken = listed.pagination?.next;
  } while (namespaceToken);
  return traces;
}

async function cognitoTraces(config: Config, found: Finder): Promise<StoreTrace[]> {
  const UserPoolId = config.COGNITO_USER_POOL_ID;
  if (!UserPoolId) return [];
  const client = new CognitoIdentityProviderClient(clientConfig(config, "cognito-identity-provider"));
  try {
    const traces: StoreTrace[] = [];
    for await (const page of paginateListUsers({ client }, { UserPoolId }))
      for (const user of page.Users ?? [])
        for (const needle of found(JSON.stringify([user.Username, user.Attributes])))
          traces.push({ store: "cognito", where: UserPoolId, what: user.Username ?? "", needle });
    return traces;
  } finally {
    client.destroy();
  }
}

function sqsTraces(config: Config, found: Finder, options: StoreCheckOptions): StoreTrace[] {
  const { sqs } = options;
  if (!sqs) return [];
  const queues = [config.SQS_QUEUE_URL, options.deadLetterQueueUrl].flatMap((url) =>
    url ? [url.split("/").at(-1) ?? ""] : [],
  );
  return queues.flatMap((queue) =>
    sqs.messages(queue).flatMap((m, i) =>
      found(m.body).map((needle) => ({
        store: "sqs" as const,
        where: queue,
        what: `message ${i + 1}: ${m.body.slice(0, 120)}`,
        needle,
      })),
    ),
  );
}
