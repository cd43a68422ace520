import { createPrivateKey } from "node:crypto";
import { startAwsStack } from "../support/aws-stack.js";
import { installBedrockMock } from "../support/fake-bedrock.js";
import { startLambdaApp } from "../support/lambda.js";
import { describeRestApi, REST_SUITE_SETTINGS } from "./rest-api.suite.js";

/**
 * The same REST suite against the AWS shape: requests enter the HTTP Lambda handler as API Gateway v2
 * events and jobs reach the worker handler as SQS events, over dynalite, s3rver, cognito-local, a fake
 * SQS and a fake Pinecone, with Titan embeddings mocked in-process.
 */
describeRestApi("AWS shape through the Lambda handlers", async () => {
  const bedrock = installBedrockMock({ dimensions: 256 });
  const stack = await startAwsStack(REST_SUITE_SETTINGS);
  const app = await startLambdaApp(stack.env);
  return {
    baseUrl: app.baseUrl,
    fetch: app.fetch,
    confirmationCode: async (email) => {
      const code = stack.cognito.codeFor(email);
      if (!code) throw new Error(`cognito-local sent no code to ${email}`);
      return code;
    },
    signingKey: () => createPrivateKey(stack.cognito.signingKeyPem),
    servesJwks: false,
    stop: async () => {
      await app.stop();
      await stack.stop();
      bedrock.restore();
    },
  };
});
