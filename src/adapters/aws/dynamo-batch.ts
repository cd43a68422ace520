import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type DynamoDBDocumentClient,
  paginateQuery,
} from "@aws-sdk/lib-dynamodb";
import { AppError } from "../../domain/errors.js";

/** An item's primary key (every table here is `pk` / `sk`). A type, not an interface: it is a Record too. */
export type ItemKey = { pk: string; sk: string };

/** BatchWriteItem takes at most 25 requests. */
const BATCH = 25;
/** Rounds of resending what DynamoDB left unprocessed before the caller is told to try again later. */
const MAX_ROUNDS = 8;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Deletes items by key, 25 to a BatchWriteItem, resending what DynamoDB leaves unprocessed (it does so
 * under throttling without failing the call) with exponential backoff. A missing key is not an error.
 * Keys are de-duplicated first: DynamoDB refuses a batch that names one key twice.
 */
export async function deleteKeys(db: DynamoDBDocumentClient, table: string, keys: readonly ItemKey[]): Promise<void> {
  const unique = [...new Map(keys.map((k) => [`${k.pk}\u0000${k.sk}`, { pk: k.pk, sk: k.sk }])).values()];
  for (let i = 0; i < unique.length; i += BATCH) {
    let requests: NonNullable<BatchWriteCommandInput["RequestItems"]>[string] = unique
      .slice(i, i + BATCH)
      .map((Key) => ({ DeleteRequest: { Key } }));
    for (let round = 0; requests.length > 0; round++) {
      if (round >= MAX_ROUNDS)
        throw new AppError(
          "dependency_unavailable",
          "The database is busy right now. Please try again in a few minutes.",
          {
            retryable: true,
            detail: `batch delete on ${table}: ${requests.length} requests still unprocessed`,
          },
        );
      if (round > 0) await sleep(Math.min(2000, 25 * 2 ** round) * (0.5 + Math.random() / 2));
      const result = await db.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
      requests = result.UnprocessedItems?.[table] ?? [];
    }
  }
}

/**
 * Deletes every item of one partition, page by page (each page's keys are deleted before the next is
 * read, so memory stays bounded however large the partition). Resolves to how many items it found.
 * `skBelow` bounds the sort key; `filter` narrows the items (a FilterExpression over `names` and `values`).
 */
export async function deletePartition(
  db: DynamoDBDocumentClient,
  table: string,
  pk: string,
  options: { skBelow?: string; filter?: string; values?: Record<string, unknown>; names?: Record<string, string> } = {},
): Promise<number> {
  let found = 0;
  const pages = paginateQuery(
    { client: db },
    {
      TableName: table,
      KeyConditionExpression: options.skBelow === undefined ? "#pk = :pk" : "#pk = :pk AND #sk < :skBelow",
      ...(options.filter ? { FilterExpression: options.filter } : {}),
      ExpressionAttributeNames: { "#pk": "pk", "#sk": "sk", ...options.names },
      ExpressionAttributeValues: {
        ":pk": pk,
        ...(options.skBelow === undefined ? {} : { ":skBelow": options.skBelow }),
        ...options.values,
      },
      ProjectionExpression: "#pk, #sk",
      ConsistentRead: true,
    },
  );
  for await (const page of pages) {
    const keys = (page.Items ?? []).map((item) => ({ pk: String(item.pk), sk: String(item.sk) }));
    found += keys.length;
    await deleteKeys(db, table, keys);
  }
  return found;
}
