/** Ingest progress on the AWS shape: the worker handler writes it to DynamoDB, the HTTP handler serves it. */
process.env.ENCLAVE_TEST_SHAPE = "aws";
await import("./ingest-progress.test.js");
