/** The Slack limits suite, unchanged, on the AWS shape (Lambda handlers over the emulators). */
process.env.ENCLAVE_TEST_SHAPE = "aws";
await import("./slack-limits.test.js");
