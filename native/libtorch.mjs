#!/usr/bin/env node
// Finds libtorch for the addon build: LIBTORCH=/path (a LibTorch download, or a pip torch
// install's torch/ folder, CUDA builds included), else Debian's libtorch-dev.
// `node native/libtorch.mjs include|libdir|cflags|libs|check` prints what binding.gyp needs.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const INSTALL_HINT =
  'streamnest needs libtorch (PyTorch C++). On Debian/Ubuntu: sudo apt-get install -y libtorch-dev libgloo-dev libopenblas0-pthread\n' +
  'Or point LIBTORCH at a LibTorch download or a pip torch folder: LIBTORCH=/path/to/libtorch npm ci';

function debianLayout() {
  const multiarch = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib'];
  const libdir = multiarch.find((d) => existsSync(join(d, 'libtorch_cpu.so')));
  if (!libdir || !existsSync('/usr/include/torch/csrc/api/include/torch/torch.h')) return null;
  return {
    root: '/usr',
    includes: ['/usr/include', '/usr/include/torch/csrc/api/include'],
    libdir,
    cmakeDir: join(libdir, 'cmake/Torch'),
  };
}

function customLayout(root) {
  const includes = [join(root, 'include'), join(root, 'include/torch/csrc/api/include')];
  const libdir = join(root, 'lib');
  if (!existsSync(join(includes[1], 'torch/torch.h')) || !existsSync(libdir)) return null;
  return { root, includes, libdir, cmakeDir: join(root, 'share/cmake/Torch') };
}

export function findLibtorch() {
  const env = process.env.LIBTORCH;
  const found = env ? customLayout(env) : debianLayout();
  if (!found) {
    const where = env ? `LIBTORCH=${env} holds no include/torch/csrc/api/include/torch/torch.h and lib/` : 'libtorch was not found';
    throw new Error(`${where}.\n${INSTALL_HINT}`);
  }
  // c10d's Gloo headers: shipped inside LibTorch/pip folders, a separate package (libgloo-dev) on Debian.
  if (!found.includes.some((d) => existsSync(join(d, 'gloo', 'algorithm.h')))) {
    throw new Error(`the Gloo headers (gloo/algorithm.h) are missing next to libtorch's headers.\n${INSTALL_HINT}`);
  }
  // The C++ ABI flag libtorch was built with (pip wheels before 2.7 use the old ABI).
  let abi = 1;
  const cfg = join(found.cmakeDir, 'TorchConfig.cmake');
  if (existsSync(cfg)) {
    const m = readFileSync(cfg, 'utf8').match(/_GLIBCXX_USE_CXX11_ABI=(\d)/);
    if (m) abi = Number(m[1]);
  }
  const libs = readdirSync(found.libdir);
  const cuda = libs.some((f) => f.startsWith('libtorch_cuda'));
  return { ...found, abi, cuda };
}

const what = process.argv[2];
if (what) {
  try {
    const lt = findLibtorch();
    const out = {
      include: lt.includes.join(' '),
      libdir: lt.libdir,
      cflags: `-D_GLIBCXX_USE_CXX11_ABI=${lt.abi}`,
      libs: ['-ltorch', '-ltorch_cpu', '-lc10', ...(lt.cuda ? ['-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed'] : [])].join(' '),
      rpath: `-Wl,-rpath,${lt.libdir}`,
      check: `libtorch: ${lt.root} (lib ${lt.libdir}, C++11 ABI ${lt.abi}${lt.cuda ? ', CUDA' : ''})`,
    }[what];
    if (out === undefined) throw new Error(`unknown query '${what}'`);
    console.log(out);
  } catch (e) {
    console.error(`\nstreamnest: ${e.message}\n`);
    process.exit(1);
  }
}
