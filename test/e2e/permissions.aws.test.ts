/** The permission matrix, unchanged, on the AWS shape (Lambda handlers over the emulators, Pinecone's filter). */
process.env.ENCLAVE_TEST_SHAPE = "aws";
await import("./permissions.test.js");
