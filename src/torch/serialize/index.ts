// Serialisation formats: torch.save zip files (with a restricted unpickler), .npy arrays, atomic file writes.
export {
  loadTorchSave,
  saveTorchSave,
  torchSaveStream,
  loadStateDict,
  saveStateDict,
  TorchSaveError,
  type PickleValue,
  type LoadTorchSaveOptions,
  type SaveOptions,
  type UnknownGlobals,
} from './torch-save.js';
export { parseNpy, readNpy, toNpy, writeNpy, NpyError } from './npy.js';
export { writeFileAtomic } from './atomic-file.js';
export {
  ZipArchive,
  ZipError,
  ZipLocalScan,
  sequentialReader,
  writeZip,
  zipStream,
  type LazyZipEntry,
  type SizedChunks,
  type SequentialReader,
  type ZipEntries,
  type ZipEntry,
  type ZipWriteEntry,
  type ZipWriteOptions,
} from './zip.js';
export { FileRangeSource, MemorySource, asRandomAccess, type RandomAccessSource } from './random-access.js';
export { PickleError } from './pickle.js';
