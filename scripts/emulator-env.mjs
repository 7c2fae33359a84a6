// Prepares the environment the Firebase CLI needs to start the Firestore emulator, here and on a laptop.
// Why: firebase-tools 15 wants Java >= 21 and downloads its emulator jar on first use. Machines without
// internet (CI) often have the Google Cloud CLI's own emulator jar instead; the CLI accepts it through
// FIRESTORE_EMULATOR_BINARY_PATH once wrapped in a manifest-only launcher jar (that jar has no Main-Class).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';

const MIN_JAVA = 21;
const FIRESTORE_MAIN_CLASS = 'com.google.cloud.datastore.emulator.firestore.CloudFirestore';
const SDK_ROOTS = ['/usr/lib/google-cloud-sdk', '/usr/share/google-cloud-sdk', '/opt/google-cloud-sdk', join(homedir(), 'google-cloud-sdk')];

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

function firebaseCachedJarExists() {
  const dir = join(homedir(), '.cache', 'firebase', 'emulators');
  return existsSync(dir) && readdirSync(dir).some((f) => /^cloud-firestore-emulator-v[\d.]+\.jar$/.test(f));
}

function findSdkEmulatorJar() {
  for (const root of SDK_ROOTS) {
    const jar = join(root, 'platform', 'cloud-firestore-emulator', 'cloud-firestore-emulator.jar');
    if (existsSync(jar)) return jar;
  }
  return undefined;
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
 * Returns a copy of `env` with PATH and FIRESTORE_EMULATOR_BINARY_PATH set so that
 * `firebase emulators:*` can start Firestore on this machine. Logs what it chose.
 */
export function emulatorEnv(env = process.env, log = (m) => console.error(`[emulator] ${m}`)) {
  const out = { ...env };
  const javaDir = findJavaBinDir(env);
  if (javaDir) {
    out.PATH = `${javaDir}${delimiter}${env.PATH ?? ''}`;
    out.JAVA_HOME = resolve(javaDir, '..');
    log(`using Java from ${javaDir} (the Firebase CLI needs Java >= ${MIN_JAVA})`);
  }
  if (!out.FIRESTORE_EMULATOR_BINARY_PATH && !firebaseCachedJarExists()) {
    const sdkJar = findSdkEmulatorJar();
    if (sdkJar) {
      const dir = resolve('.emulators');
      mkdirSync(dir, { recursive: true });
      const launcher = join(dir, 'firestore-launcher.jar');
      writeLauncherJar(launcher, sdkJar);
      out.FIRESTORE_EMULATOR_BINARY_PATH = launcher;
      log(`using the Google Cloud CLI's Firestore emulator (${sdkJar})`);
    } else {
      log('no local emulator jar found: the Firebase CLI will download its own');
    }
  }
  return out;
}
