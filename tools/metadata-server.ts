// A tool whose Google clients all talk to the emulators needs no credentials, so nothing should look for a metadata
// server: otherwise google-auth-library probes one (google-gax asks it for the credentials' universe domain even in
// emulator mode), a network wait that ends in a MetadataLookupWarning on any machine outside Google Cloud.
// METADATA_SERVER_DETECTION=none is gcp-metadata's own switch for "there is none"; child processes inherit it.

/** Turns the probe off when the emulators are in use; a value already set (by the caller) is kept. */
export function noMetadataServerWithEmulators(
  env: Record<string, string | undefined> = process.env,
): void {
  if (env.FIRESTORE_EMULATOR_HOST || env.PUBSUB_EMULATOR_HOST)
    env.METADATA_SERVER_DETECTION ??= 'none';
}
