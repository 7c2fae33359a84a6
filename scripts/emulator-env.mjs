// Prepares the environment the Firebase CLI needs to start the Firestore and Pub/Sub emulators, here and on
// a laptop. Why: firebase-tools 15 wants Java >= 21 and downloads each emulator on first use. Machines without
// internet (CI) often have the Google Cloud CLI's own emulators instead; the CLI accepts them through
// FIRESTORE_EMULATOR_BINARY_PATH / PUBSUB_EMULATOR_BINARY_PATH once wrapped in a launcher of our own.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';

const MIN_JAVA = 21;
const FIRESTORE_MAIN_CLASS = 'com.google.cloud.datastore.emulator.firestore.CloudFirestore';
const SDK_ROOTS = ['/usr/lib/google-cloud-sdk', '/usr/share/google-cloud-sdk', '/opt/google-cloud-sdk', join(homedir(), 'google-cloud-sdk')];
// Where each emulator lies in the Google Cloud CLI (under <sdk root>/platform) and the Debian package holding it.
const SDK_EMULATORS = {
  firestore: { path: ['cloud-firestore-emulator', 'cloud-firestore-emulator.jar'], debianPackage: 'google-cloud-cli-firestore-emulator' },
  pubsub: { path: ['pubsub-emulator', 'bin', 'cloud-pubsub-emulator'], debianPackage: 'google-cloud-cli-pubsub-emulator' },
};

function parseMajor(text) {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  const major = Number(m[1]);
  return major === 1 ? Number(m[2]) : major; // "1.8.0" style
}

function stderrJavaMajor(javaBin) {
  // `java -version` prints to stderr.
  try {
    const res = execFileSync('sh', ['-c', `"${javaBin}" -version 2>&1`], { encoding: 'utf8' });
    return parseMajor(res);
  } catch {
    return undefined;
  }
}

/** A bin folder holding a java >= 21, or undefined when the one on PATH already qualifies. */
function findJavaBinDir(env) {
  const onPath = stderrJavaMajor('java');
  if (onPath !== undefined && onPath >= MIN_JAVA) return undefined;
  const candidates = [];
  if (env.JAVA_HOME) candidates.push(join(env.JAVA_HOME, 'bin'));
  for (const base of ['/usr/lib/jvm', '/usr/local/lib/jvm', '/opt/java']) {
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base)) candidates.push(join(base, name, 'bin'));
  }
  let best;
  for (const dir of candidates) {
    const bin = join(dir, 'java');
    if (!existsSync(bin)) continue;
    const major = stderrJavaMajor(bin);
    if (major !== undefined && major >= MIN_JAVA && (!best || major > best.major)) best = { dir, major };
  }
  return best?.dir;
}

/**
 * Whether the Firebase CLI already holds its own copy of an emulator ('firestore', 'pubsub'): the exact file
 * it looks for before downloading, which is pinned per CLI release. A copy of another version would not stop
 * the download, so only this one counts; if the CLI's table cannot be read, nothing counts.
 */
function firebaseCliHasEmulator(name, env) {
  let info;
  try {
    info = createRequire(import.meta.url)('firebase-tools/lib/emulator/downloadableEmulatorInfo.json')[name];
  } catch {
    return false;
  }
  const relative = info?.binaryPathRelativeToCacheDir ?? info?.downloadPathRelativeToCacheDir;
  if (typeof relative !== 'string') return false;
  const cacheDir = env.FIREBASE_EMULATORS_PATH || join(homedir(), '.cache', 'firebase', 'emulators');
  return existsSync(join(cacheDir, relative));
}

