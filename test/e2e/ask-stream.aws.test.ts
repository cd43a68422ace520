/** The event-stream and conversation tests on the AWS shape: the Lambda handler buffers the response. */
process.env.ENCLAVE_TEST_SHAPE = "aws";
await import("./ask-stream.test.js");
