// The byte streams live in src/data/byte-stream.ts (with the tar reader, src/data/tar-stream.ts, which tarred audio
// datasets share); re-exported here for the .nemo archive code and its callers.
export * from '../data/byte-stream.js';
