import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import { AppError } from "../../domain/errors.js";
import { isTenantId, type TenantId } from "../../domain/tenant.js";

/**
 * Partition key of a tenant-owned item: `<tenant_id>#<kind>`. The tenant id leads every such key so the
 * tenant role's `dynamodb:LeadingKeys` condition pins a session to its own tenant's items.
 */
export function tenantPk(tenant: TenantId, kind?: string): string {
  if (!isTenantId(tenant))
    throw new AppError("internal", "Something went wrong on our side.", { detail: "invalid tenant id for a key" });
  return kind === undefined ? tenant : `${tenant}#${kind}`;
}

export const isConditionFailure = (error: unknown): boolean =>
  (error as { name?: string } | undefined)?.name === "ConditionalCheckFailedException";

/** Runs a conditional write; false when its condition failed. */
export async function conditional(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** Every item of a query, following LastEvaluatedKey. */
export async function queryAll(
  client: DynamoDBDocumentClient,
  input: QueryCommandInput,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
  } while (start);
  return items;
}

/** DynamoDB TTL attributes are epoch seconds. */
export const epochSeconds = (date: Date | number): number =>
  Math.floor((typeof date === "number" ? date : date.getTime()) / 1000);
