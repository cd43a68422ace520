import { startAwsStack } from "../support/aws-stack.js";
import { installBedrockMock } from "../support/fake-bedrock.js";
import { lambdaFetch, startLambdaApp } from "../support/lambda.js";
import { describeThrottling, THROTTLING_SUITE_SETTINGS } from "./throttling.suite.js";

/**
 * The same throttling suite against the AWS shape: requests enter the HTTP Lambda handler as API
 * Gateway v2 events whose `requestContext.http.sourceIp` is the test's client address, and the limits
 * are counted in DynamoDB (dynalite).
 */
describeThrottling("AWS shape through the Lambda handlers", async () => {
  const bedrock = installBedrockMock({ dimensions: 256 });
  const stack = await startAwsStack(THROTTLING_SUITE_SETTINGS);
  const app = await startLambdaApp(stack.env);
  return {
    baseUrl: app.baseUrl,
    from: (address) => lambdaFetch(app.http, new URL(app.baseUrl).host, address),
    confirmationCode: async (email) => {
      const code = stack.cognito.codeFor(email);
      if (!code) throw new Error(`cognito-local sent no code to ${email}`);
      return code;
    },
    limiter: (await app.http.container()).rateLimiter,
    stop: async () => {
      await app.stop();
      await stack.stop();
      bedrock.restore();
    },
  };
});