function findInSdk(name) {
  for (const root of SDK_ROOTS) {
    const file = join(root, 'platform', ...SDK_EMULATORS[name].path);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** Debian packages to install so that no emulator needs the Firebase CLI's download (used by .ci/run). */
export function missingEmulatorPackages(env = process.env) {
  return Object.keys(SDK_EMULATORS)
    .filter((name) => !env[`${name.toUpperCase()}_EMULATOR_BINARY_PATH`] && !firebaseCliHasEmulator(name, env) && !findInSdk(name))
    .map((name) => SDK_EMULATORS[name].debianPackage);
}

/**
 * A one-line script that runs the SDK's Pub/Sub launcher. Why not point the CLI at the SDK's file itself:
 * the CLI chmods the file it is given to 0755, which fails (EPERM) for anyone but the owner of a system install.
 */
function writePubsubLauncher(path, sdkLauncher) {
  const quoted = `'${sdkLauncher.replaceAll("'", `'\\''`)}'`;
  writeFileSync(path, `#!/bin/sh\n# Written by scripts/emulator-env.mjs.\nexec ${quoted} "$@"\n`);
  chmodSync(path, 0o755);
}

/** Writes a stored (uncompressed) zip holding only META-INF/MANIFEST.MF. */
function writeLauncherJar(path, sdkJar) {
  // Manifest lines may not exceed 72 bytes; continuation lines start with one space.
  const wrap = (line) => {
    const out = [];
    let rest = Buffer.from(line);
    out.push(rest.subarray(0, 72));
    rest = rest.subarray(72);
    while (rest.length) {
      out.push(Buffer.concat([Buffer.from(' '), rest.subarray(0, 71)]));
      rest = rest.subarray(71);
    }
    return out.map((b) => b.toString()).join('\r\n');
  };
  const manifest = Buffer.from(
    ['Manifest-Version: 1.0', wrap(`Main-Class: ${FIRESTORE_MAIN_CLASS}`), wrap(`Class-Path: ${new URL(`file://${sdkJar}`).href}`), '', ''].join('\r\n'),
  );
  const name = Buffer.from('META-INF/MANIFEST.MF');
  const crc = crc32(manifest);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(manifest.length, 18);
  local.writeUInt32LE(manifest.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(10, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(manifest.length, 20);
  central.writeUInt32LE(manifest.length, 24);
  central.writeUInt16LE(name.length, 28);
  const localSize = local.length + name.length + manifest.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12);
  end.writeUInt32LE(localSize, 16);
  writeFileSync(path, Buffer.concat([local, name, manifest, central, name, end]));
}

/**
 * Returns a copy of `env` with PATH, FIRESTORE_EMULATOR_BINARY_PATH and PUBSUB_EMULATOR_BINARY_PATH set so
 * that `firebase emulators:*` can start Firestore and Pub/Sub on this machine. Logs what it chose.
 */
export function emulatorEnv(env = process.env, log = (m) => console.error(`[emulator] ${m}`)) {
  const out = { ...env };
  const javaDir = findJavaBinDir(env);
  if (javaDir) {
    out.PATH = `${javaDir}${delimiter}${env.PATH ?? ''}`;
    out.JAVA_HOME = resolve(javaDir, '..');
    log(`using Java from ${javaDir} (the Firebase CLI needs Java >= ${MIN_JAVA})`);
  }
  const dir = resolve('.emulators');
  if (!out.FIRESTORE_EMULATOR_BINARY_PATH && !firebaseCliHasEmulator('firestore', out)) {
    const sdkJar = findInSdk('firestore');
    if (sdkJar) {
      mkdirSync(dir, { recursive: true });
      const launcher = join(dir, 'firestore-launcher.jar');
      writeLauncherJar(launcher, sdkJar);
      out.FIRESTORE_EMULATOR_BINARY_PATH = launcher;
      log(`using the Google Cloud CLI's Firestore emulator (${sdkJar})`);
    } else {
      log('no local Firestore emulator found: the Firebase CLI will download its own');
    }
  }
  // The launcher written here is a shell script: on Windows the CLI keeps its own way.
  if (!out.PUBSUB_EMULATOR_BINARY_PATH && !firebaseCliHasEmulator('pubsub', out) && process.platform !== 'win32') {
    const sdkLauncher = findInSdk('pubsub');
    if (sdkLauncher) {
      mkdirSync(dir, { recursive: true });
      const launcher = join(dir, 'pubsub-launcher.sh');
      writePubsubLauncher(launcher, sdkLauncher);
      out.PUBSUB_EMULATOR_BINARY_PATH = launcher;
      log(`using the Google Cloud CLI's Pub/Sub emulator (${sdkLauncher})`);
    } else {
      log('no local Pub/Sub emulator found: the Firebase CLI will download its own');
    }
  }
  return out;
}
