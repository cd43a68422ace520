import { App } from "aws-cdk-lib";
import { EnclaveStack } from "../lib/enclave-stack.js";
import { settingsFromContext } from "../lib/settings.js";

/**
 * The Enclave CDK app. The stack is environment-agnostic (no account or region baked in, no lookups), so
 * `cdk synth` works offline without credentials; `cdk deploy` uses the account and region of the current
 * AWS profile. Settings come from context: `npx cdk deploy -c slackClientId=123.456 -c pineconeIndex=enclave`.
 */
const app = new App();
const stackName = (app.node.tryGetContext("stackName") as string | undefined) ?? "Enclave";

new EnclaveStack(app, stackName, {
  description: "Enclave: multi-tenant Slack knowledge bot (API Gateway, Lambda, SQS, S3, DynamoDB, Cognito, Bedrock)",
  bundle: true,
  settings: settingsFromContext((key) => app.node.tryGetContext(key)),
});
