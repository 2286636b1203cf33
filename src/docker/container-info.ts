/**
 * The `Info` object the daemon sends with StartLogging and ReadLogs (moby daemon/logger/loginfo.go).
 * Go field names, no JSON tags; the daemon may send null for empty slices and maps.
 */
export interface ContainerInfo {
  Config: Record<string, string> | null;
  ContainerID: string;
  ContainerName: string;
  ContainerEntrypoint: string;
  ContainerArgs: string[] | null;
  ContainerImageID: string;
  ContainerImageName: string;
  ContainerCreated: string;
  ContainerEnv: string[] | null;
  ContainerLabels: Record<string, string> | null;
  LogPath: string;
  DaemonName: string;
}
