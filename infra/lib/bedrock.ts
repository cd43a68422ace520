import type { Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";

/**
 * Geographic prefixes of system-defined cross-region inference profiles (`us.amazon.nova-micro-v1:0`).
 * Some models (Nova in most regions) can only be invoked on demand through such a profile.
 */
const INFERENCE_PROFILE_PREFIXES = ["us", "us-gov", "eu", "apac", "jp", "au", "ca", "global"];

/** Splits `us.amazon.nova-micro-v1:0` into its profile prefix and the foundation model id behind it. */
export function parseModelId(modelId: string): { profilePrefix?: string; foundationModelId: string } {
  const dot = modelId.indexOf(".");
  const head = modelId.slice(0, dot);
  if (dot > 0 && INFERENCE_PROFILE_PREFIXES.includes(head)) {
    return { profilePrefix: head, foundationModelId: modelId.slice(dot + 1) };
  }
  return { foundationModelId: modelId };
}

/**
 * `bedrock:InvokeModel` (which also authorises Converse) on exactly the configured models.
 *
 * A foundation model id gives one statement on `foundation-model/<id>` in this region. An inference
 * profile id gives a statement on the profile, plus one on the foundation model in whichever region the
 * profile routes to (hence the region wildcard; the model id stays fixed), usable only through that
 * profile (`bedrock:InferenceProfileArn`).
 */
export function bedrockInvokeStatements(stack: Stack, modelIds: readonly string[]): iam.PolicyStatement[] {
  const { partition, region, account } = stack;
  const statements: iam.PolicyStatement[] = [];
  const direct = new Set<string>();
  for (const modelId of new Set(modelIds)) {
    const { profilePrefix, foundationModelId } = parseModelId(modelId);
    if (profilePrefix === undefined) {
      direct.add(`arn:${partition}:bedrock:${region}::foundation-model/${foundationModelId}`);
      continue;
    }
    const profileArn = `arn:${partition}:bedrock:${region}:${account}:inference-profile/${modelId}`;
    statements.push(
      new iam.PolicyStatement({ actions: ["bedrock:InvokeModel"], resources: [profileArn] }),
      new iam.PolicyStatement({
        actions: ["bedrock:InvokeModel"],
        resources: [`arn:${partition}:bedrock:*::foundation-model/${foundationModelId}`],
        conditions: { StringEquals: { "bedrock:InferenceProfileArn": profileArn } },
      }),
    );
  }
  if (direct.size > 0) {
    statements.unshift(new iam.PolicyStatement({ actions: ["bedrock:InvokeModel"], resources: [...direct] }));
  }
  return statements;
}
