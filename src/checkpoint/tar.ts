// The tar reader and writer live in src/data/tar-stream.ts (tarred audio datasets read them too, and src/data may not
// import from src/checkpoint); re-exported here for the .nemo archive code and its callers.
export * from '../data/tar-stream.js';
