/** The offboarding suite, unchanged, on the AWS shape: S3, DynamoDB, Cognito and Pinecone emulators, Lambda handlers. */
process.env.ENCLAVE_TEST_SHAPE = "aws";
await import("./offboarding.test.js");
